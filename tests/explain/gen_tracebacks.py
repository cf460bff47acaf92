#!/usr/bin/python3
"""Writes tests/explain/*.txt: what Python prints when these calls fail under the installed
PyTorch (1.13 from Debian), tracebacks included, for `mhacheck explain`'s tests.

Run from anywhere: python3 tests/explain/gen_tracebacks.py
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

SCENARIOS = {
    # The seed example: batch-major tensors into a batch_first=False module.
    "seed_example1": """
import torch
from torch import nn
attn = nn.MultiheadAttention(512, 8)
q = torch.randn(32, 1, 512)
kv = torch.randn(32, 10, 512)
attn(q, kv, kv)
""",
    "linear_features": """
import torch
from torch import nn
proj = nn.Linear(512, 256)
proj(torch.randn(4, 10, 384))
""",
    "attn_mask_shape": """
import torch
from torch import nn
attn = nn.MultiheadAttention(64, 4, batch_first=True)
x = torch.randn(2, 7, 64)
mask = torch.zeros(8, 8, dtype=torch.bool)
attn(x, x, x, attn_mask=mask)
""",
    # An exception raised while handling another: the last one is what failed.
    "chained": """
import torch
from torch import nn
attn = nn.MultiheadAttention(16, 4)
try:
    torch.zeros(2, 3).view(4, 4)
except RuntimeError:
    attn(torch.randn(5, 2, 8), torch.randn(5, 2, 8), torch.randn(5, 2, 8))
""",
}


def main():
    for name, code in SCENARIOS.items():
        result = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True)
        if result.returncode == 0:
            sys.exit(name + ": expected the call to fail")
        with open(os.path.join(HERE, name + ".txt"), "w") as out:
            out.write(result.stderr)
        print(name + ": " + result.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
