#!/usr/bin/env bash
# Soak: 300 users for 30 minutes of `iris-lab load` against `iris-lab serve` on 127.0.0.1,
# the resident memory (VmRSS) of the generator and of the server sampled every minute into a
# CSV. Verdict: after the warm-up (the first minutes: connections, buffers, histograms
# settle), neither process may grow by more than 10% (and 8 MiB) of its size at the end of
# the warm-up. Exit 0 when neither grows, 1 when one does, 2 when it cannot run.
#
# Run it on a quiet machine: it says so when the load average is above half the cores, as
# another build or benchmark then shares the CPU with it (memory figures stay valid; the
# request rates do not).
#
# Usage: bench/soak.sh [DURATION] [USERS]                         e.g. bench/soak.sh 30m 300
# Environment: SAMPLE_EVERY (seconds, default 60), WARMUP (seconds, default 300),
#   IRIS_LAB (a binary to use instead of building the release one), OUT (directory kept
#   with the CSV, the run record and both processes' logs; default a temporary one).
# A short proof that the script works: SAMPLE_EVERY=10 WARMUP=30 IRIS_LAB=target/debug/iris-lab bench/soak.sh 2m
set -euo pipefail

DURATION=${1:-30m}
USERS=${2:-300}
SAMPLE_EVERY=${SAMPLE_EVERY:-60}
WARMUP=${WARMUP:-300}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

if [ -n "${IRIS_LAB:-}" ]; then
  BIN=$IRIS_LAB
else
  echo "building iris-lab (release)..." >&2
  (cd "$ROOT" && cargo build --release --quiet)
  BIN="$ROOT/target/release/iris-lab"
fi
[ -x "$BIN" ] || { echo "bench/soak.sh: no binary at $BIN" >&2; exit 2; }

cores=$(nproc)
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load1" -v c="$cores" 'BEGIN { exit !(l > c / 2) }'; then
  echo "bench/soak.sh: the machine is not quiet (load average $load1 on $cores cores): memory figures hold, rates do not" >&2
fi

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo ""; }

"$BIN" serve --addr 127.0.0.1:0 >"$OUT/serve.out" 2>"$OUT/serve.err" &
SERVE=$!
PIDS+=("$SERVE")
for _ in $(seq 100); do
  grep -q '^listening on ' "$OUT/serve.out" 2>/dev/null && break
  sleep 0.1
done
URL=$(sed -n 's/^listening on //p' "$OUT/serve.out")
[ -n "$URL" ] || { echo "bench/soak.sh: serve did not start: $(cat "$OUT/serve.err")" >&2; exit 2; }

"$BIN" load --host "$URL" --users "$USERS" --spawn-rate 50 --duration "$DURATION" \
  --no-cluster --out-dir "$OUT/runs" >"$OUT/load.out" 2>"$OUT/load.err" &
LOAD=$!
PIDS+=("$LOAD")

CSV="$OUT/memory.csv"
echo "elapsed_s,load_rss_kib,serve_rss_kib" >"$CSV"
start=$(date +%s)
while kill -0 "$LOAD" 2>/dev/null; do
  sleep "$SAMPLE_EVERY" &
  wait $! || true
  kill -0 "$LOAD" 2>/dev/null || break
  l=$(rss_kib "$LOAD"); s=$(rss_kib "$SERVE")
  [ -n "$l" ] && [ -n "$s" ] || break
  echo "$(( $(date +%s) - start )),$l,$s" | tee -a "$CSV" >&2
done
wait "$LOAD" || { echo "bench/soak.sh: load failed: $(tail -n 3 "$OUT/load.err")" >&2; exit 2; }
PIDS=("$SERVE")

echo "samples in $CSV; run record and logs in $OUT"
grep -E '^\| Whole run' "$OUT/load.out" || true
python3 - "$CSV" "$WARMUP" <<'PY'
import csv, sys
rows = [{k: int(v) for k, v in r.items()} for r in csv.DictReader(open(sys.argv[1]))]
warmup = int(sys.argv[2])
after = [r for r in rows if r["elapsed_s"] >= warmup]
if len(after) < 2:
    print(f"too few samples after the {warmup} s warm-up ({len(after)}): no verdict")
    sys.exit(2)
grew = False
for name in ("load", "serve"):
    key = f"{name}_rss_kib"
    base, last, peak = after[0][key], after[-1][key], max(r[key] for r in after)
    growth = peak - base
    limit = max(base * 0.10, 8 * 1024)
    verdict = "grows" if growth > limit else "flat"
    grew |= growth > limit
    print(f"{name:5}: {base / 1024:7.1f} MiB at +{after[0]['elapsed_s']} s, "
          f"{last / 1024:7.1f} MiB at the end, peak {peak / 1024:7.1f} MiB "
          f"(+{growth / 1024:.1f} MiB, limit +{limit / 1024:.1f}): {verdict}")
sys.exit(1 if grew else 0)
PY
