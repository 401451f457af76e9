# Shared by scripts/demo, scripts/test and bench/run: installs the Debian
# packages attn needs, then configures and builds. Source it; do not run it.

ATTN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ATTN_PACKAGES=(cmake ninja-build g++ gcc
               llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22
               libfmt-dev libdlpack-dev python3-numpy python3-torch libopenblas-dev
               libhalide14-0-dev pkgconf)
# Debian's interpreter: it has NumPy (the first python3 on PATH may not).
ATTN_PYTHON=/usr/bin/python3
ATTN_JOBS="${ATTN_JOBS:-$(nproc 2>/dev/null || echo 2)}"

attn_log() { printf '==> %s\n' "$*" >&2; }
attn_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the packages of ATTN_PACKAGES (and any given) that are missing.
attn_install_deps() {
  local missing=() p
  for p in "${ATTN_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  attn_log "installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || attn_die "need root or sudo to install: ${missing[*]}"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
    attn_log "apt-get install failed; refreshing the package lists and retrying"
    "${sudo[@]}" apt-get update ||
      attn_die "apt-get update failed"
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" ||
      attn_die "cannot install ${missing[*]}. LLVM/MLIR 22 must be available to apt (Debian's archive on our machines; elsewhere add https://apt.llvm.org's llvm-toolchain-bookworm-22 source)."
  fi
}

# attn_build BUILD_DIR [extra cmake args...]: configures (once) and builds.
attn_build() {
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    attn_log "configuring $dir"
    cmake -G Ninja -S "$ATTN_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >&2 ||
      attn_die "cmake failed"
  fi
  attn_log "building in $dir ($ATTN_JOBS jobs)"
  ninja -C "$dir" -j "$ATTN_JOBS" >&2 || attn_die "build failed"
}
