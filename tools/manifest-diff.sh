#!/usr/bin/env bash
# Renders every stack (each Pulumi.<stack>.yaml of the working tree) offline at a base commit and at
# the working tree, and prints as Markdown (for a pull request's job summary) the diff of their
# manifests and their monthly cost base -> head per line item (tools/cost). Needs no cloud credentials.
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

echo "## Rendered manifests and monthly cost: base ${base_ref:0:12} → this pull request"
for file in Pulumi.*.yaml; do
    stack="${file#Pulumi.}"
    stack="${stack%.yaml}"
    render "$PWD" "$stack" "$work/pr-out/$stack"
    echo
    echo "### ${stack}"
    if ! render "$work/base" "$stack" "$work/base-out/$stack"; then
        echo "_The base branch does not render ${stack}._"
    elif diff -q "$work/base-out/$stack/manifests.yaml" "$work/pr-out/$stack/manifests.yaml" >/dev/null; then
        echo "No change to the Kubernetes objects."
    else
        echo '```diff'
        diff -u --label "base/${stack}" --label "pr/${stack}" "$work/base-out/$stack/manifests.yaml" "$work/pr-out/$stack/manifests.yaml" || true
        echo '```'
    fi
    echo
    node -r ./tools/register.js tools/cost/report.ts diff "$stack" "$work/base-out/$stack/cost.json" "$work/pr-out/$stack/cost.json"
done
