#!/usr/bin/env bash
# `atman eval` split over processes and resumed (docs/cluster.md), checked against one plain run
# item for item with eval_compare.py (every score equal; only the wall-clock seconds excluded).
#   cli: --shard 0/2 + 1/2 and a merging rerun; --stop-after (a killed run) and its resumption;
#        a changed configuration refused.
#   mpi: mpirun -n 1 and -n 2; -n 2 with every rank killed after 2 results, then resumed.
# Usage: eval_mpi_test.sh cli|mpi ATMAN SHARED_DIR PYTHON COMPARE_PY [MPIRUN]
# Exit 77 (skipped) in mpi mode when there is no mpirun or atman was built without MPI.
set -euo pipefail
mode=$1 atman=$2 shared=$3 python=$4 compare=$5 mpirun=${6:-}
if [ "$mode" = mpi ] && { [ -z "$mpirun" ] || [ ! -x "$mpirun" ]; }; then
  echo "skipped: no mpirun, or atman built without MPI (ATMAN_WITH_MPI=OFF)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# Six shapes-eval items, the random reference (seeded per item index) and AtMan, short curves.
# One thread per process: the same arithmetic in every run whatever the launcher binds.
args=(eval shapes --model "$shared/models/shapes-clip" --data "$shared/data/shapes-eval"
      --limit 6 --methods random,atman_single --faithfulness-steps 2 --threads 1 --quiet)
results=12  # 6 items x 2 methods

fail() { echo "FAIL: $*"; exit 1; }
# run PREFIX [launcher...] -- [extra args]: the report as PREFIX.md/.json/.csv, results PREFIX.jsonl
run() {
  local prefix=$1; shift
  local launcher=()
  while [ "$1" != -- ]; do launcher+=("$1"); shift; done
  shift
  "${launcher[@]}" "$atman" "${args[@]}" --results "$prefix.jsonl" --json "$prefix.json" \
    --csv "$prefix.csv" "$@" > "$prefix.md"
}
count() { "$python" "$compare" count "$1"; }
expect_count() {
  local got; got=$(count "$1")
  [ "$got" = "$2" ] || fail "$1: expected '$2' (result lines, distinct items x methods), got '$got'"
}

run one --
"$python" "$compare" count one
expect_count one "$results $results"

if [ "$mode" = cli ]; then
  # Two shards as two independent processes (a Kubernetes indexed Job), then one merging run that
  # finds every result finished and only assembles the report.
  run shard -- --shard 0/2 > /dev/null
  run shard -- --shard 1/2 > /dev/null
  expect_count shard "$results $results"
  run shard --
  expect_count shard "$results $results"  # the merge computed nothing
  "$python" "$compare" same one shard

  # A run killed after 3 results keeps exactly those; the rerun computes only the other 9.
  status=0
  run resumed -- --stop-after 3 2> stop.err || status=$?
  [ "$status" = 3 ] || fail "--stop-after 3 exited with $status"
  expect_count resumed "3 3"
  cp resumed.jsonl killed.jsonl
  run resumed --
  expect_count resumed "$results $results"
  cmp -s killed.jsonl <(head -c "$(stat -c %s killed.jsonl)" resumed.jsonl) ||
    fail "the finished results were rewritten"
  "$python" "$compare" same one resumed

  # Another configuration on the same results file is refused with a message.
  if "$atman" "${args[@]}" --faithfulness-steps 3 --results resumed.jsonl > /dev/null 2> refused.err; then
    fail "a results file of another configuration was reused"
  fi
  grep -q "differs in: faithfulness_steps" refused.err || { cat refused.err; fail "no message"; }
  if "$atman" "${args[@]}" --shard 2/2 > /dev/null 2> shard.err; then fail "--shard 2/2 accepted"; fi
  grep -q -- "--shard expects I/N" shard.err || { cat shard.err; fail "no --shard message"; }
  echo "PASS: --shard and --results"
  exit 0
fi

# mpirun as root needs explicit consent; the shared-memory transport's single-copy mechanism (CMA)
# is not permitted in many containers; two ranks may exceed the cores (oversubscribe), and binding
# each rank to one core would serialise its threads.
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# The sanitizer build (scripts/test.sh): Open MPI's runtime keeps hwloc, PMIx and plugin allocations
# until exit, and it unloads the plugins before LeakSanitizer reports, so their frames have no module
# name a suppression could match. The ranks check everything else; leaks of our own code are
# checked by the runs without MPI (here "one", and eval_shards_cli).
mpi=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
     "$mpirun" --oversubscribe --bind-to none --mca btl self,vader)

run n1 "${mpi[@]}" -n 1 --
"$python" "$compare" same one n1
run n2 "${mpi[@]}" -n 2 --
expect_count n2 "$results $results"
[ -s n2.rank0.jsonl ] && [ -s n2.rank1.jsonl ] || fail "each rank writes its own results file"
"$python" "$compare" same one n2

# Every rank exits like a killed process after 2 results (mpirun then ends the others): each
# keeps what it finished; the rerun completes the rest without recomputing any.
status=0
run killed "${mpi[@]}" -n 2 -- --stop-after 2 > /dev/null 2> killed.err || status=$?
[ "$status" != 0 ] || fail "the killed run succeeded"
read -r lines distinct < <(count killed)
[ "$lines" = "$distinct" ] && [ "$lines" -ge 2 ] && [ "$lines" -le 4 ] ||
  fail "after the kill: $lines result lines, $distinct distinct (expected 2..4)"
for r in 0 1; do [ -f killed.rank$r.jsonl ] && cp killed.rank$r.jsonl before.rank$r.jsonl; done
run killed "${mpi[@]}" -n 2 --
expect_count killed "$results $results"
for r in 0 1; do
  if [ -f before.rank$r.jsonl ]; then
    cmp -s before.rank$r.jsonl <(head -c "$(stat -c %s before.rank$r.jsonl)" killed.rank$r.jsonl) ||
      fail "rank $r's finished results were rewritten"
  fi
done
"$python" "$compare" same one killed
echo "PASS: mpirun -n 1 and -n 2 equal one process item for item; resumed after $lines of $results"
