#!/usr/bin/env bash
# Makes `import torusml` work from any directory with Debian's interpreter (/usr/bin/python3):
# writes a .pth file pointing at the build's package directory (<build>/python, which holds
# torusml/ with the compiled module _core*.so) into that interpreter's site directory, e.g.
# /usr/local/lib/python3.11/dist-packages/torusml.pth. Idempotent (rewrites the file only when
# its content changes). Run as root, after building.
#
#   scripts/lib/install_python.sh [BUILD_DIR]      (default: <repo>/build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="$(cd "${1:-$ROOT/build}" && pwd)"
PYTHON=/usr/bin/python3
PACKAGE_PARENT="$BUILD_DIR/python"

if ! compgen -G "$PACKAGE_PARENT/torusml/_core*.so" >/dev/null; then
  echo "error: $PACKAGE_PARENT/torusml/_core*.so not found; build first (ninja -C $BUILD_DIR)" >&2
  exit 1
fi

# The first site directory of the interpreter (Debian: /usr/local/lib/python3.X/dist-packages).
SITE_DIR="$("$PYTHON" -c 'import site; print(site.getsitepackages()[0])')"
PTH="$SITE_DIR/torusml.pth"
mkdir -p "$SITE_DIR"
if [ ! -f "$PTH" ] || [ "$(cat "$PTH")" != "$PACKAGE_PARENT" ]; then
  printf '%s\n' "$PACKAGE_PARENT" >"$PTH"
  echo "[torusml] wrote $PTH -> $PACKAGE_PARENT"
fi

# Check from a neutral directory that the package is the one just built.
found="$(cd / && "$PYTHON" -c 'import torusml, os; print(os.path.dirname(torusml.__file__))')"
if [ "$found" != "$PACKAGE_PARENT/torusml" ]; then
  echo "error: /usr/bin/python3 imports torusml from $found, not $PACKAGE_PARENT/torusml" >&2
  exit 1
fi
