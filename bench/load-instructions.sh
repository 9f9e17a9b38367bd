#!/usr/bin/env bash
# Instructions per request of the load engine, one binary against another (issue 9: the phases
# must not cost throughput). callgrind counts instructions, which stay repeatable on a busy,
# shared machine where CPU seconds do not. Each binary runs the same closed loop (POST /predict,
# checked, no think time, one runtime thread) for a fixed time against the same local server;
# the figure is all instructions of the run (start-up included) over its requests.
#
# Needs: valgrind (apt-get install valgrind), python3. Only 127.0.0.1 is targeted.
#
# Usage: bench/load-instructions.sh BEFORE AFTER   (binaries; SECS=20 USERS=50 WAIT=0 SERVER=binary)
#        SERVER defaults to BEFORE: its `serve` answers both runs. WAIT (seconds, e.g.
#        0.01..0.01) paces each user: at a rate both binaries reach under valgrind, both runs
#        make the same number of requests, so the once-a-second work weighs the same in both
#        (a closed loop, WAIT=0, runs as fast as the slowed-down binary can, which varies with
#        the machine's load).
#        AFTER_ARGS adds flags to the AFTER run only: AFTER_ARGS="--web 127.0.0.1:0" counts
#        what serving the live page costs (BEFORE and AFTER the same binary); AFTER_PAGE=1
#        also keeps a page open on it (one SSE client on /events after GET /api/state, as a
#        browser tab).
set -euo pipefail

BEFORE=$(realpath "${1:?usage: bench/load-instructions.sh BEFORE AFTER}")
AFTER=$(realpath "${2:?usage: bench/load-instructions.sh BEFORE AFTER}")
SERVER=$(realpath "${SERVER:-$BEFORE}")
SECS=${SECS:-20}
USERS=${USERS:-50}
WAIT=${WAIT:-0}
for tool in valgrind python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done

cd "$(dirname "$0")/.."
# shellcheck source=bench/fixtures.sh
source bench/fixtures.sh

"$SERVER" serve --addr 127.0.0.1:0 >"$WORK/serve.log" 2>&1 &
BENCH_PIDS+=($!)
for _ in $(seq 100); do
    grep -q '^listening on ' "$WORK/serve.log" && break
    sleep 0.1
done
HOST=$(awk '/^listening on / { print $3; exit }' "$WORK/serve.log")
[ -n "$HOST" ] || { echo "bench: serve did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; }

write_fixtures "$WORK" "$WAIT"

# Keeps a page open on the run whose stderr is $1: GET /api/state, then /events until killed.
open_page() {
    local url=""
    for _ in $(seq 600); do
        url=$(sed -n "s/^web: the run's page is at //p" "$1" | head -1)
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { echo "bench: the page did not come up" >&2; return 1; }
    curl -s "${url}api/state" >/dev/null
    exec curl -sN "${url}events" >/dev/null 2>&1
}

# Runs binary $2 under callgrind (with the flags $3, word-split); prints "instructions
# requests".
measure() {
    local extra=()
    read -r -a extra <<<"${3:-}"
    local page=""
    if [ "$1" = after ] && [ -n "${AFTER_PAGE:-}" ]; then
        open_page "$WORK/$1.err" &
        page=$!
    fi
    TOKIO_WORKER_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$1" \
        "$2" load --host "$HOST" --users "$USERS" --spawn-rate 100000 --duration "${SECS}s" \
        --scenario "$WORK/predict.yaml" --out-dir "$WORK/runs-$1" --no-cluster --format json \
        "${extra[@]}" >"$WORK/$1.json" 2>"$WORK/$1.err"
    if [ -n "$page" ]; then kill "$page" 2>/dev/null || true; fi
    python3 - "$WORK/cg.$1" "$WORK/$1.json" <<'PY'
import json, sys
ir = 0
for path in [sys.argv[1]]:
    for line in open(path):
        if line.startswith("summary:") or line.startswith("totals:"):
            ir = max(ir, int(line.split()[1]))
r = json.load(open(sys.argv[2]))
print(ir, r["aggregate"]["requests"], r["aggregate"]["failures"])
PY
}

read -r IR_B REQ_B FAIL_B < <(measure before "$BEFORE")
read -r IR_A REQ_A FAIL_A < <(measure after "$AFTER" "${AFTER_ARGS:-}")
python3 - "$IR_B" "$REQ_B" "$FAIL_B" "$IR_A" "$REQ_A" "$FAIL_A" <<'PY'
import sys
ib, rb, fb, ia, ra, fa = map(int, sys.argv[1:])
per_b, per_a = ib / max(rb, 1), ia / max(ra, 1)
print(f"{'binary':<8}{'instructions':>16}{'requests':>10}{'failures':>10}{'instr/request':>15}")
print(f"{'before':<8}{ib:>16,}{rb:>10,}{fb:>10,}{per_b:>15,.0f}")
print(f"{'after':<8}{ia:>16,}{ra:>10,}{fa:>10,}{per_a:>15,.0f}")
print(f"after/before per 1,000 requests: {per_a / per_b:.3f} (target <= 1.05)")
PY
