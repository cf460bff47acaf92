#!/usr/bin/env bash
# Whole-process benchmark of `mhacheck run --random-inputs` against PyTorch's in-process forward
# alone, measured in the same run (issue 13, speed target 2: the whole mhacheck process, start-up,
# check, random inputs and initial weights, forward, printed report, no slower than PyTorch's
# forward call with everything else already paid).
#
#   bench/forward/process.sh [mhacheck]        (default: build/mhacheck)
#
# Configurations: (N=8, L=S=256, E=512, H=8) and (N=4, L=S=1024, E=512, H=8), need_weights on and
# off, query, key and value three distinct tensors (PyTorch's standard path). mhacheck: median
# wall time of RUNS processes timed by bench/proctime.py (spawn to reap). PyTorch:
# bench/forward/torch_forward.py, median of its timed calls over TORCH_ROUNDS processes.
# Environment: THREADS (default: nproc), RUNS (default 15), TORCH_ROUNDS (default 2).
# Prints a table with ratio = PyTorch forward ms / mhacheck process ms (>= 1: target met). Asserts
# nothing; exits 2 only when it cannot run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
MHACHECK=${1:-build/mhacheck}
THREADS=${THREADS:-$(nproc)}
RUNS=${RUNS:-15}
TORCH_ROUNDS=${TORCH_ROUNDS:-2}
TORCH_PY=/usr/bin/python3   # Debian's python3 with python3-torch
[[ -x $MHACHECK ]] || { echo "process.sh: $MHACHECK is not an executable" >&2; exit 2; }
"$TORCH_PY" -c 'import torch' 2>/dev/null || { echo "process.sh: $TORCH_PY cannot import torch" >&2; exit 2; }

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
for config in "8 256 256 512 8" "4 1024 1024 512 8"; do
  read -r n l s e h <<<"$config"
  for nw in 1 0; do
    flags=$([[ $nw == 1 ]] || echo --no-need-weights)
    echo "N=$n L=$l S=$s E=$e H=$h need_weights=$nw ..." >&2
    command="$MHACHECK run --random-inputs --threads $THREADS --module 'nn.MultiheadAttention($e, $h)' --query '($l, $n, $e)' --key '($s, $n, $e)' --value '($s, $n, $e)' $flags"
    python3 bench/proctime.py time "$RUNS" 2 "mhacheck=$command" |
      sed "s/^{/{\"config\": \"N=$n L=$l S=$s E=$e H=$h\", \"need_weights\": $nw, /" >>"$RESULTS"
    for ((round = 0; round < TORCH_ROUNDS; round++)); do
      "$TORCH_PY" bench/forward/torch_forward.py "$n" "$l" "$s" "$e" "$h" "$nw" "$THREADS" 5 |
        sed "s/^{/{\"config\": \"N=$n L=$l S=$s E=$e H=$h\", \"name\": \"pytorch\", /" >>"$RESULTS"
    done
  done
done

python3 - "$RESULTS" "$THREADS" "$RUNS" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print(f"mhacheck run --random-inputs, whole process, against PyTorch's in-process forward; threads {sys.argv[2]}")
print(f"{'config':<24} {'need_weights':<12} {'mhacheck process ms':>20} {'PyTorch forward ms':>19} {'ratio':>6}  target")
for config in dict.fromkeys(r["config"] for r in rows):
    for nw in (1, 0):
        mine = [r for r in rows if r["config"] == config and r["name"] == "mhacheck" and r["need_weights"] == nw]
        theirs = [t for r in rows if r["config"] == config and r["name"] == "pytorch" and r["need_weights"] == bool(nw) for t in r["times_ms"]]
        if not mine or not theirs:
            continue
        m, t = mine[0]["median_ms"], statistics.median(theirs)
        codes = mine[0]["exit_codes"]
        note = "" if codes == [0] else f"  (exit codes {codes}!)"
        print(f"{config:<24} {'on' if nw else 'off':<12} {m:>20.1f} {t:>19.1f} {t / m:>6.2f}  {'PASS' if t >= m else 'MISS'}{note}")
print(f"mhacheck: median of {sys.argv[3]} processes (bench/proctime.py); PyTorch: median of the timed calls of")
print("bench/forward/torch_forward.py (import, construction and inputs excluded). ratio = PyTorch / mhacheck.")
PY
