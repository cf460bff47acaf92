#!/usr/bin/python3
"""PyTorch side of the forward-pass benchmark (bench/forward/run.sh, bench/README.md).

    /usr/bin/python3 bench/forward/torch_forward.py N L S E H need_weights threads repeats [--fast-path]

Run it with Debian's /usr/bin/python3 (python3-torch, torch 1.13); a `python3` earlier on PATH
may have no torch.

nn.MultiheadAttention(E, H) in eval() mode, float32, called under torch.no_grad() (what an
inference caller does; mhacheck's forward never builds an autograd graph either). By default the
query (L, N, E), key and value (S, N, E) are three distinct random tensors and batch_first=False,
so torch 1.13 takes the standard path, F.multi_head_attention_forward, which is what mhacheck
implements. With --fast-path, query, key and value are one tensor (N, L, E) with batch_first=True
(needs L == S): self-attention under no_grad + eval, which torch 1.13 sends to its fused
torch._native_multi_head_attention ("fast path") instead. The script checks which path ran.

Times: torch.set_num_threads(threads); one untimed warm-up call, then `repeats` timed calls
(time.perf_counter around each forward); the median is reported. Import, construction and input
creation are outside the timings.

Memory: resource.getrusage(RUSAGE_SELF).ru_maxrss is the process's absolute peak RSS, import of
torch included (about 250 MiB on its own). The RSS right after `import torch` (VmRSS, before the
module and inputs exist) is reported as the baseline, and peak - baseline as the increase that
the forward pass itself (with its inputs and parameters) caused.

Prints one JSON line.
"""
import json
import resource
import statistics
import sys
import time


def current_rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def main(argv):
    fast_path = "--fast-path" in argv
    args = [a for a in argv if not a.startswith("--")]
    if len(args) < 8:
        print(__doc__, file=sys.stderr)
        return 2
    N, L, S, E, H = (int(a) for a in args[:5])
    need_weights = int(args[5]) != 0
    threads = int(args[6])
    repeats = max(1, int(args[7]))
    if fast_path and L != S:
        print("torch_forward.py: --fast-path is self-attention and needs L == S", file=sys.stderr)
        return 2

    import torch  # noqa: E402  (imported here so the baseline below includes it)

    baseline_mib = current_rss_mib()
    torch.set_num_threads(threads)
    torch.manual_seed(1234)

    module = torch.nn.MultiheadAttention(E, H, batch_first=fast_path).eval()
    if fast_path:
        query = torch.randn(N, L, E)
        key = value = query
    else:
        query = torch.randn(L, N, E)
        key = torch.randn(S, N, E)
        value = torch.randn(S, N, E)

    # Which path runs: F.multi_head_attention_forward is the standard path; the fast path never
    # calls it. Count calls to it during the warm-up.
    import torch.nn.modules.activation as activation
    standard_calls = []
    original = activation.F.multi_head_attention_forward

    def counting(*a, **k):
        standard_calls.append(1)
        return original(*a, **k)

    checksum = 0.0
    with torch.no_grad():
        activation.F.multi_head_attention_forward = counting
        try:
            start = time.perf_counter()
            out, weights = module(query, key, value, need_weights=need_weights)
            warmup_ms = (time.perf_counter() - start) * 1e3
        finally:
            activation.F.multi_head_attention_forward = original
        path = "standard" if standard_calls else "fast"
        times, cpu_times = [], []
        for _ in range(repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            out, weights = module(query, key, value, need_weights=need_weights)
            times.append((time.perf_counter() - start) * 1e3)
            cpu_times.append((time.process_time() - cpu_start) * 1e3)
            checksum += float(out.reshape(-1)[0])
            if weights is not None:
                checksum += float(weights.reshape(-1)[0])

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "tool": "pytorch", "torch": torch.__version__, "path": path,
        "N": N, "L": L, "S": S, "E": E, "H": H, "need_weights": need_weights,
        "threads": torch.get_num_threads(), "repeats": repeats,
        "median_ms": round(statistics.median(times), 3), "min_ms": round(min(times), 3),
        "max_ms": round(max(times), 3), "warmup_ms": round(warmup_ms, 3),
        "peak_rss_mib": round(peak_mib, 1), "baseline_rss_mib": round(baseline_mib, 1),
        "peak_over_baseline_mib": round(peak_mib - baseline_mib, 1), "checksum": checksum,
        "times_ms": [round(t, 3) for t in times], "cpu_ms": [round(t, 3) for t in cpu_times],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
