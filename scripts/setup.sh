#!/usr/bin/env bash
# Installs the Debian packages AtMan Studio needs (idempotent) and builds it (Release, Ninja,
# ccache when present). Usage: scripts/setup.sh [build-dir]   (default: build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread   # without OpenBLAS, LibTorch runs on the 25x slower reference BLAS
  libopencv-dev nlohmann-json3-dev libpcre2-dev
  libcurl4-openssl-dev libssl-dev   # Hugging Face Hub downloads (atman fetch), sha256 checks
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler openssl  # atman serve (docs/remote.md)
  qt6-base-dev qt6-svg-dev libqcustomplot-dev libgl-dev xvfb xauth
  qtkeychain-qt6-dev               # AtMan Studio keeps server tokens in the platform keychain
  libjpeg-dev                      # test_hostile_inputs writes a CMYK JPEG, which OpenCV cannot
  clang libclang-rt-14-dev         # libFuzzer's runtime for the fuzz harnesses (docs/fuzzing.md)
  python3                          # scripts/gen/ table generators; test generated_tables
  clang-format                     # scripts/check_format.sh (the .clang-format of clang-format 14)
  libopenmpi-dev openmpi-bin       # mpirun -n N atman eval (ATMAN_WITH_MPI, docs/cluster.md)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Two parallel jobs: each LibTorch translation unit takes ~1 GB to compile.
cmake --build "$build" -j "${ATMAN_BUILD_JOBS:-$(nproc)}"
