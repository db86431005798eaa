#!/usr/bin/env bash
# Build the double-clickable gpt2q-desktop bundle with PyInstaller, in one command:
#
#   bash packaging/build.sh               # -> dist/gpt2q-desktop/gpt2q-desktop (+ gpt2q CLI symlink)
#   bash packaging/build.sh --self-test   # ... then run the bundle's headless self-test; fail if it fails
#   bash packaging/build.sh --onefile     # -> dist/gpt2q-desktop-<version> (one self-extracting file)
#
# Uses $PYTHON if set, else the project's .venv, else the active $VIRTUAL_ENV, else creates .venv;
# installs the `build` extra (PyInstaller + hooks) into it when missing. Prints the build time and the
# bundle size. Linux: install libxcb-icccm4 and libxcb-keysyms1 before building, so the bundle carries them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SELF_TEST=0
SPEC_ARGS=()
for arg in "$@"; do
    case "$arg" in
        --self-test) SELF_TEST=1 ;;
        --onefile) SPEC_ARGS+=(--onefile) ;;
        --allow-no-demo) SPEC_ARGS+=(--allow-no-demo) ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

if [[ -n "${PYTHON:-}" ]]; then
    PY="$PYTHON"
elif [[ -x "$ROOT/.venv/bin/python" ]]; then
    PY="$ROOT/.venv/bin/python"
elif [[ -n "${VIRTUAL_ENV:-}" ]]; then
    PY="$VIRTUAL_ENV/bin/python"
else
    echo "build.sh: no .venv here: creating it (python3 -m venv .venv) and installing the app with its build extra"
    python3 -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/python" -m pip install --quiet -e ".[build]"
    PY="$ROOT/.venv/bin/python"
fi

# The app itself must be installed (its metadata goes into the bundle), and PyInstaller with its hooks.
if ! "$PY" -c "import gpt2q_desktop, PyInstaller, _pyinstaller_hooks_contrib" 2>/dev/null; then
    echo "build.sh: installing the build extra (PyInstaller) into $("$PY" -c 'import sys; print(sys.prefix)')"
    "$PY" -m pip install --quiet -e ".[build]"
fi

if [[ ! -f resources/demo-student/model.safetensors && " ${SPEC_ARGS[*]:-} " != *" --allow-no-demo "* ]]; then
    echo "build.sh: resources/demo-student/model.safetensors is missing; the bundle needs the demo student." >&2
    exit 1
fi

# Qt's X11 plugin links against a few xcb libraries that PyInstaller copies only if they are installed
# here; without them the bundle starts only on desktops that have them.
if [[ "$(uname -s)" == Linux ]]; then
    QT_DIR="$("$PY" -c 'import os, PySide6; print(os.path.join(os.path.dirname(PySide6.__file__), "Qt"))')"
    MISSING="$(LD_LIBRARY_PATH="$QT_DIR/lib" ldd "$QT_DIR/plugins/platforms/libqxcb.so" 2>/dev/null | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ' || true)"
    if [[ -n "$MISSING" ]]; then
        echo "build.sh: WARNING: Qt's xcb plugin needs $MISSING- not installed here, so not bundled:" >&2
        echo "build.sh: the window will not open on X11 desktops lacking them. Fix: apt-get install -y libxcb-icccm4 libxcb-keysyms1" >&2
    fi
fi

PYI_VERSION="$("$PY" -c 'import PyInstaller; print(PyInstaller.__version__)')"
echo "build.sh: PyInstaller $PYI_VERSION, $("$PY" --version)"
START=$(date +%s)
# --noconfirm: replace dist/gpt2q-desktop; --clean: no stale cache from another environment.
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
    packaging/gpt2q-desktop.spec ${SPEC_ARGS[@]:+-- "${SPEC_ARGS[@]}"}
BUILD_SECONDS=$(( $(date +%s) - START ))

if [[ " ${SPEC_ARGS[*]:-} " == *" --onefile "* ]]; then
    EXE="$(ls -t dist/gpt2q-desktop-* | head -n 1)"
    SIZE="$(du -sh "$EXE" | cut -f1)"
else
    EXE="dist/gpt2q-desktop/gpt2q-desktop"
    SIZE="$(du -sh dist/gpt2q-desktop | cut -f1)"
fi
[[ -x "$EXE" ]] || { echo "build.sh: no executable at $EXE" >&2; exit 1; }
echo "build.sh: built $EXE in ${BUILD_SECONDS} s; bundle size ${SIZE}"

if [[ "$SELF_TEST" == 1 ]]; then
    echo "build.sh: running the bundle's self-test (QT_QPA_PLATFORM=offscreen)"
    START=$(date +%s)
    if QT_QPA_PLATFORM=offscreen "$EXE" --self-test; then
        echo "build.sh: bundle self-test passed in $(( $(date +%s) - START )) s"
    else
        echo "build.sh: bundle self-test FAILED" >&2
        exit 1
    fi
fi
