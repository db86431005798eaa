#!/usr/bin/env bash
# Start the built bundle on a virtual X server (Xvfb, the real xcb platform plugin, not offscreen),
# wait for its main window, screenshot the screen and check that the window painted.
#
#   bash packaging/smoke-window.sh [EXE] [PNG]
#       EXE  default dist/gpt2q-desktop/gpt2q-desktop
#       PNG  default build/bundle-window.png (the screenshot; look at it)
#
# Needs: xvfb-run (xvfb), xwd (x11-apps), xwininfo (x11-utils):
#   apt-get install -y xvfb x11-apps x11-utils
# Fails if the window never appears (60 s), the program dies, prints a Python traceback, or the
# screenshot is blank.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "${1:-}" != "--inner" ]]; then
    EXE="${1:-$ROOT/dist/gpt2q-desktop/gpt2q-desktop}"
    PNG="${2:-$ROOT/build/bundle-window.png}"
    for tool in xvfb-run xwd xwininfo; do
        command -v "$tool" >/dev/null || {
            echo "smoke-window.sh: $tool is missing: apt-get install -y xvfb x11-apps x11-utils" >&2
            exit 2
        }
    done
    [[ -x "$EXE" ]] || { echo "smoke-window.sh: no executable at $EXE (bash packaging/build.sh)" >&2; exit 2; }
    exec xvfb-run -a -s "-screen 0 1280x900x24" bash "${BASH_SOURCE[0]}" --inner "$EXE" "$PNG"
fi

EXE="$2"
PNG="$3"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
TMP="$(mktemp -d)"
PID=""
trap 'if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT

# A clean user: its own settings, data dir (cache, logs) and home; the X display, not offscreen.
env -u QT_QPA_PLATFORM HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/config" GPT2Q_DATA_DIR="$TMP/data" \
    "$EXE" >"$TMP/app.log" 2>&1 &
PID=$!

fail() {
    echo "smoke-window.sh: $*" >&2
    echo "--- program output ---" >&2
    cat "$TMP/app.log" >&2 || true
    kill "$PID" 2>/dev/null || true
    exit 1
}

START=$(date +%s)
GEOMETRY=""
for _ in $(seq 1 120); do
    kill -0 "$PID" 2>/dev/null || { wait "$PID" && rc=0 || rc=$?; fail "the program exited (code $rc) before showing its window"; }
    # The main window: WM_CLASS "gpt2q-desktop" (the executable's name), larger than Qt's helper windows.
    GEOMETRY="$(xwininfo -root -tree 2>/dev/null | grep '("gpt2q-desktop" "gpt2q-desktop")' \
        | grep -oE '[0-9]+x[0-9]+\+' | tr -d '+' | awk -Fx '$1 >= 400 && $2 >= 300' | head -n 1 || true)"
    [[ -n "$GEOMETRY" ]] && break
    sleep 0.5
done
[[ -n "$GEOMETRY" ]] || fail "no window appeared within 60 s"
echo "smoke-window.sh: window ${GEOMETRY} mapped after $(( $(date +%s) - START )) s"

sleep "${SMOKE_WAIT:-8}"  # let the controller open the checkpoint and the window settle
kill -0 "$PID" 2>/dev/null || fail "the program died after showing its window"
xwd -root -silent >"$TMP/screen.xwd"
kill "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true

if grep -q "Traceback (most recent call last)" "$TMP/app.log"; then
    fail "the program printed a Python traceback"
fi
"$PY" "$ROOT/packaging/xwd_to_png.py" "$TMP/screen.xwd" "$PNG" || fail "the window did not paint"
echo "smoke-window.sh: OK, screenshot in $PNG"
