#!/usr/bin/env bash
# `mhacheck check DIR` on a directory of 10,000 specs: one job against -j (every core), timed in
# the same run (issue 13, speed target 4). The specs are copies of the seed examples and of
# examples/encoder_decoder.json (a graph of calls), in 100 sub-directories.
#
#   bench/many_specs.sh [mhacheck]        (default: build/mhacheck)
#
# Environment: SPECS (default 10000, the most a directory may hold), RUNS (default 3), JOBS
# (default: nproc). Prints the median wall time of each and the speed-up; asserts nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MHACHECK=${1:-build/mhacheck}
SPECS=${SPECS:-10000}
RUNS=${RUNS:-3}
JOBS=${JOBS:-$(nproc)}
[[ -x $MHACHECK ]] || { echo "many_specs.sh: $MHACHECK is not an executable" >&2; exit 2; }

DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
sources=(examples/seed_example1.json examples/seed_example2.json examples/seed_example3.json
         examples/seed_example3_named.json examples/encoder_decoder.json)
for ((i = 0; i < SPECS; i++)); do
  sub=$DIR/specs/$((i % 100))
  [[ -d $sub ]] || mkdir -p "$sub"
  cp "${sources[i % ${#sources[@]}]}" "$sub/spec$i.json"
done

echo "checking $SPECS specs: $RUNS runs each of -j 1 and -j $JOBS ..." >&2
python3 bench/proctime.py time "$RUNS" 1 \
  "one=$MHACHECK check --format json -j 1 $DIR/specs" "all=$MHACHECK check --format json -j $JOBS $DIR/specs" |
  python3 -c '
import json, sys
rows = {r["name"]: r for r in map(json.loads, sys.stdin)}
one, every = rows["one"], rows["all"]
specs, cores, jobs = sys.argv[1:4]
print("mhacheck check --format json DIR, %s specs, %s cores (median of %d runs)" % (specs, cores, one["runs"]))
print("  -j 1:  %9.1f ms   exit codes %s" % (one["median_ms"], one["exit_codes"]))
print("  -j %s:  %9.1f ms   exit codes %s" % (jobs, every["median_ms"], every["exit_codes"]))
print("  speed-up: %.2fx; per spec: %.0f us with -j %s" % (one["median_ms"] / every["median_ms"], every["median_ms"] * 1000 / int(specs), jobs))
' "$SPECS" "$(nproc)" "$JOBS"
