#!/usr/bin/python3
"""Generate PyTorch ground truth for mhacheck's splitting operators: torch.split with an integer
split_size, torch.split with a list of sizes (split_with_sizes in the spec) and torch.chunk.

Writes tests/pytorch/split_cases.json (verdict, every output's shape and dtype, or the exception
raised first, of valid and invalid calls on zero tensors) and tests/pytorch/forward_split/
(NAME.npz with the input and PyTorch's results "expected.call.0", "expected.call.1", ...,
NAME.json the spec, index.json the list). Outputs are keyed as mhacheck names the outputs of a
single-call spec without "outputs": "call.0", "call.1", ...

A case whose spec names its outputs ("outputs": ["q", "k", "v"]) is unpacked here as Python
unpacks `q, k, v = x.chunk(3)[:3]`: more names than tensors raise Python's ValueError "not
enough values to unpack" (the slice keeps fewer names from meaning "too many values", which a
spec naming only the first outputs does not say).

mhacheck follows PyTorch 2.x; split, split_with_sizes and chunk check and raise the same in 1.13
and 2.x (aten/src/ATen/native/TensorShape.cpp), so every expectation is 1.13's own.

Usage:  /usr/bin/python3 tests/pytorch/gen_split_cases.py

Deterministic: every forward case seeds torch with a hash of its name; .npz files have fixed
timestamps.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import DTYPE_NAMES, DTYPES, unique_by_name, write_op_cases, write_op_forward  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "tests/pytorch/gen_split_cases.py"


def evaluate(op, x, args):
    if op == "split":
        return torch.split(x, args["split_size"], args.get("dim", 0))
    if op == "split_with_sizes":
        return torch.split(x, list(args["split_sizes"]), args.get("dim", 0))
    return torch.chunk(x, args["chunks"], args.get("dim", 0))


def outcome(op, x, args, names):
    try:
        pieces = evaluate(op, x, args)
        if names:
            scope = {"pieces": pieces}
            exec("{}, = pieces[:{}]".format(", ".join(names), len(names)), scope)  # noqa: S102 - Python's own unpacking
    except (RuntimeError, IndexError, ValueError) as e:
        return {"ok": False, "error": {"type": type(e).__name__, "message": str(e).split("\n")[0]}}
    outputs = {}
    for i, piece in enumerate(pieces):
        outputs[names[i] if i < len(names) else "call.{}".format(i)] = {"shape": list(piece.shape), "dtype": DTYPE_NAMES[piece.dtype]}
    return {"ok": True, "outputs": outputs}


def case(op, shape, dtype="float32", names=(), **args):
    x = torch.zeros(shape, dtype=DTYPES[dtype])
    spec = dict({"op": op, "input": {"shape": list(shape), "dtype": dtype}}, **args)
    if names:
        spec["outputs"] = list(names)
    name = "-".join([op, "x".join(map(str, shape)) or "scalar", dtype] + ["{}={}".format(k, v) for k, v in args.items()] +
                    (["names={}".format(len(names))] if names else []))
    return {"name": name, "spec": spec, "expect": outcome(op, x, args, list(names))}


def check_cases():
    shapes = [(2, 12), (6,), (2, 5, 7), (), (0, 4), (3, 0), (1, 768)]
    for shape in shapes:
        for dim in [0, 1, -1, 2, -3]:
            for split_size in [1, 2, 3, 4, 5, 7, 12, 13, -1, 0]:
                yield case("split", shape, split_size=split_size, dim=dim)
            for chunks in [1, 2, 3, 4, 5, 7, 12, 13, 0, -2]:
                yield case("chunk", shape, chunks=chunks, dim=dim)
            for sizes in [[4, 8], [6, 6], [2, 5], [2, 2, 3], [12], [0, 12], [-1, 13], [3, -1], [], [1, 1, 1, 1, 1, 1, 1], [768, 768, 768],
                          [0, 0], [5, 2]]:
                yield case("split_with_sizes", shape, split_sizes=sizes, dim=dim)
    yield case("split", (5, 12), split_size=2)  # dim defaults to 0
    yield case("split_with_sizes", (2, 7, 2304), split_sizes=[768, 768, 768], dim=-1)  # GPT-2's c_attn output
    yield case("chunk", (4, 3), chunks=2)
    yield case("split_with_sizes", (5, 3), split_sizes=[2, 3])
    yield case("split", (2, 12), "int64", split_size=5, dim=1)
    yield case("chunk", (2, 3, 8), "float64", chunks=4, dim=-1)
    # q, k, v = ...: the attention pattern, right and wrong
    for names in [("q", "k", "v"), ("q", "k"), ("a", "b", "c", "d")]:
        yield case("split", (2, 5, 24), names=names, split_size=8, dim=2)
        yield case("split", (2, 5, 24), names=names, split_size=12, dim=2)
        yield case("split", (2, 5, 20), names=names, split_size=8, dim=2)
        yield case("chunk", (2, 5, 24), names=names, chunks=3, dim=-1)
        yield case("chunk", (2, 5, 4), names=names, chunks=3, dim=-1)
        yield case("chunk", (2, 5, 0), names=names, chunks=3, dim=-1)
        yield case("split_with_sizes", (2, 5, 24), names=names, split_sizes=[8, 8, 8], dim=2)
        yield case("split_with_sizes", (2, 5, 24), names=names, split_sizes=[8, 16], dim=2)


FORWARD = {
    "split-qkv": ("split", (2, 5, 24), "float32", {"split_size": 8, "dim": 2}),
    "split-uneven": ("split", (3, 7), "float64", {"split_size": 3, "dim": 1}),
    "split-first-dim": ("split", (5, 4), "float32", {"split_size": 2, "dim": 0}),
    "split-one-piece": ("split", (2, 3), "float32", {"split_size": 5, "dim": -1}),
    "split-int64": ("split", (4, 6), "int64", {"split_size": 4, "dim": -1}),
    "split-sizes-qkv": ("split_with_sizes", (2, 4, 12), "float32", {"split_sizes": [4, 4, 4], "dim": -1}),
    "split-sizes-gqa": ("split_with_sizes", (2, 3, 16), "float64", {"split_sizes": [8, 4, 4], "dim": 2}),
    "split-sizes-middle": ("split_with_sizes", (2, 6, 3), "float32", {"split_sizes": [1, 0, 5], "dim": 1}),
    "chunk-qkv": ("chunk", (2, 5, 24), "float32", {"chunks": 3, "dim": -1}),
    "chunk-uneven": ("chunk", (7, 3), "float64", {"chunks": 3, "dim": 0}),
    "chunk-fewer": ("chunk", (2, 6), "float32", {"chunks": 4, "dim": 1}),
    "chunk-middle": ("chunk", (2, 8, 3), "float32", {"chunks": 2, "dim": 1}),
    "chunk-glu": ("chunk", (3, 2, 10), "float64", {"chunks": 2, "dim": -1}),
    "chunk-int64": ("chunk", (5, 2), "int64", {"chunks": 5, "dim": 0}),
    "chunk-one": ("chunk", (2, 3), "float32", {"chunks": 1, "dim": 1}),
    "split-sizes-one": ("split_with_sizes", (3, 4), "float64", {"split_sizes": [3], "dim": 0}),
    "split-batch": ("split", (6, 2, 3), "float32", {"split_size": 1, "dim": 0}),
    "split-sizes-last": ("split_with_sizes", (2, 2, 9), "float32", {"split_sizes": [2, 7], "dim": -1}),
    "chunk-heads": ("chunk", (2, 4, 3, 6), "float32", {"chunks": 4, "dim": 1}),
    "split-sizes-int64": ("split_with_sizes", (4, 5), "int64", {"split_sizes": [1, 3], "dim": 0}),
}


def main():
    cases = unique_by_name(check_cases())
    write_op_cases(os.path.join(HERE, "split_cases.json"), GENERATOR, cases)
    forward = write_op_forward(os.path.join(HERE, "forward_split"), GENERATOR, FORWARD, evaluate,
                               lambda pieces: {"expected.call.{}".format(i): piece.contiguous().numpy() for i, piece in enumerate(pieces)})
    print("{} forward cases".format(forward))


if __name__ == "__main__":
    main()
