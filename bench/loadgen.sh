#!/usr/bin/env bash
# Benchmark of the embedded load generator (issue 3), on this machine, in one go.
#
# Target: nginx (Debian) answering the contract's endpoints with static JSON, one worker
# pinned to core 0. Load generators are pinned to core 1.
#
# Part 1, closed loop: `iris-lab load --wait 0`, wrk and oha, 150 connections, 10 s each, all
#         sending POST /predict with a body. Prints requests/s, CPU-seconds per 1,000 requests,
#         peak RSS, and the ratios of iris-lab to wrk and oha; then iris-lab's RSS after 10 s
#         and after 60 s of a steady closed loop (memory must stay flat).
# Part 2, 20,000 IrisPredictionAPIUser users for 60 s: iris-lab's RSS per user and its
#         achieved vs theoretical requests/s.
#
# Needs: nginx, wrk (apt-get install nginx wrk), oha (cargo install oha --locked), python3,
# root (to raise the open-file limit). Only 127.0.0.1 is ever targeted.
#
# Usage: bench/loadgen.sh            (SECS=10 USERS=20000 LONG_SECS=60 override the defaults)
set -euo pipefail

cd "$(dirname "$0")/.."
IRIS=${IRIS:-target/release/iris-lab}
PORT=${PORT:-18080}
CONNS=${CONNS:-150}
SECS=${SECS:-10}
USERS=${USERS:-20000}
LONG_SECS=${LONG_SECS:-60}
HOST="http://127.0.0.1:$PORT"

for tool in nginx wrk oha python3 taskset /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x "$IRIS" ] || { echo "bench: build first: cargo build --release" >&2; exit 1; }

# Many users need many sockets, for nginx and for the generators. Raising the hard limit needs
# CAP_SYS_RESOURCE; in a container without it, stay under the hard limit (iris-lab keeps 64
# descriptors spare and says so before a run that cannot fit).
ulimit -n 100000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
# nginx needs a descriptor per connection too, plus room (at 19,000 users under a 20,000 limit its
# worker_connections run out and it closes idle keep-alive connections).
if [ "$USERS" -gt $((NOFILE - 2000)) ]; then
    echo "bench: open-file limit is $NOFILE and cannot be raised here: using $((NOFILE - 2000)) users instead of $USERS" >&2
    USERS=$((NOFILE - 2000))
fi

# shellcheck source=bench/fixtures.sh
source bench/fixtures.sh

start_nginx "$NOFILE" taskset -c 0

# A class with one task, POST /predict with a random flower, checked as the guide checks it.
write_fixtures "$WORK"

# Runs a command pinned to core 1 under /usr/bin/time; leaves "cpu_s max_rss_kib" in $WORK/time.
timed() {
    taskset -c 1 /usr/bin/time -f "%U %S %M" -o "$WORK/time.raw" "$@"
    awk '{ printf "%.3f %d\n", $1 + $2, $3 }' "$WORK/time.raw" >"$WORK/time"
}

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

echo "== Part 1: closed loop, $CONNS connections, ${SECS}s each, generator on core 1, nginx on core 0"

# iris-lab: a single runtime thread, like wrk -t1, since it has one core.
TOKIO_WORKER_THREADS=1 timed "$IRIS" load --host "$HOST" --users "$CONNS" --spawn-rate 100000 \
    --duration "${SECS}s" --scenario "$WORK/predict.yaml" --out-dir "$WORK/runs" --format json \
    >"$WORK/iris.json" 2>/dev/null
read -r IRIS_CPU IRIS_RSS <"$WORK/time"
read -r IRIS_REQ IRIS_RPS IRIS_FAIL < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
a = r["aggregate"]
print(a["requests"], r["throughput"]["steady_rps"] or a["rps"], a["failures"])' "$WORK/iris.json")

timed wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$WORK/post.lua" "$HOST/predict" >"$WORK/wrk.txt"
read -r WRK_CPU WRK_RSS <"$WORK/time"
WRK_REQ=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
WRK_RPS=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk.txt")

timed oha --no-tui -c "$CONNS" -z "${SECS}s" -m POST -H "Content-Type: application/json" \
    -d "$PREDICT_BODY" "$HOST/predict" >"$WORK/oha.txt"
read -r OHA_CPU OHA_RSS <"$WORK/time"
OHA_RPS=$(awk '/Requests\/sec:/ { print $2; exit }' "$WORK/oha.txt")
OHA_REQ=$(awk '$1 == "[200]" && $2 ~ /^[0-9]+$/ { print $2; exit }' "$WORK/oha.txt")

python3 - "$IRIS_REQ" "$IRIS_RPS" "$IRIS_CPU" "$IRIS_RSS" "$WRK_REQ" "$WRK_RPS" "$WRK_CPU" "$WRK_RSS" \
    "$OHA_REQ" "$OHA_RPS" "$OHA_CPU" "$OHA_RSS" "$IRIS_FAIL" <<'EOF'
import sys
a = sys.argv[1:]
rows = [("iris-lab", *a[0:4]), ("wrk", *a[4:8]), ("oha", *a[8:12])]
print(f"{'tool':<10}{'requests':>12}{'req/s':>12}{'CPU-s/1k req':>15}{'peak RSS MiB':>15}")
rps = {}
for name, req, r, cpu, rss in rows:
    req, r, cpu, rss = int(float(req)), float(r), float(cpu), int(rss)
    rps[name] = r
    print(f"{name:<10}{req:>12,}{r:>12,.0f}{cpu / max(req, 1) * 1000:>15.4f}{rss / 1024:>15.1f}")
print(f"iris-lab failures: {a[12]}")
print(f"ratio iris-lab/wrk: {rps['iris-lab'] / rps['wrk']:.2f} (target >= 0.8)")
print(f"ratio iris-lab/oha: {rps['iris-lab'] / rps['oha']:.2f} (target >= 1.0)")
EOF

echo
echo "== Memory over time: closed loop, $CONNS users, ${LONG_SECS}s"
TOKIO_WORKER_THREADS=1 taskset -c 1 "$IRIS" load --host "$HOST" --users "$CONNS" --spawn-rate 100000 \
    --duration "${LONG_SECS}s" --scenario "$WORK/predict.yaml" --out-dir "$WORK/runs" --format json \
    >"$WORK/flat.json" 2>/dev/null &
PID=$!
# Samples early and near the end of the run, whatever LONG_SECS is (sleep takes no negative time).
EARLY=$(( LONG_SECS > 20 ? 10 : LONG_SECS / 4 ))
LATE=$(( LONG_SECS - 1 > EARLY ? LONG_SECS - 1 : EARLY ))
sleep "$EARLY"; RSS10=$(rss_kib "$PID")
sleep "$((LATE - EARLY))"; RSS60=$(rss_kib "$PID")
wait "$PID"
python3 -c "
a, b = $RSS10, $RSS60
print(f'RSS after $EARLY s {a / 1024:.1f} MiB, after $LATE s {b / 1024:.1f} MiB: {100 * (b - a) / max(a, 1):+.1f}% (target within 10%)')"

echo
echo "== Part 2: $USERS IrisPredictionAPIUser users for ${LONG_SECS}s (spawn 5000/s)"
taskset -c 1 "$IRIS" load --host "$HOST" --users 1 --spawn-rate 100 --duration 3s \
    --out-dir "$WORK/runs" --format json >/dev/null 2>&1 &
PID=$!
sleep 2; BASE=$(rss_kib "$PID"); wait "$PID"
taskset -c 1 "$IRIS" load --host "$HOST" --users "$USERS" --spawn-rate 5000 --duration "${LONG_SECS}s" \
    --out-dir "$WORK/runs" --format json >"$WORK/many.json" 2>"$WORK/many.err" &
PID=$!
EARLY=$(( LONG_SECS > 20 ? 15 : LONG_SECS / 2 ))
LATE=$(( LONG_SECS - 5 > EARLY ? LONG_SECS - 5 : EARLY ))
sleep "$EARLY"; RSS15=$(rss_kib "$PID")
sleep "$((LATE - EARLY))"; RSS_END=$(rss_kib "$PID")
wait "$PID" || true
python3 - "$WORK/many.json" "$USERS" "$BASE" "$RSS15" "$RSS_END" <<'EOF'
import json, sys
path, users, base, rss15, rss_end = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
r = json.load(open(path))
t, a = r["throughput"], r["aggregate"]
peak = max(rss15, rss_end)
print(f"RSS with 1 user {base / 1024:.1f} MiB; with {users} users {rss15 / 1024:.1f} MiB early, "
      f"{rss_end / 1024:.1f} MiB near the end")
print(f"per user: {(peak - base) / users:.1f} KiB above the 1-user baseline, "
      f"{peak / users:.1f} KiB all-inclusive (target <= 16 KiB)")
steady = t["steady_rps"] or a["rps"]
kinds = {}
for f in r["failures"]:
    k = f["reason"]["kind"]
    kinds[k] = kinds.get(k, 0) + f["count"]
print(f"failures by kind: {kinds or 'none'}")
print(f"requests {a['requests']:,}, failures {a['failures']:,}; achieved {steady:,.1f} req/s once all "
      f"users ran vs theoretical {t['theoretical_max_rps']:,.1f}: "
      f"{100 * (steady - t['theoretical_max_rps']) / t['theoretical_max_rps']:+.2f}% (target within 2%)")
EOF
