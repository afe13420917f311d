#!/usr/bin/env bash
# Build Integritas Desktop for macOS: the PyInstaller .app, proven, in a .dmg.
#
#   bash packaging/build_macos.sh            # build venv in build/venv-macos (created on first use)
#   bash packaging/build_macos.sh --system   # use the current python3 as is
#
# Steps (each one fails the build when it fails):
#   1. venv: pip install the project and PyInstaller (skipped with --system)
#   2. PyInstaller with packaging/integritas.spec -> "dist/Integritas Desktop.app" (integritas-gui and
#      integritas in Contents/MacOS)
#   3. packaging/smoke_frozen.py on the .app: --version, --smoke-test offscreen, CLI hash vs openssl
#   4. codesign (hardened runtime, packaging/macos/entitlements.plist) ONLY when MACOS_CERT_P12_BASE64,
#      MACOS_CERT_PASSWORD and MACOS_SIGN_IDENTITY are set; the certificate lives in a throwaway keychain
#   5. dist/IntegritasDesktop-<version>-macos-<arch>.dmg (hdiutil, with an /Applications link);
#      signed as in 4
#   6. notarize + staple ONLY when APPLE_ID, APPLE_TEAM_ID and APPLE_APP_PASSWORD are set (and 4 ran)
#   7. the .app inside the mounted .dmg passes the smoke test again
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
USE_SYSTEM=0
for arg in "$@"; do
  case "$arg" in
    --system) USE_SYSTEM=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build_macos.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

APP_NAME="Integritas Desktop"
DIST="$ROOT/dist"
WORK="$ROOT/build"
APP="$DIST/$APP_NAME.app"
log() { printf '\n==> %s\n' "$*"; }
die() { printf 'build_macos.sh: %s\n' "$*" >&2; exit 1; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

VERSION="$(sed -n 's/^__version__ *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p' integritas_gui/__init__.py)"
[ -n "$VERSION" ] || die "no __version__ in integritas_gui/__init__.py"
ARCH="$(uname -m)"
START=$(date +%s)

# --- 1. build environment
if [ "$USE_SYSTEM" = 1 ]; then
  PY="$(command -v python3)"
else
  VENV="$WORK/venv-macos"
  [ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
  PY="$VENV/bin/python"
  log "Installing the project and PyInstaller into the build venv"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q "$ROOT[packaging]"
fi

# --- 2. PyInstaller
log "PyInstaller -> $APP"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK/pyinstaller" packaging/integritas.spec
[ -x "$APP/Contents/MacOS/integritas-gui" ] && [ -x "$APP/Contents/MacOS/integritas" ] \
  || die "the .app lacks its programs"

# --- 3. smoke test
log "Smoke test of the frozen .app"
"$PY" packaging/smoke_frozen.py "$APP/Contents/MacOS" || die "the frozen .app failed its smoke test"

# --- 4. codesign (only with credentials)
SIGN_IDENTITY=""
if [ -n "${MACOS_CERT_P12_BASE64:-}" ] && [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  log "Signing with $MACOS_SIGN_IDENTITY"
  KEYCHAIN="$WORK/signing.keychain-db"
  KEYCHAIN_PASSWORD="$(openssl rand -hex 16)"
  P12="$(mktemp -t integritas-cert).p12"
  trap 'rm -f "$P12"; security delete-keychain "$KEYCHAIN" 2>/dev/null || true' EXIT
  printf '%s' "$MACOS_CERT_P12_BASE64" | base64 --decode > "$P12"
  security create-keychain -p "$KEYCHAIN_PASSWORD" "$KEYCHAIN"
  security set-keychain-settings -lut 3600 "$KEYCHAIN"
  security unlock-keychain -p "$KEYCHAIN_PASSWORD" "$KEYCHAIN"
  security import "$P12" -k "$KEYCHAIN" -P "${MACOS_CERT_PASSWORD:-}" -T /usr/bin/codesign >/dev/null
  rm -f "$P12"
  security set-key-partition-list -S apple-tool:,apple: -s -k "$KEYCHAIN_PASSWORD" "$KEYCHAIN" >/dev/null
  security list-keychains -d user -s "$KEYCHAIN" $(security list-keychains -d user | tr -d '"')
  SIGN_IDENTITY="$MACOS_SIGN_IDENTITY"
  # Inside out: every Mach-O in the bundle, then the programs, then the .app itself.
  find "$APP/Contents" -type f \( -name '*.so' -o -name '*.dylib' -o -perm -u+x \) -print0 |
    while IFS= read -r -d '' f; do
      if file "$f" | grep -q 'Mach-O'; then
        codesign --force --timestamp --options runtime --entitlements packaging/macos/entitlements.plist \
          --keychain "$KEYCHAIN" --sign "$SIGN_IDENTITY" "$f"
      fi
    done
  codesign --force --timestamp --options runtime --entitlements packaging/macos/entitlements.plist \
    --keychain "$KEYCHAIN" --sign "$SIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
else
  echo "MACOS_CERT_P12_BASE64 / MACOS_SIGN_IDENTITY not set: the .app keeps PyInstaller's ad-hoc signature"
fi

# --- 5. dmg
DMG="$DIST/IntegritasDesktop-$VERSION-macos-$ARCH.dmg"
log "Disk image $DMG"
STAGE="$WORK/dmg"
rm -rf "$STAGE" "$DMG"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "$APP_NAME" -srcfolder "$STAGE" -ov -format UDZO -fs HFS+ "$DMG" >/dev/null
[ -z "$SIGN_IDENTITY" ] || codesign --force --timestamp --keychain "$KEYCHAIN" --sign "$SIGN_IDENTITY" "$DMG"

# --- 6. notarize (only with credentials and a signed build)
if [ -n "$SIGN_IDENTITY" ] && [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
  log "Notarizing"
  xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
    --password "$APPLE_APP_PASSWORD" --wait
  xcrun stapler staple "$DMG"
else
  echo "Apple notarization credentials not set (or the build is unsigned): not notarized"
fi

# --- 7. the .app as shipped in the .dmg
log "Smoke test of the .app inside the .dmg"
MOUNT="$(mktemp -d)"
hdiutil attach -nobrowse -readonly -mountpoint "$MOUNT" "$DMG" >/dev/null
SMOKE_RC=0
"$PY" packaging/smoke_frozen.py "$MOUNT/$APP_NAME.app/Contents/MacOS" || SMOKE_RC=$?
hdiutil detach "$MOUNT" >/dev/null || hdiutil detach -force "$MOUNT" >/dev/null
[ "$SMOKE_RC" = 0 ] || die "the .app in the .dmg failed its smoke test"

log "Sizes"
echo ".app  $(mb "$(du -sk "$APP" | awk '{print $1 * 1024}')") MB"
echo ".dmg  $(basename "$DMG"): $(mb "$(stat -f %z "$DMG")") MB"
echo "the whole build took $(( $(date +%s) - START ))s"
