#!/usr/bin/env bash
# Install gpt2q-desktop's launcher entry and icons for the current user (no root needed):
#
#   bash packaging/install-desktop-entry.sh              # Exec = the built bundle if present, else the venv's
#   bash packaging/install-desktop-entry.sh --exec PATH  # Exec = PATH
#   bash packaging/install-desktop-entry.sh --uninstall
#
# Files go to ${XDG_DATA_HOME:-~/.local/share}/applications/gpt2q-desktop.desktop and
# .../icons/hicolor/<N>x<N>/apps/gpt2q-desktop.png (+ scalable/apps/gpt2q-desktop.svg).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor"
NAME=gpt2q-desktop
SIZES=(16 32 48 64 128 256)

EXEC=""
UNINSTALL=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --exec)
            [[ $# -ge 2 ]] || { echo "install-desktop-entry.sh: --exec needs a path" >&2; exit 2; }
            EXEC="$2"; shift 2 ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "install-desktop-entry.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

refresh() {
    command -v update-desktop-database >/dev/null && update-desktop-database -q "$APPS" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" 2>/dev/null || true
}

if [[ "$UNINSTALL" == 1 ]]; then
    rm -f "$APPS/$NAME.desktop" "$ICONS/scalable/apps/$NAME.svg"
    for n in "${SIZES[@]}"; do rm -f "$ICONS/${n}x${n}/apps/$NAME.png"; done
    refresh
    echo "removed $APPS/$NAME.desktop and its icons"
    exit 0
fi

if [[ -z "$EXEC" ]]; then
    for candidate in "$ROOT/dist/gpt2q-desktop/gpt2q-desktop" "$ROOT/.venv/bin/gpt2q-desktop" "$(command -v gpt2q-desktop || true)"; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then EXEC="$candidate"; break; fi
    done
fi
if [[ -z "$EXEC" || ! -x "$EXEC" ]]; then
    echo "install-desktop-entry.sh: no gpt2q-desktop executable found; build it (bash packaging/build.sh)," >&2
    echo "install the package (pip install -e .), or pass --exec PATH" >&2
    exit 1
fi
EXEC="$(cd "$(dirname "$EXEC")" && pwd)/$(basename "$EXEC")"

mkdir -p "$APPS" "$ICONS/scalable/apps"
install -m 644 "$ROOT/resources/icons/$NAME.svg" "$ICONS/scalable/apps/$NAME.svg"
for n in "${SIZES[@]}"; do
    mkdir -p "$ICONS/${n}x${n}/apps"
    install -m 644 "$ROOT/resources/icons/$NAME-$n.png" "$ICONS/${n}x${n}/apps/$NAME.png"
done
# Exec/TryExec must be absolute (the bundle is not on PATH). Exec's path is quoted as the Desktop Entry
# spec says: inside double quotes, escape " ` $ and \ with a backslash; a literal % is written %%.
# Both values are escaped again for the desktop file's string syntax (a backslash doubles).
quoted="$(printf '%s' "$EXEC" | sed -e 's/[\\"`$]/\\&/g' -e 's/%/%%/g')"
exec_line="Exec=\"$quoted\" %f"
tryexec_line="TryExec=$EXEC"
exec_line="${exec_line//\\/\\\\}"
tryexec_line="${tryexec_line//\\/\\\\}"
while IFS= read -r line || [[ -n "$line" ]]; do
    case "$line" in
        Exec=*) printf '%s\n' "$exec_line" ;;
        TryExec=*) printf '%s\n' "$tryexec_line" ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$ROOT/resources/$NAME.desktop" > "$APPS/$NAME.desktop.tmp"
chmod 644 "$APPS/$NAME.desktop.tmp"
mv "$APPS/$NAME.desktop.tmp" "$APPS/$NAME.desktop"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$APPS/$NAME.desktop"; fi
refresh
echo "installed $APPS/$NAME.desktop (Exec=$EXEC) and icons under $ICONS"
