#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine: the system packages (real
# PostgreSQL and Redis servers for the service tests, promtool for the alert rules, shellcheck and
# yamllint for the repository checks, python3 for the OpenSearch bootstrap script's syntax check,
# jq for the drift script's test) when missing and we may install them, and both npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each check tests the program the tests run (service/test/support.ts, tests/*.test.ts).
need=()
command -v redis-server >/dev/null || need+=(redis-server)
{ ls /usr/lib/postgresql/*/bin/initdb && ls /usr/lib/postgresql/*/bin/pg_ctl && ls /usr/lib/postgresql/*/bin/createdb && id -u postgres; } >/dev/null 2>&1 || need+=(postgresql)
command -v promtool >/dev/null || need+=(prometheus)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v yamllint >/dev/null || need+=(yamllint)
command -v python3 >/dev/null || need+=(python3)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        echo "setup: missing system packages: ${need[*]} (install them with your package manager)" >&2
        exit 1
    fi
fi

npm ci --no-audit --no-fund
npm --prefix service ci --no-audit --no-fund
