#!/usr/bin/env bash
# Runs each libFuzzer target of a MHACHECK_FUZZ=ON build for a fixed time.
#
#   fuzz/run_fuzzers.sh BUILD_DIR SECONDS
#
# Each fuzzer starts from a copy of its seed corpus (and of its saved regression inputs) in a
# temporary folder, so the repository is never written to except for findings. Every crash,
# timeout, out-of-memory or leak input is copied to tests/fuzz_regressions/FUZZER/, where the
# CTest test fuzz_replay_FUZZER replays it from then on. Prints, per fuzzer, the executions and
# the findings; exits 1 if any fuzzer found anything.
#
# The seed folders must agree with fuzz/CMakeLists.txt.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"  # specs in the corpus name tensor files relative to the repository

work=$(mktemp -d "${TMPDIR:-/tmp}/mhacheck-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

seeds() {
  case "$1" in
    spec) ls examples/*.json fuzz/corpus/spec/* ;;
    python_text) ls fuzz/corpus/python_text/* ;;
    npy) ls tests/npy/*.npy tests/npy/*.npz examples/run/*.npz ;;
  esac
  find "tests/fuzz_regressions/$1" -type f ! -name README.md ! -name .gitkeep 2>/dev/null || true
}

total_findings=0
summary=""
for name in spec python_text npy; do
  binary="$build/fuzz/fuzz_$name"
  if [ ! -x "$binary" ]; then
    echo "error: $binary is missing (configure with -DMHACHECK_FUZZ=ON and CXX=clang++-14)" >&2
    exit 2
  fi
  corpus="$work/$name/corpus"
  artifacts="$work/$name/artifacts"
  mkdir -p "$corpus" "$artifacts"
  seeds "$name" | while read -r seed; do cp "$seed" "$corpus/"; done
  log="$work/$name/log"
  echo "== fuzz_$name: ${seconds} s from $(ls "$corpus" | wc -l) seeds"
  status=0
  # A fixed seed makes the sequence of inputs the same on every machine: a slower CI machine runs
  # a prefix of what a longer local run has already run clean (MHACHECK_FUZZ_SEED to explore).
  "$binary" -seed="${MHACHECK_FUZZ_SEED:-1}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ -z "$runs" ]; then
    runs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
  fi
  findings=0
  mkdir -p "tests/fuzz_regressions/$name"
  for artifact in "$artifacts"/crash-* "$artifacts"/timeout-* "$artifacts"/oom-* "$artifacts"/leak-*; do
    [ -e "$artifact" ] || continue
    findings=$((findings + 1))
    cp "$artifact" "tests/fuzz_regressions/$name/"
    echo "   finding: tests/fuzz_regressions/$name/$(basename "$artifact")"
  done
  if [ "$status" -ne 0 ] && [ "$findings" -eq 0 ]; then
    findings=1  # the fuzzer failed without leaving an input: still a finding
  fi
  if [ "$findings" -ne 0 ]; then
    echo "-- fuzz_$name log (tail):"
    tail -n 60 "$log"
  fi
  line="fuzz_$name: ${runs:-?} executions (budget ${seconds} s), $findings finding(s), corpus $(ls "$corpus" | wc -l) inputs"
  echo "$line"
  summary+="$line"$'\n'
  total_findings=$((total_findings + findings))
done

echo "== summary"
printf '%s' "$summary"
if [ "$total_findings" -ne 0 ]; then
  echo "FAIL: $total_findings finding(s); inputs saved in tests/fuzz_regressions/ (replayed by ctest)" >&2
  exit 1
fi
