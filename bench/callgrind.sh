#!/usr/bin/env bash
# Instructions per request of the load generator, against wrk, counted by valgrind's callgrind:
# repeatable on a busy machine where wall-clock rates are not (the figures of bench/loadgen.sh
# move by 30% with the neighbours' load). Both run a closed loop of POST /predict against nginx
# answering with static JSON, on one thread, under callgrind; the ratio is per request.
#
# Needs: nginx, wrk, valgrind (apt-get install nginx-light wrk valgrind), a release build.
# Only 127.0.0.1 is targeted.
#
# Usage: bench/callgrind.sh        (CONNS=50 SECS=10 override; OUT=dir keeps the callgrind files,
#        to read with callgrind_annotate)
set -euo pipefail

cd "$(dirname "$0")/.."
IRIS=${IRIS:-${CARGO_TARGET_DIR:-target}/release/iris-lab}
PORT=${PORT:-18081}
CONNS=${CONNS:-50}
SECS=${SECS:-10}
HOST="http://127.0.0.1:$PORT"

for tool in nginx wrk valgrind callgrind_annotate python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x "$IRIS" ] || { echo "bench: build first: cargo build --release" >&2; exit 1; }

# shellcheck source=bench/fixtures.sh
source bench/fixtures.sh
OUT=${OUT:-$WORK}
mkdir -p "$OUT"
start_nginx "$(ulimit -n)"

write_fixtures "$WORK"

# The total instructions of a callgrind output file.
total_ir() { awk '/^summary:|^totals:/ { print $2; exit }' "$1"; }

TOKIO_WORKER_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$OUT/iris.out" \
    "$IRIS" load --no-cluster --host "$HOST" --users "$CONNS" --spawn-rate 100000 \
    --duration "${SECS}s" --scenario "$WORK/predict.yaml" --out-dir "$WORK/runs" \
    --trace-sample 0 --format json >"$WORK/iris.json" 2>"$WORK/iris.err"
IRIS_REQ=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["aggregate"]["requests"])' "$WORK/iris.json")

valgrind --tool=callgrind --callgrind-out-file="$OUT/wrk.out" \
    wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$WORK/post.lua" "$HOST/predict" >"$WORK/wrk.txt" 2>"$WORK/wrk.err"
WRK_REQ=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")

python3 - "$(total_ir "$OUT/iris.out")" "$IRIS_REQ" "$(total_ir "$OUT/wrk.out")" "$WRK_REQ" <<'EOF'
import sys
iris_ir, iris_req, wrk_ir, wrk_req = map(int, sys.argv[1:])
a, b = iris_ir / iris_req, wrk_ir / wrk_req
print(f"iris-lab: {iris_req} requests, {a:,.0f} instructions per request (whole process)")
print(f"wrk:      {wrk_req} requests, {b:,.0f} instructions per request")
print(f"ratio iris-lab/wrk: {a / b:.2f} (target <= 1.0)")
EOF
if [ "$OUT" != "$WORK" ]; then
    echo "callgrind files: $OUT/iris.out $OUT/wrk.out (callgrind_annotate --inclusive=yes ...)"
fi
