#!/usr/bin/env bash
# Builds the service image and checks it running the way Kubernetes runs it (service/test/image-check.ts).
# Starts dockerd when none is running, builds an offline base image (tools/build-base-image.sh)
# unless BASE_IMAGE is given (the GitHub workflow passes the official one), and stops everything it
# started, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# Test for what is run: the daemon (the machine image may ship a `docker` client without one) and
# the client; debootstrap for tools/build-base-image.sh.
need=()
{ command -v dockerd && command -v docker; } >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

started_dockerd=""
cleanup() {
    docker rmi -f cli-platform-service:ci >/dev/null 2>&1 || true
    if [ -n "$started_dockerd" ]; then
        kill "$started_dockerd" 2>/dev/null || true
        wait "$started_dockerd" 2>/dev/null || true
    fi
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
    echo "image: starting dockerd"
    dockerd >/tmp/cli-platform-dockerd.log 2>&1 &
    started_dockerd=$!
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "image: dockerd did not start" >&2; tail -20 /tmp/cli-platform-dockerd.log >&2; exit 1; }
fi

base="${BASE_IMAGE:-$(bash tools/build-base-image.sh)}"
echo "image: building service/ on $base"
docker build -q --network host --build-arg "BASE_IMAGE=$base" -t cli-platform-service:ci service >/dev/null
echo "image: size $(docker image inspect cli-platform-service:ci --format '{{.Size}}' | awk '{printf "%.1f MB", $1/1e6}')"
(cd service && IMAGE=cli-platform-service:ci npx ts-node --transpile-only test/image-check.ts)
