#!/usr/bin/env bash
# Renders dev, staging and prod offline at a base commit and at the working tree, and prints the diff of
# their manifests as Markdown (for a pull request's job summary). Needs no cloud credentials.
# Usage: tools/manifest-diff.sh <base-ref>
set -euo pipefail
cd "$(dirname "$0")/.."
base_ref="${1:?usage: tools/manifest-diff.sh <base-ref>}"

work="$(mktemp -d)"
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/base" "$base_ref" >/dev/null 2>&1

render() { # dir stack out
    (cd "$1" && { [ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null; } && npm run --silent render -- "$2" --out "$3" >/dev/null)
}

echo "## Rendered manifests: base ${base_ref:0:12} → this pull request"
for stack in dev staging prod; do
    render "$work/base" "$stack" "$work/base-out/$stack" || { echo "_base branch does not render ${stack}_"; continue; }
    render "$PWD" "$stack" "$work/pr-out/$stack"
    echo
    echo "### ${stack}"
    if diff -q "$work/base-out/$stack/manifests.yaml" "$work/pr-out/$stack/manifests.yaml" >/dev/null; then
        echo "No change to the Kubernetes objects."
    else
        echo '```diff'
        diff -u --label "base/${stack}" --label "pr/${stack}" "$work/base-out/$stack/manifests.yaml" "$work/pr-out/$stack/manifests.yaml" || true
        echo '```'
    fi
done
