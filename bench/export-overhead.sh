#!/usr/bin/env bash
# What exporting a run costs the load engine (issue 30: its rate within 2% of without).
#
# Closed loop, `iris-lab load --wait 0` against `iris-lab serve` on loopback, the server (and
# the receivers) on core 0, the engine on core 1 with one runtime thread: the engine is
# CPU-bound, so whatever the exporter takes shows as requests/s lost. Three kinds of run:
#   plain   no exporter;
#   scrape  `--metrics-addr`, scraped every second by curl (what Prometheus does, 1 s interval);
#   push    `--export prometheus-rw=URL --export otlp=URL` to a receiver on core 0 answering
#           204 (python3's http.server), one push a second to each.
# ROUNDS rounds of the three, the order rotated each round so that the machine's drift hits
# every kind alike. The figures are the medians over rounds of rps(kind) / rps(plain), each
# said to be within the issue's 2% (ratio >= 0.98) or not.
#
# Needs: curl, python3, taskset (util-linux), 2 cores. Only 127.0.0.1 is targeted. Do not run
# it while something compiles.
#
# Usage: bench/export-overhead.sh [--debug]
#   --debug   use target/debug/iris-lab (to check the script runs; its figures mean nothing)
#   ROUNDS=5 SECS=10 USERS=150 IRIS=path/to/iris-lab override the defaults.
set -euo pipefail

cd "$(dirname "$0")/.."
IRIS=${IRIS:-target/release/iris-lab}
if [ "${1:-}" = --debug ]; then IRIS=target/debug/iris-lab; fi
USERS=${USERS:-150}
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-5}

for tool in curl python3 taskset; do
    command -v "$tool" >/dev/null || { echo "bench/export-overhead.sh: $tool is missing (apt-get install curl python3 util-linux)" >&2; exit 2; }
done
[ -x "$IRIS" ] || { echo "bench/export-overhead.sh: $IRIS is missing: cargo build --release (or --debug after cargo build)" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "bench/export-overhead.sh: needs 2 cores (server on core 0, engine on core 1)" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The server, on core 0.
taskset -c 0 "$IRIS" serve --addr 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$WORK/serve.out" | head -1)
[ -n "$ADDR" ] || { echo "bench/export-overhead.sh: iris-lab serve did not start:" >&2; cat "$WORK/serve.err" >&2; exit 1; }
HOST=$ADDR
case $HOST in http*) ;; *) HOST="http://$HOST" ;; esac

# A receiver that takes every push (204), on core 0.
RECEIVER_PORT=$(free_port)
taskset -c 0 python3 - "$RECEIVER_PORT" >/dev/null 2>&1 <<'EOF' &
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Take(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Take).serve_forever()
EOF
PIDS+=($!)
RECEIVER="http://127.0.0.1:$RECEIVER_PORT"

# One run of kind $1; prints its steady requests/s.
run() {
    local kind=$1 n=$RANDOM extra=() scraper=
    case $kind in
        scrape) local port; port=$(free_port); extra=(--metrics-addr "127.0.0.1:$port") ;;
        push) extra=(--export "prometheus-rw=$RECEIVER/api/v1/write" --export "otlp=$RECEIVER") ;;
    esac
    TOKIO_WORKER_THREADS=1 taskset -c 1 "$IRIS" load --host "$HOST" --users "$USERS" \
        --spawn-rate 100000 --duration "${SECS}s" --wait 0 --out-dir "$WORK/runs" \
        --no-cluster --format json "${extra[@]}" >"$WORK/$n.json" 2>"$WORK/$n.err" &
    local pid=$!
    if [ "$kind" = scrape ]; then
        (while kill -0 "$pid" 2>/dev/null; do
            taskset -c 0 curl -s "http://127.0.0.1:$port/metrics" >/dev/null || true
            sleep 1
        done) &
        scraper=$!
    fi
    wait "$pid" || { echo "bench/export-overhead.sh: the $kind run failed:" >&2; cat "$WORK/$n.err" >&2; exit 1; }
    [ -n "$scraper" ] && kill "$scraper" 2>/dev/null || true
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(round(r["throughput"]["steady_rps"] or r["aggregate"]["rps"], 1))' "$WORK/$n.json"
}

echo "== $ROUNDS rounds of ${SECS}s runs, $USERS users (--wait 0) against iris-lab serve at $HOST; $IRIS"
KINDS=(plain scrape push)
: >"$WORK/figures"
for i in $(seq 0 $((ROUNDS - 1))); do
    declare -A rps=()
    for j in 0 1 2; do
        kind=${KINDS[$(((i + j) % 3))]}
        rps[$kind]=$(run "$kind")
    done
    echo "round $((i + 1)): plain ${rps[plain]} req/s, scrape ${rps[scrape]} req/s, push ${rps[push]} req/s"
    echo "${rps[plain]} ${rps[scrape]} ${rps[push]}" >>"$WORK/figures"
    unset rps
done
python3 - "$WORK/figures" <<'EOF'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
for name, col in (("--metrics-addr, scraped each second", 1), ("--export prometheus-rw + otlp", 2)):
    m = statistics.median(r[col] / r[0] for r in rows)
    verdict = "within" if m >= 0.98 else "NOT within"
    print(f"{name}: median ratio to plain {m:.4f}, cost {100 * (1 - m):.2f}% of the engine's rate: {verdict} the 2% target")
EOF
