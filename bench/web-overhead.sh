#!/usr/bin/env bash
# What serving the live page costs the load engine (issue 22: under 2% of its rate).
#
# Closed loop, `iris-lab load --wait 0` against `iris-lab serve` on loopback, the server on
# core 0, the engine on core 1 with one runtime thread: the engine is CPU-bound, so whatever
# the page takes shows as requests/s lost. Three kinds of run, in the same script run:
#   plain  no page;
#   web    `--web` (the page served, nobody looking);
#   page   `--web` with PAGES pages open: each an SSE client reading /events (what a browser
#          tab does), after one GET /api/state (the page's first view).
# ROUNDS rounds of the three, the order rotated each round (plain web page, web page plain,
# page plain web, ...) so that the drift of the machine hits every kind alike. The figures are
# the medians over rounds of rps(web) / rps(plain) and rps(page) / rps(plain); each is said to
# be under the issue's 2% (ratio >= 0.98) or not.
#
# Needs: curl, python3, taskset (util-linux), 2 cores. Only 127.0.0.1 is targeted.
#
# Usage: bench/web-overhead.sh [--debug]
#   --debug   use target/debug/iris-lab (to check the script runs; its figures mean nothing)
#   ROUNDS=5 SECS=10 USERS=150 PAGES=1 IRIS=path/to/iris-lab override the defaults.
set -euo pipefail

cd "$(dirname "$0")/.."
IRIS=${IRIS:-target/release/iris-lab}
if [ "${1:-}" = --debug ]; then IRIS=target/debug/iris-lab; fi
USERS=${USERS:-150}
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-5}
PAGES=${PAGES:-1}

for tool in curl python3 taskset; do
    command -v "$tool" >/dev/null || { echo "bench/web-overhead.sh: $tool is missing (apt-get install curl python3 util-linux)" >&2; exit 2; }
done
[ -x "$IRIS" ] || { echo "bench/web-overhead.sh: $IRIS is missing: cargo build --release (or --debug after cargo build)" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "bench/web-overhead.sh: needs 2 cores (server on core 0, engine on core 1)" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# The server, on core 0.
taskset -c 0 "$IRIS" serve --addr 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$WORK/serve.out" | head -1)
[ -n "$ADDR" ] || { echo "bench/web-overhead.sh: iris-lab serve did not start:" >&2; cat "$WORK/serve.err" >&2; exit 1; }
HOST=$ADDR
case $HOST in http*) ;; *) HOST="http://$HOST" ;; esac

# The URL the run's page is at, from load's stderr.
page_url() {
    local err=$1
    for _ in $(seq 100); do
        local url
        url=$(sed -n "s/^web: the run's page is at //p" "$err" | head -1)
        [ -n "$url" ] && { echo "$url"; return; }
        sleep 0.1
    done
    echo "bench/web-overhead.sh: the page did not come up" >&2
    exit 1
}

# One run of kind $1; prints its steady requests/s.
run() {
    local kind=$1 n=$RANDOM web=() watchers=()
    [ "$kind" != plain ] && web=(--web 127.0.0.1:0)
    TOKIO_WORKER_THREADS=1 taskset -c 1 "$IRIS" load --host "$HOST" --users "$USERS" \
        --spawn-rate 100000 --duration "${SECS}s" --wait 0 --out-dir "$WORK/runs" \
        --no-cluster --format json "${web[@]}" >"$WORK/$n.json" 2>"$WORK/$n.err" &
    local pid=$!
    if [ "$kind" = page ]; then
        local url
        url=$(page_url "$WORK/$n.err")
        for _ in $(seq "$PAGES"); do
            (curl -s "${url}api/state" >/dev/null; exec curl -sN "${url}events" >/dev/null 2>&1) &
            watchers+=($!)
        done
    fi
    wait "$pid" || { echo "bench/web-overhead.sh: the $kind run failed:" >&2; cat "$WORK/$n.err" >&2; exit 1; }
    for w in "${watchers[@]}"; do kill "$w" 2>/dev/null || true; done
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(round(r["throughput"]["steady_rps"] or r["aggregate"]["rps"], 1))' "$WORK/$n.json"
}

echo "== $ROUNDS rounds of ${SECS}s runs, $USERS users (--wait 0) against iris-lab serve at $HOST; $PAGES page(s) open on the page runs; $IRIS"
KINDS=(plain web page)
: >"$WORK/figures"
for i in $(seq 0 $((ROUNDS - 1))); do
    declare -A rps=()
    for j in 0 1 2; do
        kind=${KINDS[$(((i + j) % 3))]}
        rps[$kind]=$(run "$kind")
    done
    echo "round $((i + 1)): plain ${rps[plain]} req/s, web ${rps[web]} req/s, page ${rps[page]} req/s"
    echo "${rps[plain]} ${rps[web]} ${rps[page]}" >>"$WORK/figures"
    unset rps
done
python3 - "$WORK/figures" <<'EOF'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
for name, col in (("--web, no page open", 1), ("--web, page open", 2)):
    m = statistics.median(r[col] / r[0] for r in rows)
    verdict = "under" if m >= 0.98 else "NOT under"
    print(f"{name}: median ratio to plain {m:.4f}, cost {100 * (1 - m):.2f}% of the engine's rate: {verdict} the 2% target")
EOF
