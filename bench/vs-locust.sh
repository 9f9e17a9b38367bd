#!/usr/bin/env bash
# iris-lab against Locust on the original kind of server (issue 8, part 1), on this machine.
#
# Server: ../shared/peers/app.py (FastAPI + pandas + scikit-learn, one uvicorn worker) pinned
# to core 0; each generator pinned to core 1. Profiles: 150 IrisPredictionAPIUser and 300
# HighLoadUser (the server saturates), spawn 10/s, DURATION seconds each, both tools with the
# same class (../shared/peers/locustfile.py for Locust, the built-in class for iris-lab). The
# server restarts before every run, so each run starts from the same state.
#
# Prints one markdown table: requests/s, average, p50, p95, p99, max, failures of total, CPU-seconds
# and peak RSS of each generator, the deepest accept queue of the server's listening socket
# seen during the run (`ss -ltn` Recv-Q, sampled every 0.5 s), and the failure reasons.
#
# Priority: a machine shared with builds skews timings. Every process runs at nice -15 in a
# session of its own whose autogroup is set to nice -15 too: with sched_autogroup (Linux's
# default) `nice` alone only ranks processes within one session, and a server started beside
# other sessions' compilers gets a fraction of its core.
#
# Needs: python3, taskset, ss, /usr/bin/time, root (nice -15), a release build
# (cargo build --release). Installs Locust and the server's packages in a venv at
# $HOME/.cache/iris-lab/peers-venv when missing. Only 127.0.0.1 is ever targeted.
#
# Usage: bench/vs-locust.sh        (DURATION=60 REPEAT=1 PORT=18765 PEERS=../shared/peers
#                                   PROFILES="150 IrisPredictionAPIUser,300 HighLoadUser")
set -euo pipefail

cd "$(dirname "$0")/.."
IRIS=$(realpath "${IRIS:-target/release/iris-lab}")
PEERS=$(realpath "${PEERS:-../shared/peers}")
VENV=${VENV:-$HOME/.cache/iris-lab/peers-venv}
PORT=${PORT:-18765}
DURATION=${DURATION:-60}
REPEAT=${REPEAT:-1}
# Extra flags for iris-lab load, e.g. IRIS_ARGS="--timeout 600s" to wait as long as Locust does.
IRIS_ARGS=${IRIS_ARGS:-}
HOST="http://127.0.0.1:$PORT"
IFS=, read -r -a PROFILES <<<"${PROFILES:-150 IrisPredictionAPIUser,300 HighLoadUser}"

for tool in python3 taskset ss setsid /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x "$IRIS" ] || { echo "bench: build first: cargo build --release" >&2; exit 1; }
[ -f "$PEERS/app.py" ] || { echo "bench: no peer server at $PEERS (set PEERS)" >&2; exit 1; }

if ! "$VENV/bin/python" -c 'import fastapi, uvicorn, uvloop, httptools, pandas, sklearn, joblib, locust' 2>/dev/null; then
    echo "bench: installing Locust and the server's packages in $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        locust fastapi "uvicorn[standard]" pandas scikit-learn joblib
fi
MODEL="$VENV/model.joblib"
[ -f "$MODEL" ] || "$VENV/bin/python" "$PEERS/train_model.py" "$MODEL" >/dev/null

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d)
SERVER_PID=""
SAMPLER_PID=""
stop_server() {
    if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; fi
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

# Runs "$@" in a new session at nice -15 (process and autogroup), pinned to core $CORE.
cat >"$WORK/prio" <<'EOF'
#!/bin/sh
echo -15 > /proc/self/autogroup 2>/dev/null || true
exec nice -n -15 taskset -c "$CORE" "$@"
EOF
chmod +x "$WORK/prio"

start_server() {
    if ss -ltnH "sport = :$PORT" | grep -q .; then
        echo "bench: port $PORT is in use: stop what listens there or set PORT" >&2
        exit 1
    fi
    # exec all the way down, so that $! is the server itself and stop_server ends it.
    (cd "$PEERS" && MODEL_PATH="$MODEL" CORE=0 exec setsid "$WORK/prio" "$VENV/bin/uvicorn" app:app \
        --host 127.0.0.1 --port "$PORT" --workers 1 --no-access-log \
        >"$WORK/server.log" 2>&1 </dev/null) &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request; urllib.request.urlopen('$HOST/health', timeout=1)" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    # The deepest accept queue of the listening socket during the run.
    (
        max=0
        while sleep 0.5; do
            q=$(ss -ltnH "sport = :$PORT" | awk '{print $2; exit}')
            if [ "${q:-0}" -gt "$max" ]; then max=$q; echo "$max" >"$WORK/queue"; fi
        done
    ) &
    SAMPLER_PID=$!
    echo 0 >"$WORK/queue"
}

# run TOOL USERS CLASS N: one run; appends a row to $WORK/rows.
run() {
    local tool=$1 users=$2 class=$3 n=$4
    local prefix="$WORK/$tool-$users-$n"
    start_server
    if [ "$tool" = locust ]; then
        (cd "$WORK" && CORE=1 setsid "$WORK/prio" /usr/bin/time -o "$prefix.time" -f "%U %S %M" \
            "$VENV/bin/locust" -f "$PEERS/locustfile.py" --headless --only-summary \
            -u "$users" -r 10 -t "${DURATION}s" -H "$HOST" --csv "$prefix" "$class" \
            >"$prefix.log" 2>&1 </dev/null) || true
    else
        (cd "$WORK" && CORE=1 setsid "$WORK/prio" /usr/bin/time -o "$prefix.time" -f "%U %S %M" \
            "$IRIS" load --no-cluster --host "$HOST" --users "$users" --spawn-rate 10 \
            --duration "${DURATION}s" --user-class "$class" --csv "$prefix" \
            --out-dir "$WORK/runs" $IRIS_ARGS >"$prefix.log" 2>&1 </dev/null) || true
    fi
    local queue
    queue=$(cat "$WORK/queue")
    stop_server
    "$VENV/bin/python" - "$prefix" "$tool" "$users $class" "$n" "$queue" >>"$WORK/rows" <<'EOF'
import csv, sys
prefix, tool, profile, n, queue = sys.argv[1:]
try:
    rows = list(csv.DictReader(open(prefix + "_stats.csv")))
    agg = next(r for r in rows if r["Name"] == "Aggregated")
    failures = list(csv.DictReader(open(prefix + "_failures.csv")))
except (OSError, StopIteration):
    print(f"| {profile} | {tool} | {n} | run failed, see {prefix}.log |")
    sys.exit()
user, system, rss_kb = open(prefix + ".time").read().split()[-3:]
reqs, fails = int(agg["Request Count"]), int(agg["Failure Count"])
reasons = "; ".join(f'{f["Method"]} {f["Name"]} {f["Error"]} x{f["Occurrences"]}' for f in failures)
ms = lambda v: f"{float(v):,.0f}"
print(
    f'| {profile} | {tool} | {n} | {float(agg["Requests/s"]):.1f} | {ms(agg["Average Response Time"])}'
    f' | {ms(agg["50%"])} | {ms(agg["95%"])} | {ms(agg["99%"])} | {ms(agg["Max Response Time"])}'
    f' | {fails:,} of {reqs:,}'
    f' | {float(user) + float(system):.1f} | {int(rss_kb) / 1024:.0f} | {queue} | {reasons or "-"} |'
)
EOF
}

for n in $(seq 1 "$REPEAT"); do
    for profile in "${PROFILES[@]}"; do
        read -r users class <<<"$profile"
        for tool in locust iris-lab; do
            echo "bench: run $n, $users $class, $tool (${DURATION} s)" >&2
            run "$tool" "$users" "$class" "$n"
        done
    done
done

echo
echo "Server: $PEERS/app.py, uvicorn 1 worker on core 0; generators on core 1; spawn 10/s, ${DURATION} s;"
echo "$("$VENV/bin/locust" --version 2>/dev/null | cut -d' ' -f1-2), $("$IRIS" --version)."
echo
echo "| profile | tool | run | req/s | avg ms | p50 ms | p95 ms | p99 ms | max ms | failed | CPU-s | peak RSS MiB | max accept queue | failures |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
cat "$WORK/rows"
