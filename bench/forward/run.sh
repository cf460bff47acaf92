#!/usr/bin/env bash
# Forward-pass benchmark: mhacheck's mha_forward against PyTorch's nn.MultiheadAttention on the
# CPU, float32, same thread count, both timed in-process (start-up excluded) in the same run.
#
#   bench/forward/run.sh [build-dir]        (default: build; the bench builds in <build-dir>/forward-bench)
#
# Configurations (from the issue): (N=8, L=S=256, E=512, H=8) and (N=4, L=S=1024, E=512, H=8),
# each with need_weights on and off. Every configuration runs in fresh processes (so peak RSS is
# per configuration), ROUNDS times, alternating mhacheck and PyTorch, and the per-call times of
# all rounds are pooled into one median per tool.
#
# Environment: THREADS (default: nproc), ROUNDS (processes per tool and configuration, default 3),
#              REPEATS_SMALL / REPEATS_LARGE (timed calls per process, default 10 / 5),
#              FAST_PATH (1: also time PyTorch's self-attention fast path, for information; default 1).
# Targets: mhacheck at least twice as fast as PyTorch on both sizes (median time, ratio >= 2), and peak
# memory under PyTorch's with need_weights=False. Reported as PASS/MISS; the exit status is 0
# unless the benchmark cannot run. See bench/README.md, "Forward pass".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

BUILD=${1:-build}
THREADS=${THREADS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
REPEATS_SMALL=${REPEATS_SMALL:-10}
REPEATS_LARGE=${REPEATS_LARGE:-5}
FAST_PATH=${FAST_PATH:-1}
TORCH_PY=/usr/bin/python3   # Debian's python3 with python3-torch; `python3` on PATH may lack torch
START=$(date +%s)

echo "building forward_bench in $BUILD/forward-bench ..." >&2
cmake -S bench/forward -B "$BUILD/forward-bench" >/dev/null || { echo "run.sh: cmake configure failed" >&2; exit 2; }
cmake --build "$BUILD/forward-bench" --target forward_bench -j"$(nproc)" >/dev/null ||
  { echo "run.sh: build failed" >&2; exit 2; }
BENCH=$BUILD/forward-bench/forward_bench

HAVE_TORCH=0
if [[ -x $TORCH_PY ]] && "$TORCH_PY" -c 'import torch' >/dev/null 2>&1; then HAVE_TORCH=1; fi
[[ $HAVE_TORCH == 1 ]] || echo "run.sh: $TORCH_PY cannot import torch; PyTorch columns are skipped" >&2

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

# config: N L S E H need_weights repeats
CONFIGS=(
  "8 256 256 512 8 1 $REPEATS_SMALL"
  "8 256 256 512 8 0 $REPEATS_SMALL"
  "4 1024 1024 512 8 1 $REPEATS_LARGE"
  "4 1024 1024 512 8 0 $REPEATS_LARGE"
)

run_mhacheck() { "$BENCH" "$1" "$2" "$3" "$4" "$5" "$6" "$THREADS" "$7" >>"$RESULTS"; }
run_torch() { "$TORCH_PY" bench/forward/torch_forward.py "$1" "$2" "$3" "$4" "$5" "$6" "$THREADS" "$7" ${8:-} >>"$RESULTS"; }

for config in "${CONFIGS[@]}"; do
  read -r n l s e h nw reps <<<"$config"
  echo "running N=$n L=$l S=$s E=$e H=$h need_weights=$nw ($ROUNDS rounds x $reps calls) ..." >&2
  for ((round = 0; round < ROUNDS; round++)); do
    # Alternate which tool goes first, so slow drift in machine load hits both alike.
    if ((round % 2 == 0)); then
      run_mhacheck $n $l $s $e $h $nw $reps
      [[ $HAVE_TORCH == 0 ]] || run_torch $n $l $s $e $h $nw $reps
    else
      [[ $HAVE_TORCH == 0 ]] || run_torch $n $l $s $e $h $nw $reps
      run_mhacheck $n $l $s $e $h $nw $reps
    fi
  done
  if [[ $HAVE_TORCH == 1 && $FAST_PATH == 1 ]]; then run_torch $n $l $s $e $h $nw $reps --fast-path; fi
done

ELAPSED=$(($(date +%s) - START))
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
TORCH_VERSION=$([[ $HAVE_TORCH == 1 ]] && "$TORCH_PY" -c 'import torch; print(torch.__version__)' || echo none)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

"$TORCH_PY" - "$RESULTS" <<PY
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("mhacheck forward-pass benchmark  $(date -u +%Y-%m-%dT%H:%MZ)")
print("machine: $CPU, $(nproc) cores, Linux $(uname -r); load average at the end: $LOAD")
print("threads: $THREADS for both; torch $TORCH_VERSION under no_grad, eval(), standard path; float32")
print("timing: $ROUNDS processes per tool and configuration, median of all their timed calls")
print()

def key(r): return (r["N"], r["L"], r["S"], r["E"], r["H"], r["need_weights"])
def pick(tool, k, path="standard"):
    return [r for r in rows if r["tool"] == tool and key(r) == k and r.get("path", "standard") == path]

header = ["config", "need_weights", "mhacheck ms", "PyTorch ms", "ratio", "speed", "CPU ratio",
          "mhacheck peak MiB", "PyTorch peak MiB", "PyTorch over base", "memory", "PyTorch fast-path ms"]
table = []
seen = []
for r in rows:
    if key(r) not in seen: seen.append(key(r))
for k in seen:
    n, l, s, e, h, nw = k
    mine = pick("mhacheck", k)
    theirs = pick("pytorch", k)
    fast = pick("pytorch", k, "fast")
    m_ms = statistics.median(t for r in mine for t in r["times_ms"])
    m_peak = max(r["peak_rss_mib"] for r in mine)
    cells = [f"N={n} L={l} S={s} E={e} H={h}", "on" if nw else "off", f"{m_ms:.1f}"]
    if theirs:
        t_ms = statistics.median(t for r in theirs for t in r["times_ms"])
        t_peak = max(r["peak_rss_mib"] for r in theirs)
        t_over = max(r["peak_over_baseline_mib"] for r in theirs)
        ratio = t_ms / m_ms
        cpu_ratio = statistics.median(t for r in theirs for t in r["cpu_ms"]) / statistics.median(t for r in mine for t in r["cpu_ms"])
        memory = ("PASS" if m_peak < t_over else "MISS") if not nw else "-"
        cells += [f"{t_ms:.1f}", f"{ratio:.2f}", "PASS" if ratio >= 2 else "MISS", f"{cpu_ratio:.2f}",
                  f"{m_peak:.1f}", f"{t_peak:.1f}", f"{t_over:.1f}", memory]
        cells.append(f"{statistics.median(t for r in fast for t in r['times_ms']):.1f}" if fast else "-")
    else:
        cells += ["-", "-", "-", "-", f"{m_peak:.1f}", "-", "-", "-", "-"]
    table.append(cells)

widths = [max(len(header[i]), *(len(row[i]) for row in table)) for i in range(len(header))]
print("  ".join(header[i].ljust(widths[i]) if i < 2 else header[i].rjust(widths[i]) for i in range(len(header))))
print("  ".join("-" * w for w in widths))
for row in table:
    print("  ".join(row[i].ljust(widths[i]) if i < 2 else row[i].rjust(widths[i]) for i in range(len(header))))
print()
print("ratio = PyTorch ms / mhacheck ms (> 1: mhacheck faster); speed target (issue 13): ratio >= 2.")
print("CPU ratio = the same for the process CPU time of each call (all threads): it does not grow while other")
print("  processes hold the cores, so it is the number to read on a loaded machine (spinning threads count).")
print("peak MiB = ru_maxrss of the process, max over its rounds. PyTorch over base = peak minus the")
print("  RSS right after 'import torch' (~227 MiB). memory target (need_weights=off only): mhacheck's")
print("  absolute peak < PyTorch's peak over base, i.e. torch's import cost is not counted against it.")
print("PyTorch fast-path ms: query is key is value, batch_first=True (torch._native_multi_head_attention);")
print("  a self-attention-only path, for information, not judged.")
print()
print("total benchmark time: $ELAPSED s")
PY
