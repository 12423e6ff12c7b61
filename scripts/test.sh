#!/usr/bin/env bash
# Installs dependencies, builds (Release) and runs every test with ctest. GUI tests run offscreen.
# Then the reliability stage (docs/RELIABILITY.md, docs/fuzzing.md): an ASan + UBSan build of the
# core with fuzz instrumentation (build-asan, GUI off) runs the core tests and every fuzz harness
# for a bounded time. ATMAN_SANITIZE_STAGE=0 skips that stage; ATMAN_FUZZ_SECONDS (default 15)
# is the time per harness, 0 skips fuzzing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
stage_start=$SECONDS
stage_done() { echo "test.sh: $1 took $((SECONDS - stage_start)) s"; stage_start=$SECONDS; }
# Formatting first: seconds, against the build's minutes. On a fresh machine clang-format comes
# with setup.sh, so the check then runs right after it.
format_checked=0
if command -v clang-format >/dev/null; then
  "$root/scripts/check_format.sh"
  format_checked=1
fi
"$root/scripts/setup.sh"
[ "$format_checked" = 1 ] || "$root/scripts/check_format.sh"
stage_done "setup and the Release build"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
cd "$root/build"
# Two at a time: most tests run one LibTorch thread, and the GUI tests mostly wait.
ctest --output-on-failure --timeout 900 -j "${ATMAN_TEST_JOBS:-$(nproc)}" "$@"
stage_done "the tests"

if [ "${ATMAN_SANITIZE_STAGE:-1}" != 0 ]; then
  asan="$root/build-asan"
  export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"
  # -O1 -g1: half the compile time of -O2 -g under the sanitizers, with line numbers in reports.
  cmake -S "$root" -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DATMAN_SANITIZE=ON -DATMAN_FUZZ=ON \
    -DATMAN_BUILD_GUI=OFF >/dev/null
  cmake --build "$asan" -j "${ATMAN_BUILD_JOBS:-$(nproc)}" --target tests/all fuzz/all
  stage_done "the sanitizer build"
  # LibTorch, OpenMP and OpenCV are not instrumented; fuzz/sanitizers/ lists the few third-party
  # reports suppressed and why. halt_on_error: a UBSan report fails the test.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export LSAN_OPTIONS="suppressions=$root/fuzz/sanitizers/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/fuzz/sanitizers/ubsan.supp"
  # Two at a time: the tests spend much of their time in uninstrumented LibTorch, one thread each.
  (cd "$asan" && ctest --output-on-failure --timeout 900 -j 2 -L core)
  stage_done "the sanitized core tests"
  if [ "${ATMAN_FUZZ_SECONDS:-15}" != 0 ]; then
    "$root/fuzz/run.sh" "$asan" "${ATMAN_FUZZ_SECONDS:-15}"
    stage_done "fuzzing"
  fi
fi
