#!/usr/bin/env bash
# End-to-end check of a deployed platform in any cluster you can reach with kubectl:
#   tools/e2e/e2e.sh [--context CONTEXT] [--stack STACK] [--via gateway|service] [--host NAME]
#
# Port-forwards (127.0.0.1 only) to the Gateway's Envoy data-plane Service (or, with
# --via service, straight to cli-api), to cli-api (the CLI and /metrics) and to Prometheus, then
# runs `tools/e2e/check.ts e2e`: /health, /ready, `cli-platform status`, POST /evolve, a run of the
# new command, the api's /metrics and a Prometheus query. The port-forwards stop on exit.
#
# The token: CLI_PLATFORM_TOKEN, else `pulumi stack output apiToken --show-secrets`. The host the
# Gateway routes: --host, else the host of `pulumi stack output apiUrl`. The command's expected
# output suits the fake LLM (tools/e2e/fake-llm); against a real LLM pass E2E_EXPECT if needed.
# Needs: kubectl, node with `npm ci` done, and the CLI built (npm --prefix service run build) or
# CLI_PLATFORM_CLI set to a command line that runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."

context=""
stack=""
via="gateway"
host=""
namespace="cli-platform"
monitoring_namespace="monitoring"
prometheus_service="kube-prometheus-stack-prometheus"

usage() {
    echo "usage: $0 [--context CONTEXT] [--stack STACK] [--via gateway|service] [--host NAME]" >&2
    exit 2
}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --context) context="${2:?--context needs a value}"; shift 2 ;;
    --stack) stack="${2:?--stack needs a value}"; shift 2 ;;
    --via) via="${2:?--via needs a value}"; shift 2 ;;
    --host) host="${2:?--host needs a value}"; shift 2 ;;
    -h | --help) usage ;;
    *) echo "e2e: unknown argument $1" >&2; usage ;;
    esac
done
[[ "$via" == gateway || "$via" == service ]] || { echo "e2e: --via must be gateway or service, got \"$via\"" >&2; exit 2; }
# The CLI the check runs: CLI_PLATFORM_CLI (a command line), else the built one.
cli="${CLI_PLATFORM_CLI:-node service/dist/cli.js}"
if [[ -z "${CLI_PLATFORM_CLI:-}" && ! -f service/dist/cli.js ]]; then
    echo "e2e: service/dist/cli.js is missing: run npm --prefix service ci && npm --prefix service run build" >&2
    exit 2
fi

ctx=()
[[ -n "$context" ]] && ctx=(--context "$context")
pulumi_() { pulumi "$@" ${stack:+--stack "$stack"}; }

if [[ -z "${CLI_PLATFORM_TOKEN:-}" ]]; then
    CLI_PLATFORM_TOKEN="$(pulumi_ stack output apiToken --show-secrets)"
    # In GitHub Actions, keep the token out of the log.
    [[ -n "${GITHUB_ACTIONS:-}" ]] && echo "::add-mask::$CLI_PLATFORM_TOKEN"
fi
export CLI_PLATFORM_TOKEN

pids=()
# Stop the port-forwards and wait for them, so their ports are free when this script returns.
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# forward NAMESPACE SERVICE LOCAL_PORT REMOTE_PORT: a background port-forward, up once the port answers.
forward() {
    local log
    log="$(mktemp)"
    kubectl "${ctx[@]}" -n "$1" port-forward --address 127.0.0.1 "svc/$2" "$3:$4" >"$log" 2>&1 &
    pids+=("$!")
    # Up to 30 s, checked every 0.1 s (a port-forward is usually up within a few hundred ms).
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$3") 2>/dev/null; then return 0; fi
        if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "e2e: port-forward to $1/svc/$2:$4 did not come up:" >&2
    cat "$log" >&2
    exit 1
}

# Four free local ports (the OS picks them; nothing else on the machine is disturbed).
read -r gateway_port api_port metrics_port prometheus_port < <(node -e '
const net = require("node:net");
Promise.all([0, 1, 2, 3].map(() => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => ok(s)); })))
    .then((servers) => { console.log(servers.map((s) => s.address().port).join(" ")); servers.forEach((s) => s.close()); });')

forward "$namespace" cli-api "$api_port" 80
forward "$namespace" cli-api "$metrics_port" 8080
forward "$monitoring_namespace" "$prometheus_service" "$prometheus_port" 9090

args=(--cli "$cli" --cli-url "http://127.0.0.1:$api_port" --metrics-url "http://127.0.0.1:$metrics_port/metrics" --prometheus-url "http://127.0.0.1:$prometheus_port" --namespace "$namespace")
if [[ -n "${E2E_EXPECT:-}" ]]; then args+=(--expect "$E2E_EXPECT"); fi
if [[ "$via" == gateway ]]; then
    if [[ -z "$host" ]]; then
        api_url="$(pulumi_ stack output apiUrl)"
        host="$(node -e 'try { console.log(new URL(process.argv[1]).hostname) } catch { process.exit(1) }' "$api_url")" ||
            { echo "e2e: the stack's apiUrl \"$api_url\" is not a URL; pass --host" >&2; exit 2; }
    fi
    # Envoy Gateway labels the data-plane Service of each Gateway with the Gateway's name.
    gateway_svc="$(kubectl "${ctx[@]}" get svc -A -l gateway.envoyproxy.io/owning-gateway-name \
        -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.spec.ports[*].port}{"\n"}{end}')"
    if [[ -z "$gateway_svc" ]]; then
        echo "e2e: no Envoy Gateway data-plane Service (label gateway.envoyproxy.io/owning-gateway-name) in the cluster; use --via service to go straight to cli-api" >&2
        exit 1
    fi
    if [[ "$(wc -l <<<"$gateway_svc")" -gt 1 ]]; then
        echo "e2e: more than one Gateway data-plane Service, pass the context of a cluster with one:" >&2
        echo "$gateway_svc" >&2
        exit 1
    fi
    read -r gateway_ns gateway_name gateway_ports <<<"$gateway_svc"
    # The plain-HTTP listener: port 80 when the Service has it, else its first port.
    remote_port="${gateway_ports%% *}"
    for p in $gateway_ports; do [[ "$p" == 80 ]] && remote_port=80; done
    forward "$gateway_ns" "$gateway_name" "$gateway_port" "$remote_port"
    echo "e2e: through the Gateway ($gateway_ns/$gateway_name:$remote_port, Host: $host)"
    args+=(--api-url "http://127.0.0.1:$gateway_port" --host "$host")
else
    echo "e2e: straight to $namespace/svc/cli-api (no Gateway)"
    args+=(--api-url "http://127.0.0.1:$api_port")
fi

node -r ./tools/register.js tools/e2e/check.ts e2e "${args[@]}"
