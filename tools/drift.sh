#!/usr/bin/env bash
# Drift check of one stack (drift.yml runs it nightly for dev, staging and prod):
#   tools/drift.sh <stack> [<fully qualified stack, e.g. my-org/cli-platform/prod>]
#
# Runs `pulumi preview --refresh --expect-no-changes` (the refresh reads the real resources, so a
# change made outside Pulumi shows up as a proposed change) and keeps one GitHub issue per stack,
# titled "Drift: stack <stack> differs from its program" and labelled `drift`:
#   drift  opens it with the preview output, or updates its body and comments on it;
#   clean  closes it, if one is open;
#   error  (the preview failed for another reason) leaves issues alone and exits 1.
# Drift exits 0: the issue is the signal, a red nightly run is kept for real failures.
# Needs: pulumi (logged in), gh with GH_TOKEN (issues: write).
set -euo pipefail

stack="${1:?usage: tools/drift.sh <stack> [<fully qualified stack>]}"
target="${2:-$stack}"
title="Drift: stack $stack differs from its program"
label="drift"
run_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-local}/actions/runs/${GITHUB_RUN_ID:-0}"
# GitHub caps an issue body at 65536 characters; keep the end of the output, where the summary is.
max_output=60000

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
preview="$work/preview.txt"

rc=0
pulumi preview --refresh --expect-no-changes --diff --non-interactive --color never --stack "$target" >"$preview" 2>&1 || rc=$?
cat "$preview"

if [[ $rc -eq 0 ]]; then
    outcome=clean
elif grep -Eq 'no changes were expected( for [a-z]+)? but changes were proposed' "$preview"; then
    outcome=drift
else
    echo "drift: the preview of stack $stack failed (exit $rc) for another reason than drift; see the output above" >&2
    exit 1
fi
echo "drift: stack $stack is $outcome"

existing="$(gh issue list --state open --label "$label" --limit 200 --json number,title \
    --jq ".[] | select(.title == \"$title\") | .number" | head -n 1)" || {
    echo "drift: cannot list the repository's issues (gh issue list failed)" >&2
    exit 1
}

if [[ "$outcome" == clean ]]; then
    if [[ -n "$existing" ]]; then
        gh issue close "$existing" --comment "Clean again: \`pulumi preview --refresh\` of stack $stack proposes no changes ($run_url)."
        echo "drift: closed issue #$existing"
    fi
    exit 0
fi

body="$work/body.md"
{
    echo "\`pulumi preview --refresh --expect-no-changes\` of stack **$stack** proposes changes: the resources differ from what the program declares."
    echo
    echo "Run: $run_url ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
    echo
    echo "Either bring the change into the program and stack config, or run \`pulumi up\` to put the resources back. This issue closes itself when a nightly check finds the stack clean."
    echo
    if [[ $(wc -c <"$preview") -gt $max_output ]]; then echo "(the output is cut to its last $max_output bytes)"; fi
    echo '````'
    printf '%s\n' "$(tail -c "$max_output" "$preview")"
    echo '````'
} >"$body"

gh label create "$label" --color D93F0B --description "A stack differs from its program (drift.yml)" --force >/dev/null
if [[ -n "$existing" ]]; then
    gh issue edit "$existing" --body-file "$body" >/dev/null
    gh issue comment "$existing" --body "Still drifting ($run_url)." >/dev/null
    echo "drift: updated issue #$existing"
else
    gh issue create --title "$title" --label "$label" --body-file "$body"
fi
