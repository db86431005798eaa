#!/usr/bin/env bash
# The README's screenshot, taken from the real app on a virtual X server after a compare:
# start gpt2q-desktop on the demo student (clean settings and cache), quantize, type a prompt, press Enter,
# wait, then dump the main window.
#
#   bash tools/readme_screenshot.sh [PNG] [PROMPT]      # default docs/screenshot.png, "The sky is"
#
# Needs: apt-get install -y xvfb x11-apps x11-utils xdotool
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ "${1:-}" != "--inner" ]]; then
    for tool in xvfb-run xwd xdotool; do
        command -v "$tool" >/dev/null || { echo "readme_screenshot.sh: $tool is missing" >&2; exit 2; }
    done
    exec xvfb-run -a -s "-screen 0 1400x1000x24" bash "${BASH_SOURCE[0]}" --inner \
        "${1:-$ROOT/docs/screenshot.png}" "${2:-The sky is}"
fi

PNG="$2"
PROMPT="$3"
TMP="$(mktemp -d)"
PID=""
trap 'if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT

env -u QT_QPA_PLATFORM HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/config" GPT2Q_DATA_DIR="$TMP/data" \
    "$ROOT/.venv/bin/gpt2q-desktop" >"$TMP/app.log" 2>&1 &
PID=$!

WID=""
for _ in $(seq 1 120); do
    WID="$(xdotool search --onlyvisible --name 'gpt2q desktop' 2>/dev/null | head -n 1 || true)"
    [[ -n "$WID" ]] && break
    sleep 0.5
done
[[ -n "$WID" ]] || { cat "$TMP/app.log" >&2; echo "readme_screenshot.sh: no window" >&2; exit 1; }

sleep "${OPEN_WAIT:-10}"  # the demo student loads on the engine thread
xdotool windowfocus --sync "$WID"
xdotool key --window "$WID" ctrl+k  # quantize first, so the compare shows a cached INT8 model's timing
sleep "${QUANTIZE_WAIT:-10}"
xdotool type --window "$WID" --delay 40 "$PROMPT"
xdotool key --window "$WID" Return
sleep "${COMPARE_WAIT:-15}"

mkdir -p "$(dirname "$PNG")"
xwd -id "$WID" -silent >"$TMP/window.xwd"
"$ROOT/.venv/bin/python" "$ROOT/packaging/xwd_to_png.py" "$TMP/window.xwd" "$PNG"
echo "readme_screenshot.sh: $PNG"
