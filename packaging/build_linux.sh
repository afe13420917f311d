#!/usr/bin/env bash
# Build Integritas Desktop for Linux: the PyInstaller one-folder bundle, proven, and a .deb.
#
#   bash packaging/build_linux.sh            # build venv in build/venv-linux (created on first use)
#   bash packaging/build_linux.sh --system   # use python3 (or $PYTHON) as is: it must already have
#                                            # the project's dependencies and pyinstaller
#   ... --update-manifest                    # also write packaging/linux/bundle-manifest.txt (on
#                                            # purpose: after changing the spec or package versions)
#
# Steps (each one fails the build when it fails):
#   1. venv: pip install the project and PyInstaller (skipped with --system)
#   2. PyInstaller with packaging/integritas.spec  ->  dist/integritas/{integritas-gui,integritas}
#      (integritas is a link to integritas-gui: one program that runs the CLI under that name)
#   3. packaging/smoke_frozen.py: the frozen GUI reports the right --version and starts offscreen
#      (--smoke-test, exit 0); the frozen CLI's `hash` agrees with `openssl dgst -sha3-256` and b3sum
#   4. derives the .deb's Depends from the system libraries the bundled files link to (fails when
#      packaging/linux/depends.txt does not cover one), writes the bundle's manifest and compares it
#      with packaging/linux/bundle-manifest.txt
#   5. dist/integritas-desktop_<version>_<arch>.deb (xz): /opt/integritas-desktop, /usr/bin links,
#      desktop entry, hicolor icons, AppStream metainfo
#   6. AppImage: build/AppDir (always), dist/Integritas_Desktop-<version>-<arch>.AppImage when
#      appimagetool is on PATH or APPIMAGETOOL points at it
#   7. prints the measured sizes and fails if they pass the limits (MAX_BUNDLE_MB, MAX_DEB_MB; in
#      decimal MB, 1 MB = 1,000,000 bytes)
#
# Environment: PYTHON (interpreter: the venv's base, or the one --system uses; default python3),
# DIST_DIR (dist), BUILD_DIR (build), MAX_BUNDLE_MB (130), MAX_DEB_MB (50), SKIP_DEB=1 (stop after
# step 4), APPIMAGETOOL (path to appimagetool).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

USE_SYSTEM=0
UPDATE_MANIFEST=0
for arg in "$@"; do
  case "$arg" in
    --system) USE_SYSTEM=1 ;;
    --update-manifest) UPDATE_MANIFEST=1 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "build_linux.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

MAX_BUNDLE_MB="${MAX_BUNDLE_MB:-130}"
MAX_DEB_MB="${MAX_DEB_MB:-50}"
PKG_NAME="integritas-desktop"
INSTALL_DIR="/opt/$PKG_NAME"
DIST="${DIST_DIR:-$ROOT/dist}"
BUNDLE="$DIST/integritas"
WORK="${BUILD_DIR:-$ROOT/build}"
COMMITTED_MANIFEST="$ROOT/packaging/linux/bundle-manifest.txt"

log() { printf '\n==> %s\n' "$*"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }  # MB (decimal: 1 MB = 1,000,000 bytes)
die() { printf 'build_linux.sh: %s\n' "$*" >&2; exit 1; }

# The same parse the spec does: never import the app (or Qt) to learn the version.
VERSION="$(sed -n 's/^__version__ *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p' integritas_gui/__init__.py)"
[ -n "$VERSION" ] || die "no __version__ in integritas_gui/__init__.py"
# PEP 440 -> Debian: pre-releases sort before the release (0.2.0rc1 -> 0.2.0~rc1).
DEB_VERSION="$(printf '%s' "$VERSION" | sed -E 's/[.]?(a|b|rc|dev)([0-9]*)/~\1\2/; s/\+/+local/')"
ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
START=$(date +%s)

# --- 1. build environment ---------------------------------------------------------------------
if [ "$USE_SYSTEM" = 1 ]; then
  PY="$(command -v "${PYTHON:-python3}")"
  log "Using the current Python: $PY"
else
  VENV="$WORK/venv-linux"
  if [ ! -x "$VENV/bin/python" ]; then
    log "Creating build venv $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
  fi
  PY="$VENV/bin/python"
  log "Installing the project and PyInstaller into the build venv"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q -c "$ROOT/packaging/constraints.txt" "$ROOT[packaging]"
fi
"$PY" -c "import PyInstaller, PySide6" || die "$PY lacks PyInstaller or PySide6"

# --- 2. PyInstaller ---------------------------------------------------------------------------
log "PyInstaller (one-folder) -> $BUNDLE"
T0=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK/pyinstaller" packaging/integritas.spec
PYI_SECONDS=$(( $(date +%s) - T0 ))
[ -x "$BUNDLE/integritas-gui" ] && [ -x "$BUNDLE/integritas" ] || die "PyInstaller made no executables"
[ "$(readlink "$BUNDLE/integritas")" = integritas-gui ] || die "$BUNDLE/integritas is not a link to integritas-gui"

# --- 3. smoke tests ---------------------------------------------------------------------------
# The same checks CI runs on every OS: --version, --smoke-test offscreen, CLI hash vs openssl/b3sum.
log "Smoke test of the frozen build"
"$PY" packaging/smoke_frozen.py "$BUNDLE" || die "the frozen build failed its smoke test"

# --- 4. Depends and manifest --------------------------------------------------------------------
# The bundle holds only what the wheels and the interpreter bring (the spec drops every library from
# /lib and /usr/lib). Every other library a bundled file links to (DT_NEEDED) must come from a package
# in Depends: bundle_deps.py derives Depends from those links and packaging/linux/depends.txt, fails
# on a soname that file does not cover, and writes the bundle's manifest (Depends + every file).
log "Deriving Depends from the libraries the bundle links to (readelf + packaging/linux/depends.txt)"
MANIFEST="$WORK/bundle-manifest.txt"
"$PY" packaging/linux/bundle_deps.py "$BUNDLE" --manifest "$MANIFEST" --depends-out "$WORK/depends.txt" \
  || die "a bundled file links to a system library that no Depends entry covers (see above)"
DEPENDS_LINE="$(cat "$WORK/depends.txt")"
echo "every system library the bundle links to is covered by Depends"
if [ "$UPDATE_MANIFEST" = 1 ]; then
  cp "$MANIFEST" "$COMMITTED_MANIFEST"
  echo "wrote $COMMITTED_MANIFEST (review and commit it)"
elif [ -f "$COMMITTED_MANIFEST" ] && diff -q <(grep -v '^#' "$COMMITTED_MANIFEST") <(grep -v '^#' "$MANIFEST") >/dev/null 2>&1; then
  echo "the bundle's files and Depends match $COMMITTED_MANIFEST"
else
  echo "note: the bundle's files or Depends differ from $COMMITTED_MANIFEST (the build test fails on this):"
  diff <(grep -v '^#' "$COMMITTED_MANIFEST") <(grep -v '^#' "$MANIFEST") | head -40 || true
  echo "  a change made on purpose (spec, package versions): bash packaging/build_linux.sh --system --update-manifest"
fi

BUNDLE_BYTES=$(du -sb "$BUNDLE" | awk '{print $1}')
if [ "${SKIP_DEB:-0}" = 1 ]; then
  log "SKIP_DEB=1: stopping before the .deb"
  echo "one-folder build $BUNDLE: $(mb "$BUNDLE_BYTES") MB ($BUNDLE_BYTES bytes)"
  exit 0
fi

# --- 5. .deb ------------------------------------------------------------------------------------
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found (apt-get install dpkg)"
log "Building the .deb"
STAGE="$WORK/deb/${PKG_NAME}_${DEB_VERSION}_${ARCH}"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE$INSTALL_DIR" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
  "$STAGE/usr/share/metainfo" "$STAGE/usr/share/doc/$PKG_NAME" "$STAGE/usr/share/icons/hicolor/scalable/apps"
cp -a "$BUNDLE/." "$STAGE$INSTALL_DIR/"
ln -s "$INSTALL_DIR/integritas-gui" "$STAGE/usr/bin/integritas-gui"
ln -s "$INSTALL_DIR/integritas" "$STAGE/usr/bin/integritas"
install -m 644 resources/integritas-desktop.desktop "$STAGE/usr/share/applications/$PKG_NAME.desktop"
install -m 644 resources/technology.integritas.Desktop.metainfo.xml \
  "$STAGE/usr/share/metainfo/technology.integritas.Desktop.metainfo.xml"
# File manager menus: Dolphin service menu, Nautilus extension and scripts (packaging/linux/file-manager)
FM=packaging/linux/file-manager
install -D -m 755 "$FM/integritas-servicemenu.desktop" "$STAGE/usr/share/kio/servicemenus/$PKG_NAME.desktop"
install -D -m 644 "$FM/integritas_nautilus.py" "$STAGE/usr/share/nautilus-python/extensions/integritas_desktop.py"
install -D -m 755 -t "$STAGE/usr/share/$PKG_NAME/nautilus-scripts" "$FM/Stamp with Integritas" "$FM/Verify with Integritas"
for size in 16 24 32 48 64 128 256 512; do
  mkdir -p "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps"
  install -m 644 "resources/icons/icon-$size.png" "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps/$PKG_NAME.png"
done
install -m 644 resources/icon.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/$PKG_NAME.svg"
cat > "$STAGE/usr/share/doc/$PKG_NAME/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Integritas Desktop
License: MIT

Files: *
License: MIT
Comment: Bundled third-party components (Python, Qt/PySide6 under LGPLv3, ICU, OpenSSL,
 reportlab, httpx, blake3, keyring ...) keep their own licences; see $INSTALL_DIR/_internal.
EOF
# Normalise permissions (umask on the build machine must not leak into the package).
find "$STAGE" -type d -exec chmod 755 {} +
find "$STAGE$INSTALL_DIR" -type f -exec chmod u+rw,go+r,go-w {} +
INSTALLED_KB=$(du -sk --exclude=DEBIAN "$STAGE" | awk '{print $1}')
cat > "$STAGE/DEBIAN/control" <<EOF
Package: $PKG_NAME
Version: $DEB_VERSION
Architecture: $ARCH
Maintainer: Integritas Desktop maintainers <desktop@integritas.technology>
Installed-Size: $INSTALLED_KB
Depends: $DEPENDS_LINE
Recommends: xdg-desktop-portal, gnome-keyring | kwalletmanager | keepassxc
Section: utils
Priority: optional
Homepage: https://integritas.technology/
Description: Timestamp files on the Minima blockchain and verify them later
 Integritas Desktop hashes files on your computer and anchors only the hash on
 the Minima blockchain through the Integritas service. Verify a file later and
 see the block and date it was anchored in; keep receipts and PDF certificates.
 .
 Provides the windowed app (integritas-gui) and a command-line tool (integritas).
EOF
DEB="$DIST/${PKG_NAME}_${DEB_VERSION}_${ARCH}.deb"
rm -f "$DEB"
dpkg-deb --root-owner-group -Zxz -z9 --build "$STAGE" "$DEB" >/dev/null
dpkg-deb --info "$DEB" >/dev/null
# (grep a file, not a pipe: grep -q quitting early would fail the pipe under pipefail)
dpkg-deb --contents "$DEB" > "$WORK/deb-contents.txt"
for want in "./usr/share/applications/$PKG_NAME.desktop" "./usr/bin/integritas-gui -> $INSTALL_DIR/integritas-gui" \
            "./usr/bin/integritas -> $INSTALL_DIR/integritas" "./usr/share/icons/hicolor/256x256/apps/$PKG_NAME.png"; do
  grep -qF -- "$want" "$WORK/deb-contents.txt" || die ".deb lacks $want"
done
echo "built $DEB"

# --- 6. AppImage -------------------------------------------------------------------------------
# The AppDir is always laid out (cheap, and it proves the recipe); the AppImage itself is made only
# when appimagetool is available (PATH, or APPIMAGETOOL=/path/to/appimagetool-x86_64.AppImage).
log "AppImage: AppDir layout in $WORK/AppDir"
APPDIR="$WORK/AppDir"
rm -rf "$APPDIR"
mkdir -p "$APPDIR/usr/lib" "$APPDIR/usr/share/metainfo" "$APPDIR/usr/share/applications"
cp -a "$BUNDLE" "$APPDIR/usr/lib/$PKG_NAME"
cp -a "$STAGE/usr/share/icons" "$APPDIR/usr/share/icons"
install -m 644 resources/integritas-desktop.desktop "$APPDIR/$PKG_NAME.desktop"
install -m 644 resources/integritas-desktop.desktop "$APPDIR/usr/share/applications/$PKG_NAME.desktop"
install -m 644 resources/technology.integritas.Desktop.metainfo.xml \
  "$APPDIR/usr/share/metainfo/technology.integritas.Desktop.metainfo.xml"
install -m 644 resources/icons/icon-256.png "$APPDIR/$PKG_NAME.png"
ln -s "$PKG_NAME.png" "$APPDIR/.DirIcon"
install -m 755 packaging/linux/AppRun "$APPDIR/AppRun"
APPIMAGE=""
APPIMAGETOOL="${APPIMAGETOOL:-$(command -v appimagetool || command -v appimagetool-x86_64.AppImage || true)}"
if [ -n "$APPIMAGETOOL" ] && [ -x "$APPIMAGETOOL" ]; then
  case "$ARCH" in amd64) AI_ARCH=x86_64 ;; arm64) AI_ARCH=aarch64 ;; *) AI_ARCH="$ARCH" ;; esac
  APPIMAGE="$DIST/Integritas_Desktop-$VERSION-$AI_ARCH.AppImage"
  # APPIMAGE_EXTRACT_AND_RUN: appimagetool is itself an AppImage; this works without FUSE (CI, containers).
  APPIMAGE_EXTRACT_AND_RUN=1 ARCH="$AI_ARCH" "$APPIMAGETOOL" --no-appstream "$APPDIR" "$APPIMAGE" \
    || die "appimagetool failed"
  echo "built $APPIMAGE"
else
  echo "appimagetool not found: AppDir ready, AppImage skipped. To make it:"
  echo "  ARCH=x86_64 appimagetool $APPDIR $DIST/Integritas_Desktop-$VERSION-x86_64.AppImage"
fi

# --- 7. sizes -----------------------------------------------------------------------------------
DEB_BYTES=$(stat -c %s "$DEB")
TOTAL_SECONDS=$(( $(date +%s) - START ))
log "Sizes"
echo "one-folder build  $BUNDLE: $(mb "$BUNDLE_BYTES") MB ($BUNDLE_BYTES bytes; limit $MAX_BUNDLE_MB MB)"
echo ".deb              $(basename "$DEB"): $(mb "$DEB_BYTES") MB ($DEB_BYTES bytes; limit $MAX_DEB_MB MB)"
[ -z "$APPIMAGE" ] || echo "AppImage          $(basename "$APPIMAGE"): $(mb "$(stat -c %s "$APPIMAGE")") MB"
echo "PyInstaller took ${PYI_SECONDS}s; the whole build ${TOTAL_SECONDS}s"
[ "$BUNDLE_BYTES" -lt $(( MAX_BUNDLE_MB * 1000000 )) ] || die "one-folder build is not under $MAX_BUNDLE_MB MB"
[ "$DEB_BYTES" -lt $(( MAX_DEB_MB * 1000000 )) ] || die ".deb is not under $MAX_DEB_MB MB"
echo "OK"
