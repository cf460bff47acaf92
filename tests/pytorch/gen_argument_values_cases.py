#!/usr/bin/python3
"""Generate PyTorch ground truth for how mhacheck reads argument values, written as a user writes them.

Writes tests/pytorch/argument_values_cases.json with three lists, each run on the installed PyTorch
(1.13 from Debian's python3-torch; every case here behaves alike in 2.x, whose sources were read
for these paths: nn.Dropout's constructor, Tensor.masked_fill's Scalar value, Tensor.view/expand/
repeat and torch.einsum):
- "inline": calls as the command line's flags write them (--op, --arg NAME=VALUE, --dim): size
  lists with symbol expressions (x.view(B*T, C)), strings (einsum's equation), a bool fill value.
  PyTorch runs each with the symbols replaced by the "dims" and records the output shape or the
  exception.
- "cases": single-call specs as tests/check/pytorch_agreement_test.cpp checks them: masked_fill
  with a bool value in every dtype, and with numbers that overflow the dtype or fit it; the Transformer layers constructed with a dropout outside
  [0, 1] (their nn.Dropout refuses it in __init__, before any call).
- "float_options": pasted keyword values with constant arithmetic (dropout=1/10), and the value
  Python computes for each.

Usage:  /usr/bin/python3 tests/pytorch/gen_argument_values_cases.py [--out PATH]
Deterministic: no randomness; only stdlib and torch are used.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import DTYPES  # noqa: E402

DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
GENERATOR = "tests/pytorch/gen_argument_values_cases.py"
NN = torch.nn


def outcome(fn):
    try:
        out = fn()
    except (RuntimeError, ValueError, AssertionError) as e:
        return {"ok": False, "error": {"type": type(e).__name__, "message": str(e).split("\n")[0]}}
    outs = out if isinstance(out, tuple) else (out,)
    return {"ok": True, "outputs": [list(o.shape) for o in outs if o is not None]}


def shape_of(text, dims):
    """A shape or size list as the flags write it, "(B*T, -1)", evaluated with the dims bound."""
    return list(eval(text, {}, dict(dims)))  # noqa: S307 (the generator's own literals)


def inline(name, op, args, dims, run):
    """One call by flags: `args` are the --arg texts; `run(values)` calls PyTorch on the evaluated ones."""
    expect = outcome(lambda: run(args, dims))
    return {"name": name, "op": op, "args": args, "dims": dims, "expect": expect}


def zeros(text, dims, dtype=torch.float32):
    return torch.zeros(shape_of(text, dims), dtype=dtype)


def inline_cases():
    d = {"B": 2, "T": 3, "C": 4, "H": 2, "D": 5, "S": 7}
    yield inline("view-merges-symbols", "view", {"input": "(T, B, C)", "shape": "(B*T, C)"}, d,
                 lambda v, d: zeros(v["input"], d).view(shape_of(v["shape"], d)))
    yield inline("view-minus-one", "view", {"input": "(T, B, C)", "shape": "(-1, C)"}, d,
                 lambda v, d: zeros(v["input"], d).view(shape_of(v["shape"], d)))
    yield inline("reshape-coefficient-and-offset", "reshape", {"input": "(B, 2*T, C)", "shape": "(2*B*T, C)"}, d,
                 lambda v, d: zeros(v["input"], d).reshape(shape_of(v["shape"], d)))
    yield inline("view-wrong-product", "view", {"input": "(T, B, C)", "shape": "(B*T+1, C)"}, d,
                 lambda v, d: zeros(v["input"], d).view(shape_of(v["shape"], d)))
    yield inline("expand-symbol-size", "expand", {"input": "(1, T, C)", "size": "(B, T, C)"}, d,
                 lambda v, d: zeros(v["input"], d).expand(shape_of(v["size"], d)))
    yield inline("repeat-symbol-count", "repeat", {"input": "(T, C)", "repeats": "(B, 1)"}, d,
                 lambda v, d: zeros(v["input"], d).repeat(shape_of(v["repeats"], d)))
    yield inline("einsum-quoted-equation", "einsum", {"equation": "'bhid,bhjd->bhij'", "operands": "[(B, H, T, D), (B, H, S, D)]"}, d,
                 lambda v, d: torch.einsum(v["equation"].strip("'"), zeros("(B, H, T, D)", d), zeros("(B, H, S, D)", d)))
    yield inline("einsum-bare-equation", "einsum", {"equation": "bhid,bhjd->bhij", "operands": "[(B, H, T, D), (B, H, S, D)]"}, d,
                 lambda v, d: torch.einsum(v["equation"], zeros("(B, H, T, D)", d), zeros("(B, H, S, D)", d)))
    yield inline("einsum-wrong-operand", "einsum", {"equation": "bhid,bhjd->bhij", "operands": "[(B, H, T, D), (B, H, S, C)]"}, d,
                 lambda v, d: torch.einsum(v["equation"], zeros("(B, H, T, D)", d), zeros("(B, H, S, C)", d)))
    yield inline("masked-fill-bool-value", "masked_fill", {"input": "(B, T)", "mask": "(B, T):bool", "value": "True"}, d,
                 lambda v, d: zeros(v["input"], d).masked_fill(torch.zeros(shape_of("(B, T)", d), dtype=torch.bool), True))


def masked_fill_cases():
    for dtype in ("float32", "float64", "int64", "int32", "uint8", "bool"):
        for value in (True, False):
            x = torch.zeros(2, 3, dtype=DTYPES[dtype])
            m = torch.zeros(2, 3, dtype=torch.bool)
            spec = {"op": "masked_fill", "input": {"shape": [2, 3], "dtype": dtype}, "mask": {"shape": [2, 3], "dtype": "bool"}, "value": value}
            expect = outcome(lambda: x.masked_fill(m, value))
            if expect["ok"]:
                out = x.masked_fill(m, value)
                expect["outputs"] = {"output": {"shape": list(out.shape), "dtype": DTYPE_NAMES[out.dtype]}}
            yield {"name": "masked_fill-{}-value={}".format(dtype, value), "spec": spec, "expect": expect}


def masked_fill_overflow_cases():
    """masked_fill's value converted to the input's dtype by c10's checked_convert (Scalar::to<T>),
    the same in 2.x: -1e9 on float16 scores overflows, an infinity fits a floating dtype only."""
    values = {"-1e9": -1e9, "-65504.0": -65504.0, "-65520.0": -65520.0, "100000": 100000, "-inf": "-inf", "nan": "nan",
              "1e39": 1e39, "9.3e18": 9.3e18, "-1e10": -1e10, "300": 300, "-128": -128, "-255": -255, "-256": -256,
              "-1.0": -1.0, "40000": 40000}
    for dtype in ("float16", "bfloat16", "float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"):
        for text, value in values.items():
            x = torch.zeros(2, 3, dtype=getattr(torch, dtype))
            m = torch.ones(2, 3, dtype=torch.bool)
            number = float(value) if isinstance(value, str) else value
            spec = {"op": "masked_fill", "input": {"shape": [2, 3], "dtype": dtype}, "mask": {"shape": [2, 3], "dtype": "bool"}, "value": value}
            expect = outcome(lambda: x.masked_fill(m, number))
            if expect["ok"]:
                expect["outputs"] = {"output": {"shape": [2, 3], "dtype": dtype}}
            yield {"name": "masked_fill-{}-value={}".format(dtype, text), "spec": spec, "expect": expect}


def transformer_dropout_cases():
    layers = {"TransformerEncoderLayer": ("src", [5, 2, 8]), "TransformerDecoderLayer": ("tgt", [5, 2, 8])}
    for module, (argument, shape) in layers.items():
        for dropout in (-0.1, 1.5, 2, 1.0, 0.0):
            def build(module=module, dropout=dropout):
                return getattr(NN, module)(8, 2, dim_feedforward=16, dropout=dropout)
            spec = {"module": {"type": module, "d_model": 8, "nhead": 2, "dim_feedforward": 16, "dropout": dropout},
                    argument: {"shape": shape, "dtype": "float32"}}
            if module == "TransformerDecoderLayer":
                spec["memory"] = {"shape": [4, 2, 8], "dtype": "float32"}

            def call(build=build, module=module):
                layer = build().eval()
                x = torch.zeros(5, 2, 8)
                return layer(x) if module == "TransformerEncoderLayer" else layer(x, torch.zeros(4, 2, 8))
            expect = outcome(call)
            if expect["ok"]:
                out = call()
                expect["outputs"] = {"output": {"shape": list(out.shape), "dtype": DTYPE_NAMES[out.dtype]}}
            yield {"name": "{}-dropout={}".format(module, dropout), "spec": spec, "expect": expect}


def float_options():
    for text in ("1/10", "1 / 10", "0.5 / 2", "3/4*0.2", "1/3", "(1/2)/2", "1 - 9/10", "2**-3", "1/10 + 1//2"):
        yield {"text": text, "value": eval(text)}  # noqa: S307 (the generator's own literals)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "argument_values_cases.json"))
    out = parser.parse_args().out
    document = {"generator": GENERATOR, "torch_version": torch.__version__,
                "inline": list(inline_cases()),
                "cases": list(masked_fill_cases()) + list(masked_fill_overflow_cases()) + list(transformer_dropout_cases()),
                "float_options": list(float_options())}
    with open(out, "w") as f:
        f.write(json.dumps(document, indent=1) + "\n")
    print("{} inline calls, {} cases, {} float options".format(len(document["inline"]), len(document["cases"]), len(document["float_options"])))


if __name__ == "__main__":
    main()
