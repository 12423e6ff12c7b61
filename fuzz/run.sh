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
             fuzz_tokenizer_json fuzz_spiece fuzz_chat_template fuzz_image fuzz_explanation_json)
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

# Harnesses run ATMAN_FUZZ_JOBS at a time (default: one per core): each is single-threaded.
jobs="${ATMAN_FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN)}"  # not nproc: it obeys OMP_NUM_THREADS
fuzz_one() {
  local h="$1" corpus="$work/corpus/$1" artifacts="$work/artifacts/$1" log="$work/$1.log" rc=0
  mkdir -p "$corpus" "$artifacts"
  "$build/fuzz/$h" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$work/seeds/$h" > "$log" 2>&1 || rc=$?
  local execs rate units verdict=ok
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  units="$(find "$corpus" -type f | wc -l)"
  if ((rc != 0)); then
    verdict=FAILED
    { echo "fuzz: $h FAILED (exit $rc); the end of $log:"; tail -n 60 "$log"
      echo "fuzz: inputs that failed: $(ls "$artifacts" | tr '\n' ' ')"; } > "$work/$h.failure"
  fi
  printf '%-24s %10s execs %6s/s  %5s corpus  %s\n' "$h" "${execs:-?}" "${rate:-?}" "$units" \
    "$verdict" > "$work/$h.summary"
  return $rc
}

rm -f "$work"/*.summary "$work"/*.failure
running=0
for h in "${harnesses[@]}"; do
  echo "fuzz: $h for ${seconds}s"
  fuzz_one "$h" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true
status=0
for h in "${harnesses[@]}"; do
  if [ -f "$work/$h.failure" ]; then
    status=1
    cat "$work/$h.failure"
  fi
done
echo "fuzz summary (${seconds}s each, $jobs at a time):"
for h in "${harnesses[@]}"; do cat "$work/$h.summary"; done
exit $status
