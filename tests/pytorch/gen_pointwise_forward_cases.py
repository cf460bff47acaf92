#!/usr/bin/python3
"""Generate golden fixtures for mhacheck's forward pass of the elementwise, activation, cast (to, float,
half, ...), tril/triu, F.pad (constant mode),
reduction (sum, mean, max, amax, logsumexp, linalg.vector_norm) and expand operators, of the mask inversions (logical_not, bitwise_not, eq, ne) and of the mask
combinations (bitwise_and/or, `&` and `|`; logical_and/or).

Writes, under tests/pytorch/forward_pointwise/, for every case NAME:
  NAME.npz   the inputs (by their names in the spec) and PyTorch's results ("expected.OUT" for
             each call's named output)
  NAME.json  the mhacheck spec of the calls, with the tensors given by file and key
and index.json listing the cases.  Every value is computed by the installed PyTorch (1.13 from
Debian's python3-torch); these operators compute the same values in 2.x.  No case has a 0-D
array (fixture_common.save_npz would write it 1-D): full reductions keep their dims.

Usage:  /usr/bin/python3 tests/pytorch/gen_pointwise_forward_cases.py [--out DIR]

Deterministic: each case seeds torch with a hash of its name, and the .npz files have fixed zip
timestamps.  Only stdlib, torch and numpy are used.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import save_npz  # noqa: E402
from gen_glue_forward_cases import random_tensor, seed_of  # noqa: E402

F = torch.nn.functional

# name -> (inputs {name: (shape, dtype)}, calls [(spec, fn(env) -> tensor)]); each call's
# output is named by its spec's "outputs"[0] (a tuple's, max's values and indices, by its "outputs").
CASES = {
    "sub-broadcast": ({"x": ((2, 3, 4), "float32"), "y": ((3, 1), "float32")},
                      [({"op": "sub", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: e["x"] - e["y"])]),
    "mul-number": ({"x": ((2, 3), "float64")}, [({"op": "mul", "input": "x", "other": 0.125, "outputs": ["out"]}, lambda e: e["x"] * 0.125)]),
    "mul-int-by-float-number": ({"x": ((2, 3), "int64")},
                                [({"op": "mul", "input": "x", "other": 0.5, "outputs": ["out"]}, lambda e: e["x"] * 0.5)]),
    "div-broadcast": ({"x": ((2, 1, 4), "float32"), "y": ((3, 1), "float64")},
                      [({"op": "div", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: e["x"] / e["y"])]),
    "div-int-true-division": ({"x": ((2, 3), "int64"), "y": ((3,), "int64")},
                              [({"op": "div", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: torch.div(e["x"], e["y"]))]),
    "div-floor": ({"x": ((2, 3), "float64")},
                  [({"op": "div", "input": "x", "other": 0.3, "rounding_mode": "floor", "outputs": ["out"]},
                    lambda e: torch.div(e["x"], 0.3, rounding_mode="floor"))]),
    # floor division as PyTorch's div_floor_floating: 1 / 0.1 rounds up to 10, its floor is 9
    "div-floor-float32-by-a-tenth": ({"x": ((4,), "float32")},
                                     [({"op": "div", "input": "x", "other": 0.1, "rounding_mode": "floor", "outputs": ["out"]},
                                       lambda e: torch.div(e["x"], 0.1, rounding_mode="floor"))]),
    "div-floor-float64-by-a-tenth": ({"x": ((4,), "float64")},
                                     [({"op": "div", "input": "x", "other": 0.1, "rounding_mode": "floor", "outputs": ["out"]},
                                       lambda e: torch.div(e["x"], 0.1, rounding_mode="floor"))]),
    # zero divisors (IEEE), infinite dividends (NaN) and infinite divisors (0 or -1)
    "div-floor-infinities-and-zeros": ({"x": ((7,), "float32"), "y": ((7,), "float32")},
                                       [({"op": "div", "input": "x", "other": "y", "rounding_mode": "floor", "outputs": ["out"]},
                                         lambda e: torch.div(e["x"], e["y"], rounding_mode="floor"))]),
    "div-trunc": ({"x": ((2, 3), "float32"), "y": ((2, 3), "float32")},
                  [({"op": "div", "input": "x", "other": "y", "rounding_mode": "trunc", "outputs": ["out"]},
                    lambda e: torch.div(e["x"], e["y"], rounding_mode="trunc"))]),
    "add-number": ({"x": ((4,), "float32")}, [({"op": "add", "input": "x", "other": 1, "outputs": ["out"]}, lambda e: e["x"] + 1)]),
    "relu": ({"x": ((2, 5), "float32")}, [({"op": "relu", "input": "x", "outputs": ["out"]}, lambda e: F.relu(e["x"]))]),
    "gelu": ({"x": ((2, 5), "float64")}, [({"op": "gelu", "input": "x", "outputs": ["out"]}, lambda e: F.gelu(e["x"]))]),
    "gelu-tanh": ({"x": ((3, 4), "float32")},
                  [({"op": "gelu", "input": "x", "approximate": "tanh", "outputs": ["out"]}, lambda e: F.gelu(e["x"], approximate="tanh"))]),
    "gelu-tanh-float64": ({"x": ((3, 4), "float64")},
                          [({"op": "gelu", "input": "x", "approximate": "tanh", "outputs": ["out"]},
                            lambda e: F.gelu(e["x"], approximate="tanh"))]),
    "silu": ({"x": ((2, 5), "float32")}, [({"op": "silu", "input": "x", "outputs": ["out"]}, lambda e: F.silu(e["x"]))]),
    "tanh": ({"x": ((2, 5), "float64")}, [({"op": "tanh", "input": "x", "outputs": ["out"]}, lambda e: torch.tanh(e["x"]))]),
    "sigmoid": ({"x": ((2, 5), "float32")}, [({"op": "sigmoid", "input": "x", "outputs": ["out"]}, lambda e: torch.sigmoid(e["x"]))]),
    "sigmoid-int": ({"x": ((2, 5), "int8")}, [({"op": "sigmoid", "input": "x", "outputs": ["out"]}, lambda e: torch.sigmoid(e["x"]))]),
    "exp-neg": ({"x": ((2, 5), "float32")}, [({"op": "neg", "input": "x", "outputs": ["n"]}, lambda e: -e["x"]),
                                            ({"op": "exp", "input": "n", "outputs": ["out"]}, lambda e: torch.exp(e["n"]))]),
    "exp-int": ({"x": ((2, 5), "int64")}, [({"op": "exp", "input": "x", "outputs": ["out"]}, lambda e: torch.exp(e["x"]))]),
    "log-sqrt-rsqrt-of-abs": ({"x": ((3, 4), "float64")},
                              [({"op": "abs", "input": "x", "outputs": ["a"]}, lambda e: torch.abs(e["x"])),
                               ({"op": "log", "input": "a", "outputs": ["l"]}, lambda e: torch.log(e["a"])),
                               ({"op": "sqrt", "input": "a", "outputs": ["s"]}, lambda e: torch.sqrt(e["a"])),
                               ({"op": "rsqrt", "input": "a", "outputs": ["r"]}, lambda e: torch.rsqrt(e["a"]))]),
    "where-mask-scores": ({"s": ((2, 3, 4, 4), "float32"), "m": ((2, 1, 1, 4), "bool")},
                          [({"op": "where", "condition": "m", "input": "s", "other": "-inf", "outputs": ["out"]},
                            lambda e: torch.where(e["m"], e["s"], float("-inf")))]),
    "where-tensors-promoted": ({"c": ((3, 1), "bool"), "x": ((4,), "float64"), "y": ((3, 4), "float32")},
                               [({"op": "where", "condition": "c", "input": "x", "other": "y", "outputs": ["out"]},
                                 lambda e: torch.where(e["c"], e["x"], e["y"]))]),
    "where-numbers": ({"c": ((2, 5), "bool")}, [({"op": "where", "condition": "c", "input": 0.0, "other": -10000.0, "outputs": ["out"]},
                                                  lambda e: torch.where(e["c"], 0.0, -10000.0))]),
    "sin-cos": ({"x": ((4, 6), "float32")}, [({"op": "sin", "input": "x", "outputs": ["s"]}, lambda e: torch.sin(e["x"])),
                                             ({"op": "cos", "input": "x", "outputs": ["c"]}, lambda e: torch.cos(e["x"]))]),
    "dropout-eval": ({"x": ((2, 5), "float32")},
                     [({"op": "dropout", "input": "x", "p": 0.3, "training": False, "outputs": ["out"]},
                       lambda e: F.dropout(e["x"], 0.3, training=False))]),
    "contiguous-after-transpose": ({"x": ((2, 3, 4), "float32")},
                                   [({"op": "transpose", "input": "x", "dim0": 0, "dim1": 2, "outputs": ["t"]}, lambda e: e["x"].transpose(0, 2)),
                                    ({"op": "contiguous", "input": "t", "outputs": ["out"]}, lambda e: e["t"].contiguous())]),
    "clone-int": ({"x": ((2, 3), "int64")}, [({"op": "clone", "input": "x", "outputs": ["out"]}, lambda e: e["x"].clone())]),
    "sum-dim": ({"x": ((2, 3, 4), "float32")},
                [({"op": "sum", "input": "x", "dim": 1, "outputs": ["out"]}, lambda e: e["x"].sum(1))]),
    "sum-dims-keepdim": ({"x": ((2, 3, 4, 5), "float64")},
                         [({"op": "sum", "input": "x", "dim": [0, -1], "keepdim": True, "outputs": ["out"]},
                           lambda e: e["x"].sum([0, -1], keepdim=True))]),
    "sum-all-keepdim": ({"x": ((3, 4), "float32")},
                        [({"op": "sum", "input": "x", "dim": [0, 1], "keepdim": True, "outputs": ["out"]},
                          lambda e: e["x"].sum([0, 1], keepdim=True))]),
    "mean-last": ({"x": ((2, 5, 8), "float32")}, [({"op": "mean", "input": "x", "dim": -1, "outputs": ["out"]}, lambda e: e["x"].mean(-1))]),
    "mean-dims": ({"x": ((2, 3, 4), "float64")},
                  [({"op": "mean", "input": "x", "dim": [2, 0], "outputs": ["out"]}, lambda e: e["x"].mean([2, 0]))]),
    # The reductions attention code calls: the softmax shift (max, amax), logsumexp, QK-norm.
    "max-softmax-shift": ({"x": ((2, 4, 5, 7), "float32")},
                          [({"op": "max", "input": "x", "dim": -1, "keepdim": True, "outputs": ["mx", "at"]},
                            lambda e: tuple(e["x"].max(-1, keepdim=True))),
                           ({"op": "sub", "input": "x", "other": "mx", "outputs": ["out"]}, lambda e: e["x"] - e["mx"])]),
    "max-dim-0": ({"x": ((3, 4, 2), "float64")},
                  [({"op": "max", "input": "x", "dim": 0, "outputs": ["out", "at"]}, lambda e: tuple(e["x"].max(0)))]),
    "amax-shift": ({"x": ((2, 3, 6), "float64")},
                   [({"op": "amax", "input": "x", "dim": -1, "keepdim": True, "outputs": ["out"]}, lambda e: e["x"].amax(-1, keepdim=True))]),
    "amax-dims": ({"x": ((2, 3, 4), "float32")},
                  [({"op": "amax", "input": "x", "dim": [0, 2], "outputs": ["out"]}, lambda e: e["x"].amax([0, 2]))]),
    "logsumexp-last": ({"x": ((2, 3, 6), "float32")},
                       [({"op": "logsumexp", "input": "x", "dim": -1, "outputs": ["out"]}, lambda e: e["x"].logsumexp(-1))]),
    "logsumexp-dims-keepdim": ({"x": ((2, 3, 4, 5), "float64")},
                               [({"op": "logsumexp", "input": "x", "dim": [1, 3], "keepdim": True, "outputs": ["out"]},
                                 lambda e: e["x"].logsumexp([1, 3], keepdim=True))]),
    "vector-norm-qk-norm": ({"q": ((2, 4, 5, 8), "float32")},
                            [({"op": "vector_norm", "input": "q", "dim": -1, "keepdim": True, "outputs": ["n"]},
                              lambda e: torch.linalg.vector_norm(e["q"], dim=-1, keepdim=True)),
                             ({"op": "div", "input": "q", "other": "n", "outputs": ["out"]}, lambda e: e["q"] / e["n"])]),
    "vector-norm-inf": ({"x": ((3, 4, 5), "float64")},
                        [({"op": "vector_norm", "input": "x", "ord": "inf", "dim": [0, -1], "outputs": ["out"]},
                          lambda e: torch.linalg.vector_norm(e["x"], ord=float("inf"), dim=[0, -1]))]),
    "vector-norm-ord-1": ({"x": ((3, 4), "float32")},
                          [({"op": "vector_norm", "input": "x", "ord": 1, "dim": 1, "outputs": ["out"]},
                            lambda e: torch.linalg.vector_norm(e["x"], ord=1, dim=1))]),
    "vector-norm-ord-3-all-keepdim": ({"x": ((2, 3, 4), "float64")},
                                      [({"op": "vector_norm", "input": "x", "ord": 3, "keepdim": True, "outputs": ["out"]},
                                        lambda e: torch.linalg.vector_norm(e["x"], ord=3, keepdim=True))]),
    "mean-tokens": ({"x": ((2, 7, 16), "float32")},
                    [({"op": "mean", "input": "x", "dim": 1, "keepdim": True, "outputs": ["out"]}, lambda e: e["x"].mean(1, keepdim=True))]),
    "masked-fill-scores": ({"s": ((2, 2, 3, 3), "float32"), "m": ((2, 1, 1, 3), "bool")},
                           [({"op": "masked_fill", "input": "s", "mask": "m", "value": -1e9, "outputs": ["out"]},
                             lambda e: e["s"].masked_fill(e["m"], -1e9))]),
    "masked-fill-inf-then-softmax": ({"s": ((2, 4), "float64"), "m": ((4,), "bool")},
                                     [({"op": "masked_fill", "input": "s", "mask": "m", "value": "-inf", "outputs": ["f"]},
                                       lambda e: e["s"].masked_fill(e["m"], float("-inf"))),
                                      ({"op": "softmax", "input": "f", "dim": -1, "outputs": ["out"]}, lambda e: torch.softmax(e["f"], -1))]),
    "masked-fill-broadcasts-input": ({"x": ((3,), "float32"), "m": ((2, 3), "bool")},
                                     [({"op": "masked_fill", "input": "x", "mask": "m", "value": 2.5, "outputs": ["out"]},
                                       lambda e: e["x"].masked_fill(e["m"], 2.5))]),
    "expand-class-token": ({"c": ((1, 1, 8), "float32")},
                           [({"op": "expand", "input": "c", "size": [3, -1, -1], "outputs": ["out"]}, lambda e: e["c"].expand(3, -1, -1))]),
    "expand-new-dims": ({"x": ((3, 1), "int64")},
                        [({"op": "expand", "input": "x", "size": [2, 3, 4], "outputs": ["out"]}, lambda e: e["x"].expand(2, 3, 4))]),
    "repeat": ({"x": ((2, 3), "float32")}, [({"op": "repeat", "input": "x", "repeats": [2, 1, 3], "outputs": ["out"]}, lambda e: e["x"].repeat(2, 1, 3))]),
    "repeat-interleave-dim": ({"x": ((2, 3, 4), "float64")},
                              [({"op": "repeat_interleave", "input": "x", "repeats": 2, "dim": 1, "outputs": ["out"]},
                                lambda e: e["x"].repeat_interleave(2, dim=1))]),
    "repeat-interleave-flat": ({"x": ((2, 3), "int64")},
                               [({"op": "repeat_interleave", "input": "x", "repeats": 3, "outputs": ["out"]}, lambda e: e["x"].repeat_interleave(3))]),
    "repeat-interleave-heads": ({"k": ((2, 2, 5, 4), "float32")},
                                [({"op": "repeat_interleave", "input": "k", "repeats": 3, "dim": -3, "outputs": ["out"]},
                                  lambda e: e["k"].repeat_interleave(3, dim=-3))]),
    # A Hugging Face attention_mask (int, 1 = keep) turned into masked_fill's "True = fill".
    "eq-zero-then-masked-fill": ({"s": ((2, 3, 5), "float32"), "am": ((2, 1, 5), "int64")},
                                 [({"op": "eq", "input": "am", "other": 0, "outputs": ["pad"]}, lambda e: e["am"] == 0),
                                  ({"op": "masked_fill", "input": "s", "mask": "pad", "value": -1e9, "outputs": ["out"]},
                                   lambda e: e["s"].masked_fill(e["pad"], -1e9))]),
    # A length mask: positions below each sequence's length (True = keep), and a threshold mask.
    "lt-length-mask": ({"pos": ((1, 6), "int64"), "lengths": ((3, 1), "int64")},
                       [({"op": "lt", "input": "pos", "other": "lengths", "outputs": ["keep"]}, lambda e: e["pos"] < e["lengths"])]),
    "ge-float32-threshold": ({"p": ((2, 5), "float32")}, [({"op": "ge", "input": "p", "other": 0.5, "outputs": ["out"]}, lambda e: e["p"] >= 0.5)]),
    "gt-le-int64-float": ({"x": ((3,), "int64"), "y": ((3,), "float64")},
                          [({"op": "gt", "input": "x", "other": "y", "outputs": ["g"]}, lambda e: e["x"] > e["y"]),
                           ({"op": "le", "input": "x", "other": 1.5, "outputs": ["out"]}, lambda e: e["x"] <= 1.5)]),
    "ne-zero-float": ({"x": ((3, 4), "float64")}, [({"op": "ne", "input": "x", "other": 0, "outputs": ["out"]}, lambda e: e["x"] != 0)]),
    "eq-broadcast-tensor": ({"x": ((2, 1, 4), "int64"), "y": ((3, 4), "int64")},
                            [({"op": "eq", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: e["x"] == e["y"])]),
    # eq and ne compare in the operands' common dtype (torch.result_type): a Python number is cast
    # to a float tensor's dtype first, a float64 tensor is not; int64 operands compare as integers.
    "eq-float32-number-in-float32": ({"x": ((4,), "float32")}, [({"op": "eq", "input": "x", "other": 0.1, "outputs": ["out"]}, lambda e: e["x"] == 0.1)]),
    "ne-float32-number-in-float32": ({"x": ((4,), "float32")}, [({"op": "ne", "input": "x", "other": 0.1, "outputs": ["out"]}, lambda e: e["x"] != 0.1)]),
    "eq-float32-float64-tensor": ({"x": ((4,), "float32"), "y": ((1,), "float64")},
                                  [({"op": "eq", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: e["x"] == e["y"])]),
    "eq-float16-number-in-float16": ({"x": ((4,), "float16")}, [({"op": "eq", "input": "x", "other": 0.1, "outputs": ["out"]}, lambda e: e["x"] == 0.1)]),
    "eq-int64-number-beyond-2-53": ({"x": ((3,), "int64")},
                                    [({"op": "eq", "input": "x", "other": 2**53, "outputs": ["out"]}, lambda e: e["x"] == 2**53)]),
    "ne-int64-tensors-beyond-2-53": ({"x": ((3,), "int64"), "y": ((3,), "int64")},
                                     [({"op": "ne", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: e["x"] != e["y"])]),
    "eq-int64-float-number-in-float32": ({"x": ((3,), "int64")},
                                         [({"op": "eq", "input": "x", "other": 16777216.0, "outputs": ["out"]}, lambda e: e["x"] == 16777216.0)]),
    # JSON writes float('-inf') as "-inf", as masked_fill's value.
    "eq-number-minus-inf": ({"x": ((4,), "float32")},
                            [({"op": "eq", "input": "x", "other": "-inf", "outputs": ["out"]}, lambda e: e["x"] == float("-inf"))]),
    "logical-not-int": ({"x": ((2, 5), "int64")}, [({"op": "logical_not", "input": "x", "outputs": ["out"]}, lambda e: torch.logical_not(e["x"]))]),
    "logical-not-float": ({"x": ((2, 5), "float32")},
                          [({"op": "logical_not", "input": "x", "outputs": ["out"]}, lambda e: torch.logical_not(e["x"]))]),
    "bitwise-not-bool-mask": ({"s": ((2, 4), "float32"), "keep": ((4,), "bool")},
                              [({"op": "bitwise_not", "input": "keep", "outputs": ["pad"]}, lambda e: ~e["keep"]),
                               ({"op": "masked_fill", "input": "s", "mask": "pad", "value": 0.0, "outputs": ["out"]},
                                lambda e: e["s"].masked_fill(e["pad"], 0.0))]),
    "bitwise-not-int8": ({"x": ((3, 4), "int8")}, [({"op": "bitwise_not", "input": "x", "outputs": ["out"]}, lambda e: ~e["x"])]),
    # add, sub, mul and div compute in their result dtype: float32 x * 1.1 multiplies by
    # float32(1.1); in double, then rounded, 2 of these 4 products come out 1 ulp (8 or 128) off.
    "mul-float32-number-in-float32": ({"x": ((4,), "float32")},
                                      [({"op": "mul", "input": "x", "other": 1.1, "outputs": ["out"]}, lambda e: e["x"] * 1.1)]),
    "div-float32-number-in-float32": ({"x": ((4,), "float32")},
                                      [({"op": "div", "input": "x", "other": 0.7, "outputs": ["out"]}, lambda e: e["x"] / 0.7)]),
    # int64 + float32 is float32: 2**60 + 2**36 + 1 rounds once, up to 2**60 + 2**37 (through
    # double it rounds to 2**60 + 2**36, then to even: 2**60).
    "add-int64-beyond-2-53-float32": ({"x": ((3,), "int64"), "y": ((3,), "float32")},
                                      [({"op": "add", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: e["x"] + e["y"])]),
    "sub-int64-beyond-2-53-float32": ({"x": ((3,), "int64"), "y": ((3,), "float32")},
                                      [({"op": "sub", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: e["x"] - e["y"])]),
    "div-int64-beyond-2-53-in-float32": ({"x": ((3,), "int64"), "y": ((3,), "int64")},
                                         [({"op": "div", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: e["x"] / e["y"])]),
    # A (B, 1, 1, T) padding mask or'ed with a (T, T) causal mask: one (B, 1, T, T) mask, True = masked.
    "bitwise-or-padding-and-causal": ({"s": ((2, 1, 4, 4), "float32"), "pad": ((2, 1, 1, 4), "bool"), "causal": ((4, 4), "bool")},
                                      [({"op": "bitwise_or", "input": "pad", "other": "causal", "outputs": ["masked"]},
                                        lambda e: e["pad"] | e["causal"]),
                                       ({"op": "masked_fill", "input": "s", "mask": "masked", "value": -1e9, "outputs": ["out"]},
                                        lambda e: e["s"].masked_fill(e["masked"], -1e9))]),
    "bitwise-and-bool-number": ({"x": ((3, 4), "bool")}, [({"op": "bitwise_and", "input": "x", "other": True, "outputs": ["out"]},
                                                           lambda e: e["x"] & True)]),
    "bitwise-and-int64-number": ({"x": ((3, 4), "int64")}, [({"op": "bitwise_and", "input": "x", "other": 6, "outputs": ["out"]},
                                                             lambda e: e["x"] & 6)]),
    "bitwise-or-int8-int64": ({"x": ((3, 4), "int8"), "y": ((4,), "int64")}, [({"op": "bitwise_or", "input": "x", "other": "y", "outputs": ["out"]},
                                                                               lambda e: e["x"] | e["y"])]),
    "logical-and-float-int": ({"x": ((6,), "float32"), "y": ((6,), "int64")},
                              [({"op": "logical_and", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: torch.logical_and(e["x"], e["y"]))]),
    "logical-or-float-bool": ({"x": ((6,), "float32"), "y": ((2, 1), "bool")},
                              [({"op": "logical_or", "input": "x", "other": "y", "outputs": ["out"]}, lambda e: torch.logical_or(e["x"], e["y"]))]),
    # Casts (Tensor.to and its shorthands), as c10's static_cast: a transposed input, float16 rounding
    # (ties to even, overflow to inf, subnormals), truncation toward zero, nonzero as True, int64
    # wrapped into int8, int64 beyond 2**53 rounded once to float32.
    "to-float64-of-transposed": ({"x": ((2, 3, 4), "float32")},
                                 [({"op": "transpose", "input": "x", "dim0": 0, "dim1": 2, "outputs": ["t"]}, lambda e: e["x"].transpose(0, 2)),
                                  ({"op": "to", "input": "t", "dtype": "float64", "outputs": ["out"]}, lambda e: e["t"].to(torch.float64))]),
    "half-then-float": ({"x": ((8,), "float32")},
                        [({"op": "half", "input": "x", "outputs": ["h"]}, lambda e: e["x"].half()),
                         ({"op": "float", "input": "h", "outputs": ["out"]}, lambda e: e["h"].float())]),
    "to-half-of-float64": ({"x": ((8,), "float64")},
                           [({"op": "to", "input": "x", "dtype": "torch.float16", "outputs": ["out"]}, lambda e: e["x"].to(torch.float16))]),
    "float-of-bool-mask": ({"m": ((2, 5), "bool")}, [({"op": "float", "input": "m", "outputs": ["out"]}, lambda e: e["m"].float())]),
    "long-of-floats": ({"x": ((8,), "float32")}, [({"op": "long", "input": "x", "outputs": ["out"]}, lambda e: e["x"].long())]),
    "bool-of-floats": ({"x": ((8,), "float64")}, [({"op": "bool", "input": "x", "outputs": ["out"]}, lambda e: e["x"].bool())]),
    "to-int8-of-int64": ({"x": ((3, 4), "int64")}, [({"op": "to", "input": "x", "dtype": "int8", "outputs": ["out"]}, lambda e: e["x"].to(torch.int8))]),
    "float-of-int64-beyond-2-53": ({"x": ((3,), "int64")}, [({"op": "float", "input": "x", "outputs": ["out"]}, lambda e: e["x"].float())]),
    "double-of-int": ({"x": ((2, 3), "int64")}, [({"op": "double", "input": "x", "outputs": ["out"]}, lambda e: e["x"].double())]),
    # tril and triu: a causal mask's two forms, batched, any dtype, diagonals either side
    "tril": ({"x": ((4, 5), "float32")}, [({"op": "tril", "input": "x", "outputs": ["out"]}, lambda e: torch.tril(e["x"]))]),
    "triu-diagonal-1-bool": ({"m": ((2, 4, 4), "bool")},
                             [({"op": "triu", "input": "m", "diagonal": 1, "outputs": ["out"]}, lambda e: torch.triu(e["m"], 1))]),
    "tril-negative-diagonal-int": ({"x": ((2, 3, 5), "int64")},
                                   [({"op": "tril", "input": "x", "diagonal": -1, "outputs": ["out"]}, lambda e: e["x"].tril(-1))]),
    "triu-of-transposed": ({"x": ((3, 4), "float64")},
                           [({"op": "transpose", "input": "x", "dim0": 0, "dim1": 1, "outputs": ["t"]}, lambda e: e["x"].T),
                            ({"op": "triu", "input": "t", "diagonal": -1, "outputs": ["out"]}, lambda e: e["t"].triu(-1))]),
    # F.pad, constant mode: the last dim, two dims, crops, a value cast to the input's dtype
    "pad-last-dim-value": ({"x": ((2, 3, 4), "float32")},
                           [({"op": "pad", "input": "x", "pad": [1, 2], "value": 0.5, "outputs": ["out"]}, lambda e: F.pad(e["x"], (1, 2), value=0.5))]),
    "pad-two-dims-crop": ({"x": ((2, 3, 4), "float64")},
                          [({"op": "pad", "input": "x", "pad": [-1, 2, 1, -1], "outputs": ["out"]}, lambda e: F.pad(e["x"], (-1, 2, 1, -1)))]),
    "pad-crop-only-of-transposed": ({"x": ((2, 3, 4), "float32")},
                                    [({"op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["t"]}, lambda e: e["x"].transpose(1, 2)),
                                     ({"op": "pad", "input": "t", "pad": [0, -1, -1, 0], "outputs": ["out"]}, lambda e: F.pad(e["t"], (0, -1, -1, 0)))]),
    "pad-int-value-truncated": ({"x": ((2, 3), "int64")},
                                [({"op": "pad", "input": "x", "pad": [1, 0, 0, 1], "value": 2.7, "outputs": ["out"]},
                                  lambda e: F.pad(e["x"], (1, 0, 0, 1), value=2.7))]),
    "pad-bool-mask": ({"m": ((2, 3), "bool")},
                      [({"op": "pad", "input": "m", "pad": [2, 0], "value": 1, "outputs": ["out"]}, lambda e: F.pad(e["m"], (2, 0), value=1))]),
}


# Cases whose inputs are written out: values a comparison in double would get wrong.
FLOAT_TENTHS = [0.1, 0.2, 0.30000001192092896, 0.1]
VALUES = {
    # float16: ties to even (2049 -> 2048, 2051 -> 2052), the largest finite, overflow, a subnormal, underflow
    "half-then-float": {"x": torch.tensor([2049.0, 2051.0, 65504.0, 65520.0, -65519.0, 3e-6, 1e-8, -1.7])},
    "to-half-of-float64": {"x": torch.tensor([2049.0, 1.0 + 2 ** -11 + 2 ** -40, 65519.99, 1e30, 5.9604644775390625e-08, -0.0, 0.1, 1 / 3],
                                             dtype=torch.float64)},
    "long-of-floats": {"x": torch.tensor([1.7, -1.7, 2.5, -0.5, 0.0, 1e6, -3.99, 7.0])},
    "bool-of-floats": {"x": torch.tensor([0.0, -0.0, 1e-300, float("nan"), float("inf"), -2.0, 0.5, 0.0], dtype=torch.float64)},
    "to-int8-of-int64": {"x": torch.tensor([[300, -300, 127, 128], [-129, 255, 256, 0], [1000, -1000, 44, -1]])},
    "float-of-int64-beyond-2-53": {"x": torch.tensor([2 ** 60 + 2 ** 36 + 1, -(2 ** 53) - 1, 16777217])},
    "div-floor-float32-by-a-tenth": {"x": torch.tensor([1.0, -1.0, 0.7, 3.0], dtype=torch.float32)},
    "div-floor-float64-by-a-tenth": {"x": torch.tensor([1.0, -1.0, 0.7, 3.0], dtype=torch.float64)},
    "div-floor-infinities-and-zeros": {
        "x": torch.tensor([1.0, float("inf"), -3.0, -1.0, 0.0, 5.5, 7.0]),
        "y": torch.tensor([0.0, 2.0, float("inf"), 0.0, -2.0, float("-inf"), -2.0])},
    "eq-float32-number-in-float32": {"x": torch.tensor(FLOAT_TENTHS, dtype=torch.float32)},
    "ne-float32-number-in-float32": {"x": torch.tensor(FLOAT_TENTHS, dtype=torch.float32)},
    "eq-float32-float64-tensor": {"x": torch.tensor(FLOAT_TENTHS, dtype=torch.float32), "y": torch.tensor([0.1], dtype=torch.float64)},
    "eq-float16-number-in-float16": {"x": torch.tensor([0.1, 0.2, 0.10003662109375, 0.1], dtype=torch.float16)},
    "eq-int64-number-beyond-2-53": {"x": torch.tensor([2**53 + 1, 2**53, 2**53 - 1])},
    "ne-int64-tensors-beyond-2-53": {"x": torch.tensor([2**53 + 1, 2**53, 2**62 + 1]), "y": torch.tensor([2**53, 2**53, 2**62])},
    "eq-int64-float-number-in-float32": {"x": torch.tensor([16777217, 16777216, 16777218])},
    "eq-number-minus-inf": {"x": torch.tensor([float("-inf"), 0.0, float("inf"), -3.4e38])},
    "mul-float32-number-in-float32": {"x": torch.tensor([1e8, 123456789.0, 3e7, 987654321.0], dtype=torch.float32)},
    "div-float32-number-in-float32": {"x": torch.tensor([1e8, 123456789.0, 3e7, 987654321.0], dtype=torch.float32)},
    "add-int64-beyond-2-53-float32": {"x": torch.tensor([2**60 + 2**36 + 1, 2**53 + 1, 5]), "y": torch.tensor([0.0, 0.0, 0.5])},
    "sub-int64-beyond-2-53-float32": {"x": torch.tensor([2**60 + 2**36 + 1, 2**53 + 1, 5]), "y": torch.tensor([0.0, 0.0, 0.5])},
    "div-int64-beyond-2-53-in-float32": {"x": torch.tensor([2**60 + 2**36 + 1, 2**53 + 1, 5]), "y": torch.tensor([1, 1, 2])},
    # zeros, NaN (nonzero: True) and negatives, against 0/1 and other integers
    "logical-and-float-int": {"x": torch.tensor([0.0, float("nan"), -2.5, 0.0, 1.0, -0.0]), "y": torch.tensor([1, 1, 0, 0, 7, 3])},
    "logical-or-float-bool": {"x": torch.tensor([0.0, float("nan"), -2.5, 0.0, 1.0, -0.0]), "y": torch.tensor([[False], [True]])},
}


def tensor_of(shape, dtype):
    if dtype == "bool":
        return torch.rand(shape) < 0.4
    return random_tensor(shape, dtype)


def write_case(out, name, case):
    inputs, calls = case
    torch.manual_seed(seed_of(name))
    env = dict(VALUES[name]) if name in VALUES else {key: tensor_of(shape, dtype) for key, (shape, dtype) in inputs.items()}
    if name == "masked-fill-inf-then-softmax":
        env["m"][0] = False  # one key always attends: no row is fully masked
    if name in ("eq-zero-then-masked-fill", "logical-not-int", "eq-broadcast-tensor", "bitwise-and-int64-number", "bitwise-or-int8-int64"):
        # 0/1 masks and small integers, so that the comparisons meet both outcomes
        env = {key: torch.randint(0, 2, value.shape) if value.dtype == torch.int64 else value for key, value in env.items()}
    arrays = {key: value.numpy() for key, value in env.items()}
    specs = []
    for i, (call, fn) in enumerate(calls):
        results = fn(env)
        for output, result in zip(call["outputs"], results if isinstance(results, tuple) else (results,)):  # max: (values, indices)
            env[output] = result
            arrays["expected." + output] = result.contiguous().numpy()
        specs.append(dict(id="c{}".format(i), **call))
    spec = {"tensors": {key: {"file": name + ".npz", "key": key} for key in inputs}, "modules": {}, "calls": specs}
    save_npz(os.path.join(out, name + ".npz"), arrays)
    with open(os.path.join(out, name + ".json"), "w") as fh:
        json.dump(spec, fh, indent=2)
        fh.write("\n")
    return str(env[calls[-1][0]["outputs"][0]].dtype).replace("torch.", "")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "forward_pointwise"))
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    index = [{"name": name, "dtype": write_case(out, name, case), "fully_masked": False} for name, case in CASES.items()]
    with open(os.path.join(out, "index.json"), "w") as fh:
        json.dump({"generator": "tests/pytorch/gen_pointwise_forward_cases.py", "torch_version": torch.__version__, "cases": index}, fh, indent=1)
        fh.write("\n")
    print("{} cases in {}".format(len(index), out))


if __name__ == "__main__":
    main()
