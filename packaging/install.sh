#!/bin/sh
# Install PiecePlayer for the current user, without root, from the unpacked PiecePlayer-…-linux-x86_64.tar.gz:
#   ./install.sh               install (or update): ~/.local/share/pieceplayer, ~/.local/bin/pieceplayer,
#                              the applications-menu entry, its icons, and the handler for pieceplayer:// links
#   ./install.sh --uninstall   remove all of that (the cache and settings stay; see README)
# Needs a 64-bit x86 Linux with glibc 2.36 or newer and OpenGL/EGL libraries (any desktop has them).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
app="$data/pieceplayer"
bin="$HOME/.local/bin"
desktop="$data/applications/pieceplayer.desktop"

refresh() {
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database "$data/applications" || true; fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$data/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q "$data/icons/hicolor" || true
  fi
}

case "${1:-}" in
  --uninstall)
    rm -rf "$app"
    rm -f "$bin/pieceplayer" "$desktop"
    find "$data/icons/hicolor" -path '*/apps/pieceplayer.*' -exec rm -f {} + 2>/dev/null || true
    refresh
    echo "PiecePlayer is uninstalled."
    exit 0 ;;
  "") ;;
  *)
    echo "usage: $0 [--uninstall]" >&2
    exit 2 ;;
esac

[ -x "$here/PiecePlayer/PiecePlayer" ] || { echo "install.sh: run me from the unpacked archive (PiecePlayer/ is missing)" >&2; exit 1; }

# Replace the app folder as a whole, so files of an older version never linger.
rm -rf "$app.new"
mkdir -p "$data"
cp -R "$here/PiecePlayer" "$app.new"
rm -rf "$app"
mv "$app.new" "$app"

mkdir -p "$bin" "$data/applications"
ln -sf "$app/PiecePlayer" "$bin/pieceplayer"
# The menu entry starts the app by its full path: ~/.local/bin is not always on a desktop session's PATH.
sed -e "s|^Exec=.*|Exec=\"$app/PiecePlayer\" %u|" -e "s|^TryExec=.*|TryExec=$app/PiecePlayer|" \
  "$here/share/applications/pieceplayer.desktop" > "$desktop"
(cd "$here/share" && find icons -type f) | while read -r icon; do
  mkdir -p "$(dirname "$data/$icon")"
  cp "$here/share/$icon" "$data/$icon"
done
refresh
if command -v xdg-mime >/dev/null 2>&1; then xdg-mime default pieceplayer.desktop x-scheme-handler/pieceplayer || true; fi

echo "PiecePlayer is installed: start it from the applications menu, or run $bin/pieceplayer"
case ":$PATH:" in *":$bin:"*) ;; *) echo "($bin is not on your PATH; the menu entry works regardless)" ;; esac
