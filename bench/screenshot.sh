#!/usr/bin/env bash
# Renders `iris-lab report --format html` to PNG with headless Chromium, so a person can look at
# the page: once in the light colour scheme and once in the dark one.
#
# Needs: chromium (Debian: apt-get install chromium); for `web`, chromium-driver too.
# Usage: bench/screenshot.sh [OUT_DIR] [RUN.json ...]
#        bench/screenshot.sh web [OUT_DIR]   the live page of `iris-lab web`, one PNG a tab
#          (web-stats.png, web-charts.png, ...): the browser test (tests/it/web_browser.rs)
#          drives a run of 20 then 40 users in headless Chromium and shoots each tab; and one
#          PNG a tab in each colour scheme (web-light-*.png, web-dark-*.png), where the test
#          also checks every visible text's contrast (WCAG AA, 4.5:1).
#   OUT_DIR defaults to ./screenshots; the runs default to the fixtures 150u.json and
#   300u-cluster.json. WIDTH and HEIGHT (CSS pixels) size the window [1000 x (2400 + 1400 a
#   run)]; headless Chromium shoots the window, not the whole page.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = web ]; then
  OUT=${2:-screenshots}
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  for tool in chromium chromedriver; do
    command -v "$tool" >/dev/null || { echo "bench/screenshot.sh: $tool is missing (apt-get install chromium chromium-driver)" >&2; exit 2; }
  done
  (cd "$ROOT" && IRIS_LAB_SCREENSHOTS="$OUT" cargo test --quiet --locked --test it web_browser >&2)
  ls "$OUT"/web-*.png
  exit 0
fi
OUT=${1:-screenshots}
shift || true
RUNS=("$@")
if [ ${#RUNS[@]} -eq 0 ]; then
  RUNS=("$ROOT/tests/fixtures/runs/150u.json" "$ROOT/tests/fixtures/runs/300u-cluster.json")
fi
WIDTH=${WIDTH:-1000}
HEIGHT=${HEIGHT:-$((2400 + 1400 * ${#RUNS[@]}))}

command -v chromium >/dev/null || { echo "bench/screenshot.sh: chromium is missing (apt-get install chromium)" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "building iris-lab (debug)..." >&2
(cd "$ROOT" && cargo build --quiet --locked)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/iris-lab"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
"$BIN" report --format html --out "$OUT/report.html" "${RUNS[@]}"

# Headless, as root too, and without any of Chromium's own network traffic: the page must
# render from itself alone.
shot() {
  local png=$1; shift
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/profile-$RANDOM" --hide-scrollbars \
    --window-size="$WIDTH,$HEIGHT" --screenshot="$png" "$@" "file://$OUT/report.html" \
    >"$WORK/chromium.log" 2>&1 || { cat "$WORK/chromium.log" >&2; exit 1; }
  echo "$png"
}
shot "$OUT/report.png"
shot "$OUT/report-dark.png" --force-dark-mode --blink-settings=preferredColorScheme=0
