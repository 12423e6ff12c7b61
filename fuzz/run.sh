#!/usr/bin/env bash
# Runs every fuzz harness (or the ones named) for a bounded time, one after another, and fails if
# any finds a crash, a sanitizer report, a hang or an exception other than atman::Error.
#
#   fuzz/run.sh [BUILD_DIR] [SECONDS] [HARNESS...]
#
# BUILD_DIR is a -DATMAN_FUZZ=ON build (default: build-asan, which scripts/test.sh makes);
# SECONDS per harness (default $ATMAN_FUZZ_SECONDS, else 25). Seeds are written fresh from
# ../shared each run; the corpus each harness grows is kept in BUILD_DIR/fuzz-work/corpus/<harness>
# so later runs start where earlier ones stopped. Crash inputs land in
# BUILD_DIR/fuzz-work/artifacts/<harness>/; reproduce one with
#   BUILD_DIR/fuzz/<harness> FILE
# and, once fixed, copy it to fuzz/regressions/<harness>/ (ctest replays those). See docs/fuzzing.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build-asan}" && pwd)"
seconds="${2:-${ATMAN_FUZZ_SECONDS:-25}}"
shift $(( $# < 2 ? $# : 2 ))
harnesses=("$@")
if ((${#harnesses[@]} == 0)); then
  harnesses=(fuzz_safetensors fuzz_checkpoint_index fuzz_config fuzz_tokenizer_files fuzz_bpe_encode
             fuzz_tokenizer_json fuzz_chat_template fuzz_image fuzz_explanation_json)
fi

work="$build/fuzz-work"
rm -rf "$work/seeds"
"$build/fuzz/atman_fuzz_seeds" "$work/seeds" "$root/../shared"

# halt_on_error: a UBSan report is a crash, not a line in the log. Leaks are checked (per input,
# by libFuzzer); LibTorch/OpenMP's one-time allocations are reachable and not reported.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
# One compute thread: the harnesses do tiny tensor work, and the machine is shared.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

status=0
summary=""
for h in "${harnesses[@]}"; do
  corpus="$work/corpus/$h"
  artifacts="$work/artifacts/$h"
  mkdir -p "$corpus" "$artifacts"
  log="$work/$h.log"
  echo "fuzz: $h for ${seconds}s"
  set +e
  "$build/fuzz/$h" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$work/seeds/$h" > "$log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  units="$(find "$corpus" -type f | wc -l)"
  if ((rc != 0)); then
    status=1
    echo "fuzz: $h FAILED (exit $rc); the end of $log:"
    tail -n 60 "$log"
    echo "fuzz: inputs that failed: $(ls "$artifacts" | tr '\n' ' ')"
    summary+="$(printf '%-24s %10s execs %6s/s  %5s corpus  FAILED' "$h" "${execs:-?}" "${rate:-?}" "$units")"$'\n'
  else
    summary+="$(printf '%-24s %10s execs %6s/s  %5s corpus  ok' "$h" "${execs:-?}" "${rate:-?}" "$units")"$'\n'
  fi
done
echo "fuzz summary (${seconds}s each):"
printf '%s' "$summary"
exit $status
