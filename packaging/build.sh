#!/usr/bin/env bash
# Build the double-clickable gpt2q-desktop bundle with PyInstaller, in one command (Linux and macOS; on Windows
# run packaging/build.py with the venv's Python, see the README):
#
#   bash packaging/build.sh               # -> dist/gpt2q-desktop/gpt2q-desktop (+ gpt2q CLI symlink)
#   bash packaging/build.sh --self-test   # ... then run the bundle's headless self-test; fail if it fails
#   bash packaging/build.sh --onefile     # -> dist/gpt2q-desktop-<version> (one self-extracting file)
#
# Uses $PYTHON if set, else the project's .venv, else the active $VIRTUAL_ENV, else creates .venv; then runs
# packaging/build.py with it, which installs the `build` extra (PyInstaller + hooks) when missing and prints
# the build time and the bundle size. Linux: install libxcb-icccm4 and libxcb-keysyms1 before building, so
# the bundle carries them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

for arg in "$@"; do
    case "$arg" in
        --self-test|--onefile|--allow-no-demo) ;;
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

exec "$PY" "$ROOT/packaging/build.py" "$@"
