#!/usr/bin/env bash
# Benchmark of the reference API (`iris-lab serve`) against nginx returning a static answer,
# measured in the same run on the same machine: each server pinned to core 0, wrk to core 1,
# POST /predict with the guide's body, 150 connections, 10 s.
#
# Needs: wrk and nginx (Debian: apt-get install wrk nginx-light), taskset (util-linux).
# Usage: bench/serve.sh [DURATION_SECONDS] [CONNECTIONS]
set -euo pipefail

DURATION=${1:-10}
CONNECTIONS=${2:-150}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in wrk nginx taskset; do
  command -v "$tool" >/dev/null || { echo "bench/serve.sh: $tool is missing (apt-get install wrk nginx-light util-linux)" >&2; exit 2; }
done
if [ "$(nproc)" -lt 2 ]; then
  echo "bench/serve.sh: needs 2 cores (server on core 0, wrk on core 1)" >&2; exit 2
fi

echo "building iris-lab (release)..." >&2
(cd "$ROOT" && cargo build --release --quiet)
BIN="$ROOT/target/release/iris-lab"

BODY='{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body   = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# wrk prints "Requests/sec: N" and, with --latency, "99% T"; T in us/ms/s.
run_wrk() {
  local url=$1 out=$2
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "$url" > "$out"
}
rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
p99_ms() {
  awk '$1 == "99%" {
    v = $2; unit = v; gsub(/[0-9.]/, "", unit); sub(/[a-z]+$/, "", v);
    if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000; else if (unit == "m") v *= 60000;
    printf "%.2f", v }' "$1"
}
errors() { awk '/Non-2xx|Socket errors/ {print}' "$1"; }

# 1. iris-lab serve on core 0.
taskset -c 0 "$BIN" serve --addr 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
PIDS+=($!)
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$WORK/serve.out" 2>/dev/null && break
  sleep 0.1
done
SERVE_URL=$(sed -n 's/^listening on //p' "$WORK/serve.out")
[ -n "$SERVE_URL" ] || { echo "bench/serve.sh: serve did not start: $(cat "$WORK/serve.err")" >&2; exit 1; }
curl -sf -X POST -H 'content-type: application/json' -d "$BODY" "$SERVE_URL/predict" > /dev/null
echo "wrk -> iris-lab serve ($SERVE_URL/predict), ${CONNECTIONS} connections, ${DURATION}s..." >&2
run_wrk "$SERVE_URL/predict" "$WORK/wrk-serve.txt"

# 2. nginx, one worker on core 0, answering the same JSON from memory.
NGINX_PORT=$(free_port)
ANSWER='{"predicted_species":"setosa","prediction_probability":0.9785,"inference_time":"0.0000s","total_time":"0.0001s"}'
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
worker_cpu_affinity 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /predict { default_type application/json; return 200 '$ANSWER'; }
  }
}
NGINX
taskset -c 0 nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
for _ in $(seq 1 50); do
  curl -sf -X POST -d "$BODY" "http://127.0.0.1:$NGINX_PORT/predict" > /dev/null 2>&1 && break
  sleep 0.1
done
echo "wrk -> nginx static (http://127.0.0.1:$NGINX_PORT/predict)..." >&2
run_wrk "http://127.0.0.1:$NGINX_PORT/predict" "$WORK/wrk-nginx.txt"

S_RPS=$(rps "$WORK/wrk-serve.txt"); S_P99=$(p99_ms "$WORK/wrk-serve.txt")
N_RPS=$(rps "$WORK/wrk-nginx.txt"); N_P99=$(p99_ms "$WORK/wrk-nginx.txt")
PY_RPS=305  # the original FastAPI server, 1 uvicorn worker, same method (from the issue; not run here)

printf '\n%-28s %12s %10s\n' "server (1 core)" "requests/s" "p99 ms"
printf '%-28s %12.0f %10s\n' "iris-lab serve" "$S_RPS" "$S_P99"
printf '%-28s %12.0f %10s\n' "nginx static return" "$N_RPS" "$N_P99"
awk -v s="$S_RPS" -v n="$N_RPS" -v p="$PY_RPS" 'BEGIN {
  printf "\nserve / nginx:           %.2fx (target >= 0.50x)\n", s / n;
  printf "serve / python baseline: %.0fx (target >= 100x; baseline %d req/s quoted, not measured)\n", s / p, p }'
for f in "$WORK/wrk-serve.txt" "$WORK/wrk-nginx.txt"; do
  e=$(errors "$f"); [ -z "$e" ] || echo "warning: $(basename "$f"): $e" >&2
done
