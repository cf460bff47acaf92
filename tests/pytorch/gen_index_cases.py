#!/usr/bin/python3
"""Generate PyTorch ground truth for mhacheck's indexing operators: Tensor.__getitem__ with basic
indices (integers, slices, None, ...), torch.select and torch.narrow.

Writes tests/pytorch/index_cases.json (verdict, output shape and dtype, or the exception PyTorch
raises first, of valid and invalid calls on zero tensors) and tests/pytorch/forward_index/ (NAME.npz
with the input and PyTorch's result "expected.output", NAME.json the spec, index.json the list).
The getitem index is written in the spec as Python writes it ("[:, 0]") and evaluated here with
eval() on the same text, so the spec and the call PyTorch ran cannot differ.

mhacheck follows PyTorch 2.x.  getitem and select raise the same in 1.13 and 2.x.  narrow does not:
2.x's narrow_symint (aten/src/ATen/native/TensorShape.cpp) checks, in order, a 0-D input
(RuntimeError "narrow() cannot be applied to a 0-dim tensor."), a negative length (RuntimeError
"narrow(): length must be non-negative."), the dim (IndexError "Dimension out of range ..."), start
in [-n, n] (IndexError "start out of range (expected to be in range of [-n, n], but got s)") and
start + length <= n (RuntimeError "start (s) + length (l) exceeds dimension size (n).") with a
negative start wrapped first; 1.13 reports a bad start as "Dimension out of range" and a negative
length through the last check.  narrow cases therefore take their expectation from `narrow_2x`
below, which applies 2.x's checks and then runs 1.13's narrow; a case whose 1.13 outcome differs
carries a "pytorch_2x" note with 1.13's.

Usage:  /usr/bin/python3 tests/pytorch/gen_index_cases.py

Deterministic: every case seeds torch with a hash of its name; .npz files have fixed timestamps.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import DTYPE_NAMES, DTYPES, unique_by_name, write_op_forward  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "tests/pytorch/gen_index_cases.py"


def outcome(fn):
    try:
        out = fn()
    except (RuntimeError, IndexError, ValueError) as e:
        return {"ok": False, "error": {"type": type(e).__name__, "message": str(e).split("\n")[0]}}
    return {"ok": True, "outputs": {"output": {"shape": list(out.shape), "dtype": DTYPE_NAMES[out.dtype]}}}


def narrow_2x(x, dim, start, length):
    if x.dim() == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    n = x.size(dim)  # raises 1.13's (and 2.x's) IndexError for a bad dim
    if not -n <= start <= n:
        raise IndexError("start out of range (expected to be in range of [{}, {}], but got {})".format(-n, n, start))
    if start < 0:
        start += n
    if start > n - length:
        raise RuntimeError("start ({}) + length ({}) exceeds dimension size ({}).".format(start, length, n))
    return x.narrow(dim, start, length)


def evaluate(op, x, args):
    if op == "getitem":
        return eval("x" + args["index"], {"x": x})  # noqa: S307 - the fixture's own index text
    if op == "select":
        return torch.select(x, args["dim"], args["index"])
    return narrow_2x(x, args["dim"], args["start"], args["length"])


def case(op, shape, dtype="float32", **args):
    x = torch.zeros(shape, dtype=DTYPES[dtype])
    spec = dict({"op": op, "input": {"shape": list(shape), "dtype": dtype}}, **args)
    name = "-".join([op, "x".join(map(str, shape)) or "scalar", dtype] + ["{}={}".format(k, v) for k, v in args.items()])
    result = {"name": name, "spec": spec, "expect": outcome(lambda: evaluate(op, x, args))}
    if op == "narrow":
        plain = outcome(lambda: x.narrow(args["dim"], args["start"], args["length"]))
        if plain != result["expect"]:
            result["pytorch_2x"] = "1.13 says: " + json.dumps(plain.get("error", plain))
    return result


INDEXES = ["[0]", "[-1]", "[1]", "[5]", "[-5]", "[:, 0]", "[:, -1]", "[:, 3]", "[:, 4]", "[:, -5]", "[..., 0]", "[..., :2]",
           "[..., 1:]", "[..., -2:]", "[:, 1:3]", "[:, ::2]", "[:, 1::2]", "[:, ::3]", "[:, 5:1]", "[:, -10:10]", "[:, 2:-1]",
           "[None]", "[None, :, None]", "[:, None]", "[..., None]", "[None, ..., None]", "[0, None, 0]", "[None, 5]",
           "[0, None, 9]", "[:, :, 0]", "[0, 0, 0]", "[..., 0, 0, 0]", "[0,]", "[:,]", "[...]", "[..., ...]",
           "[0, ..., ...]", "[..., ..., 0]", "[::0]", "[:, ::-1]", "[9, ::0]", "[0, ::0]", "[1:, -1]", "[:, :, :, 0]",
           "[:0]", "[-1:]", "[1:1]", "[::5]", "[0, 1]", "[-2, -4]", "[None, None, 0]", "[..., None, 1:3:2]"]


def check_cases():
    for shape in [(2, 4), (3,), (2, 4, 5), (), (1, 0), (0, 3)]:
        for index in INDEXES:
            yield case("getitem", shape, index=index)
    yield case("getitem", (2, 4), "int64", index="[:, 1]")
    yield case("getitem", (2, 4, 6), "float64", index="[:, 0, 1::2]")
    yield case("getitem", (2, 197, 768), index="[:, 0]")  # vit_b_16's class token
    for shape in [(2, 4), (3,), (2, 4, 5), (), (0, 3)]:
        for dim in [0, 1, -1, 2, -3, 3]:
            for index in [0, 1, -1, 3, 4, -4, -5, 5]:
                yield case("select", shape, dim=dim, index=index)
        for dim in [0, 1, -1, 3]:
            for start, length in [(0, 1), (1, 2), (2, 3), (4, 0), (5, 0), (-1, 1), (-4, 4), (-5, 0), (0, -1), (-1, 2), (0, 0),
                                  (3, 1), (2, 2)]:
                yield case("narrow", shape, dim=dim, start=start, length=length)
    yield case("narrow", (2, 4), "int64", dim=1, start=1, length=2)


FORWARD = {
    "getitem-class-token": ("getitem", (2, 5, 6), "float32", {"index": "[:, 0]"}),
    "getitem-last-token": ("getitem", (2, 5, 6), "float64", {"index": "[:, -1, :]"}),
    "getitem-ellipsis-head": ("getitem", (2, 3, 5, 8), "float32", {"index": "[..., :4]"}),
    "getitem-steps": ("getitem", (4, 7, 3), "float64", {"index": "[1:, ::2, -2:]"}),
    "getitem-none": ("getitem", (3, 4), "float32", {"index": "[None, :, None, 1:3]"}),
    "getitem-drop-class-token": ("getitem", (2, 5, 6), "float32", {"index": "[:, 1:]"}),
    "getitem-int64": ("getitem", (3, 4), "int64", {"index": "[::2, 1]"}),
    "select-middle": ("select", (2, 5, 6), "float32", {"dim": 1, "index": 2}),
    "select-negative": ("select", (2, 5, 6), "float64", {"dim": -1, "index": -1}),
    "narrow-middle": ("narrow", (2, 5, 6), "float32", {"dim": 1, "start": 1, "length": 3}),
    "narrow-negative-start": ("narrow", (2, 5, 6), "float64", {"dim": -1, "start": -4, "length": 2}),
    "narrow-empty": ("narrow", (2, 5), "float32", {"dim": 0, "start": 2, "length": 0}),
    "narrow-first-dim": ("narrow", (6, 3), "float32", {"dim": 0, "start": 4, "length": 2}),
    "narrow-int64": ("narrow", (3, 8), "int64", {"dim": 1, "start": -8, "length": 8}),
    "select-first": ("select", (4, 3), "float32", {"dim": 0, "index": 3}),
    "select-int64": ("select", (2, 3, 4), "int64", {"dim": 2, "index": 0}),
    "getitem-single-int": ("getitem", (3, 4, 2), "float32", {"index": "[-2]"}),
    "getitem-tuple-int": ("getitem", (3, 4), "float64", {"index": "[1,]"}),
    "getitem-empty-slice": ("getitem", (3, 4), "float32", {"index": "[:, 3:1]"}),
    "getitem-two-ellipses": ("getitem", (2, 3, 4), "float32", {"index": "[0, ..., ...]"}),
    "getitem-clamped": ("getitem", (3, 4), "float64", {"index": "[-10:10, 1:100:3]"}),
}


def main():
    cases = unique_by_name(check_cases())
    with open(os.path.join(HERE, "index_cases.json"), "w") as f:
        f.write('{"generator": "%s", "torch_version": "%s", "cases": [\n' % (GENERATOR, torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")
    print("{} check cases ({} valid), {} forward cases".format(len(cases), sum(c["expect"]["ok"] for c in cases),
                                                             write_op_forward(os.path.join(HERE, "forward_index"), GENERATOR, FORWARD, evaluate,
                                                                              lambda result: {"expected.output": result.contiguous().numpy()})))


if __name__ == "__main__":
    main()
