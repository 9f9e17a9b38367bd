#!/usr/bin/env bash
# What serving the live page costs the load engine (issue 22: under 2% of its rate).
#
# Closed loop, `iris-lab load --wait 0` against nginx (bench/fixtures.sh), engine on core 1,
# nginx on core 0, one runtime thread: the engine is CPU-bound, so anything the page takes
# shows as requests/s lost. ROUNDS pairs, each pair one run without the page and one with
# `--web` and PAGES pages open on it (each an SSE client reading /events, plus a reload of
# /api/state and a GET /stats/requests every second, as Locust's page polls). The pairs
# alternate (A B B A ...) so that drift of this busy machine hits both alike; the figure is
# the median over pairs of rps(with page) / rps(without), each pair measured minutes apart at
# most. Needs: nginx, curl, python3, taskset.
#
# Usage: bench/web-overhead.sh   (ROUNDS=5 SECS=10 CONNS=150 PAGES=3 override the defaults)
set -euo pipefail

cd "$(dirname "$0")/.."
IRIS=${IRIS:-target/release/iris-lab}
PORT=${PORT:-18080}
WEB_PORT=${WEB_PORT:-18089}
CONNS=${CONNS:-150}
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-5}
PAGES=${PAGES:-3}
HOST="http://127.0.0.1:$PORT"

for tool in nginx curl python3 taskset; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x "$IRIS" ] || { echo "bench: build first: cargo build --release (or IRIS=target/debug/iris-lab)" >&2; exit 1; }

ulimit -n 100000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# shellcheck source=bench/fixtures.sh
source bench/fixtures.sh
write_fixtures "$WORK"
start_nginx "$(ulimit -n)" taskset -c 0

# One run; prints its steady requests/s. With "web", PAGES pages watch it.
run() {
    local mode=$1 out="$WORK/run-$1-$RANDOM.json" web=() watchers=()
    [ "$mode" = web ] && web=(--web "127.0.0.1:$WEB_PORT")
    TOKIO_WORKER_THREADS=1 taskset -c 1 "$IRIS" load --host "$HOST" --users "$CONNS" \
        --spawn-rate 100000 --duration "${SECS}s" --scenario "$WORK/predict.yaml" \
        --out-dir "$WORK/runs" --no-cluster --format json "${web[@]}" >"$out" 2>/dev/null &
    local pid=$!
    if [ "$mode" = web ]; then
        for _ in $(seq 50); do curl -sf "http://127.0.0.1:$WEB_PORT/api/state" >/dev/null && break; sleep 0.1; done
        for _ in $(seq "$PAGES"); do
            taskset -c 0 curl -sN "http://127.0.0.1:$WEB_PORT/events" >/dev/null 2>&1 &
            watchers+=($!)
            (while kill -0 "$pid" 2>/dev/null; do
                curl -s "http://127.0.0.1:$WEB_PORT/api/state" >/dev/null
                curl -s "http://127.0.0.1:$WEB_PORT/stats/requests" >/dev/null
                sleep 1
            done) &
            watchers+=($!)
        done
    fi
    wait "$pid"
    for w in "${watchers[@]}"; do kill "$w" 2>/dev/null || true; done
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["throughput"]["steady_rps"] or r["aggregate"]["rps"])' "$out"
}

echo "== $ROUNDS pairs of ${SECS}s runs, $CONNS connections, $PAGES pages on the --web runs"
ratios=()
for i in $(seq "$ROUNDS"); do
    if [ $((i % 2)) -eq 1 ]; then plain=$(run plain); web=$(run web); else web=$(run web); plain=$(run plain); fi
    ratio=$(python3 -c "print(f'{$web / $plain:.4f}')")
    echo "pair $i: without page $plain req/s, with page $web req/s, ratio $ratio"
    ratios+=("$ratio")
done
python3 - "${ratios[@]}" <<'EOF'
import statistics, sys
r = sorted(float(x) for x in sys.argv[1:])
m = statistics.median(r)
print(f"median ratio with/without page: {m:.4f} (cost {100 * (1 - m):.2f}% of the engine's rate; target < 2%)")
EOF
