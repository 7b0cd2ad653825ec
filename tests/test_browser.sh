#!/usr/bin/env bash
# test_browser.sh: the report opens in a real browser. Makes a report from a short search
# on the bundled IOI model, opens index.html in headless Chromium and takes a screenshot
# (build/report-screenshot.png); the screenshot must be a PNG of the requested size with
# more than a blank page in it. Skipped (exit 0, with a note, and a line in
# $PRUNE_SKIP_LOG when set) when Chromium is absent.
# Usage: bash tests/test_browser.sh ./prune
set -u
PRUNE=${1:-./prune}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then
  echo "browser: SKIPPED (no chromium; apt-get install -y chromium)"
  # make test names every skipped check on its last line
  [ -n "${PRUNE_SKIP_LOG:-}" ] && echo "browser check: chromium not found" >> "$PRUNE_SKIP_LOG"
  exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
M="$ROOT/models/ioi-small"
"$PRUNE" "$M/model.bin" "$M/task.txt" --steps 10 --log "$TMP/log.csv" --report "$TMP/rep" > "$TMP/run.log" 2>&1 || { echo "FAIL: search"; tail -3 "$TMP/run.log"; exit 1; }
mkdir -p "$ROOT/build"
SHOT="$ROOT/build/report-screenshot.png"
rm -f "$SHOT"
# flags: as root Chromium needs --no-sandbox; the others keep it off the (closed) network
timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$TMP/profile" --window-size=1200,1600 --screenshot="$SHOT" \
  "file://$TMP/rep/index.html" > "$TMP/chrome.log" 2>&1
if [ ! -s "$SHOT" ]; then echo "FAIL: no screenshot"; tail -5 "$TMP/chrome.log"; exit 1; fi
python_free_png_check() {  # width, height from the IHDR chunk; size as a proxy for content
  local w h size
  w=$(od -An -tu1 -j16 -N4 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
  h=$(od -An -tu1 -j20 -N4 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
  size=$(stat -c %s "$1")
  echo "browser: screenshot $1: ${w}x${h}, $size bytes"
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] && [ "$w" = 1200 ] && [ "$h" = 1600 ] && [ "$size" -gt 20000 ]
}
if python_free_png_check "$SHOT"; then echo "browser: 1 passed, 0 failed"; else echo "FAIL: screenshot is not a 1200x1600 PNG with content"; exit 1; fi
