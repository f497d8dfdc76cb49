# Shared by scripts/demo and scripts/test: install what is missing (Debian packages only),
# configure and build. Idempotent: a second run with nothing changed takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# Everything the build, the tests, the benchmarks, the fuzz targets (clang; llvm for
# llvm-symbolizer) and the Python package need.
TORUSML_PACKAGES=(
  g++ clang llvm cmake ninja-build pkg-config git
  libsodium-dev libgtest-dev libgmock-dev libbenchmark-dev libfftw3-dev
  python3 python3-dev python3-numpy python3-sklearn python3-pandas python3-pybind11 pybind11-dev
  python3-pytest python3-xgboost libonnx-dev libprotobuf-dev protobuf-compiler python3-onnx
  python3-torch python3-tqdm python3-skorch libcpp-httplib-dev libssl-dev
)

log() { printf '\033[1m[torusml]\033[0m %s\n' "$*"; }

ensure_packages() {
  local missing=()
  for p in "${TORUSML_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  log "installing missing packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo=(sudo); else
      echo "error: packages missing (${missing[*]}) and not running as root; run as root or install them" >&2
      exit 1
    fi
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# build_tree <dir> [cmake args...]: configure once, then incremental builds with ninja.
build_tree() {
  local dir="$1"
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    log "configuring $dir"
    cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >/dev/null
  fi
  log "building $dir"
  ninja -C "$dir" --quiet
}
