#!/usr/bin/env python3
"""Trace + check of torchvision's vit_b_16 against one plain forward of the model, and the
spec's size. Usage: bench/trace/trace_vit.py [MHACHECK] (default build/mhacheck); run from the
repository root. Asserts nothing; prints medians of REPEAT (default 3) rounds."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
sys.path.insert(0, os.path.join(REPOSITORY, "python"))

import torch  # noqa: E402
import torchvision  # noqa: E402

import mhacheck  # noqa: E402

BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPOSITORY, "build", "mhacheck")
REPEAT = int(os.environ.get("REPEAT", "3"))
BATCH = int(os.environ.get("BATCH", "2"))


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = torchvision.models.vit_b_16().eval()
    x = torch.randn(BATCH, 3, 224, 224)
    with torch.no_grad():
        model(x)  # warm-up
    rows = {"forward": [], "trace": [], "trace (meta)": [], "check": []}
    size = calls = 0
    meta = torchvision.models.vit_b_16().eval().to("meta")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "vit.json")
        for _ in range(REPEAT):
            with torch.no_grad():
                rows["forward"].append(timed(lambda: model(x))[0])
                seconds, spec = timed(lambda: mhacheck.trace(model, (mhacheck.shape("B", 3, 224, 224),), dims={"B": BATCH}))
                rows["trace"].append(seconds)
                rows["trace (meta)"].append(timed(lambda: mhacheck.trace(meta, (mhacheck.shape("B", 3, 224, 224),)))[0])
            spec.save(path)
            size, calls = os.path.getsize(path), len(spec.calls)
            seconds, done = timed(lambda: subprocess.run([BINARY, "check", path], capture_output=True, check=False))
            assert done.returncode == 0, done.stdout
            rows["check"].append(seconds)
    forward = statistics.median(rows["forward"])
    print(f"vit_b_16, batch {BATCH}, {torch.get_num_threads()} threads, median of {REPEAT}")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"  {name:14s} {median * 1000:9.1f} ms  ({median / forward:5.2f} x forward)")
    total = statistics.median(rows["trace"]) + statistics.median(rows["check"])
    print(f"  trace + check  {total * 1000:9.1f} ms  ({total / forward:5.2f} x forward)")
    print(f"  spec: {calls} calls, {size} bytes")


if __name__ == "__main__":
    main()
