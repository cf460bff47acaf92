#!/usr/bin/python3
"""Generate PyTorch ground-truth fixtures for mhacheck's elementwise, activation, reduction and
expand operators.

Writes tests/pytorch/pointwise_cases.json (one case per line): add, sub, mul and div by a tensor
or a Python number; contiguous, clone, dropout; relu, gelu, silu, tanh, sigmoid; exp, log, sqrt,
rsqrt, sin, cos, neg, abs; sum and mean; max, amax, logsumexp and linalg.vector_norm (the
reductions attention code calls); masked_fill; where; expand, repeat and repeat_interleave; the mask inversions logical_not,
bitwise_not (`~`) and eq/ne with a number or a tensor (`mask == 0`); the mask combinations
logical_and/or and bitwise_and/or (`&`, `|`); valid and invalid, each run for real on the
installed PyTorch (1.13 from Debian's python3-torch) on contiguous zero tensors.

mhacheck follows PyTorch 2.x.  Where 1.13 differs, the case records 2.x's outcome and says so in
"pytorch_2x":
- masked_fill with a mask that is not bool: 1.13 accepts uint8 and float masks (uint8 with a
  deprecation warning); 2.x's masked_fill_ raises "masked_fill_ only supports boolean masks, but
  got mask with dtype <TypeMeta name>" after the broadcast (expand_outplace) succeeds.
- repeat_interleave(input, int repeats, dim): 2.x's repeat_interleave_symint wraps dim against
  input's rank, then raises "Repeats must be non-negative"; 1.13 routes an int through the tensor
  overload and says "repeats can not be negative".
expand to a negative size that passes the size checks ((1, 3) to [-2, 3], () to [-1]) is left out:
1.13 fails later, in numel ("integer multiplication overflow"); mhacheck reports the negative size
(or, for (), 2.x's inferExpandGeometry check of a -1 in a new leading dim).
float16 and bfloat16 inputs of the activations are left out: 1.13's CPU kernels lack some of them
("clamp_min_cpu" not implemented for 'Half'), 2.x has them all.

Usage:  /usr/bin/python3 tests/pytorch/gen_pointwise_cases.py [--out PATH]

Deterministic: a fixed seed drives every random choice.  Only stdlib and torch are used.
"""

import argparse
import os
import random
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import DTYPES, FLOAT_NAMES, TYPEMETA_NAMES, write_op_cases  # noqa: E402

DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
DTYPE_NAMES[torch.int16] = "int16"  # uint8 with int8 promotes to it

SEED = 20261206
GENERATOR = "tests/pytorch/gen_pointwise_cases.py"
F = torch.nn.functional


def tensor_spec(shape, dtype):
    return {"shape": list(shape), "dtype": dtype}


def run(fn):
    """The outcome of fn() as the fixture records it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
    except (RuntimeError, IndexError, ValueError) as e:
        return {"ok": False, "error": {"type": type(e).__name__, "message": str(e).split("\n")[0]}}
    return {"ok": True, "outputs": {"output": {"shape": list(out.shape), "dtype": DTYPE_NAMES[out.dtype]}}}


def fmt(value):
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def case(op, spec, expect, note=None, **name_args):
    parts = [op]
    for key in ("condition", "input", "other", "mask"):
        if key in spec:
            value = spec[key]
            parts.append(str(value) if not isinstance(value, dict) else "{}:{}".format("x".join(map(str, value["shape"])) or "scalar", value["dtype"]))
    for key in sorted(k for k in spec if k not in ("op", "condition", "input", "other", "mask")):
        parts.append("{}={}".format(key, fmt(spec[key])))
    c = {"name": "-".join(parts), "spec": spec, "expect": expect}
    if note:
        c["pytorch_2x"] = note
    return c


def zeros(shape, dtype):
    return torch.zeros(shape, dtype=DTYPES[dtype])


def binary(op, shape, dtype, other, other_dtype=None, **args):
    """other: a shape tuple (a tensor of other_dtype) or a Python number."""
    spec = {"op": op, "input": tensor_spec(shape, dtype)}
    x = zeros(shape, dtype)
    if isinstance(other, tuple):
        spec["other"] = tensor_spec(other, other_dtype or dtype)
        # ones: an integer division by zero raises at run time, which is about values, not shapes
        y = torch.ones(other, dtype=DTYPES[other_dtype or dtype])
    else:
        spec["other"] = other
        y = other
    spec.update(args)
    fn = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "eq": torch.eq, "ne": torch.ne, "gt": torch.gt, "ge": torch.ge, "lt": torch.lt, "le": torch.le, "logical_and": torch.logical_and,
          "logical_or": torch.logical_or, "bitwise_and": torch.bitwise_and, "bitwise_or": torch.bitwise_or}.get(op)
    if fn is not None:
        return case(op, spec, run(lambda: fn(x, y)))
    return case(op, spec, run(lambda: torch.div(x, y, **args)))


# torch's elementwise functions without arguments, beside the activations.
FUNCTIONS = ("exp", "log", "sqrt", "rsqrt", "sin", "cos", "neg", "abs")


def unary(op, shape, dtype="float32", **args):
    spec = {"op": op, "input": tensor_spec(shape, dtype)}
    spec.update(args)
    x = zeros(shape, dtype)
    fns = {"contiguous": lambda: x.contiguous(), "clone": lambda: torch.clone(x),
           "dropout": lambda: F.dropout(x, **args), "relu": lambda: F.relu(x), "gelu": lambda: F.gelu(x, **args),
           "silu": lambda: F.silu(x), "tanh": lambda: torch.tanh(x), "sigmoid": lambda: torch.sigmoid(x),
           **{name: (lambda name=name: getattr(torch, name)(x)) for name in FUNCTIONS},
           "logical_not": lambda: torch.logical_not(x), "bitwise_not": lambda: torch.bitwise_not(x),
           "sum": lambda: torch.sum(x, **args) if args else torch.sum(x),
           "mean": lambda: torch.mean(x, **args) if args else torch.mean(x),
           "expand": lambda: x.expand(args["size"]), "repeat": lambda: x.repeat(args["repeats"])}
    return case(op, spec, run(fns[op]))


def masked_fill(shape, mask_shape, dtype="float32", mask_dtype="bool", value=-1.0):
    spec = {"op": "masked_fill", "input": tensor_spec(shape, dtype), "mask": tensor_spec(mask_shape, mask_dtype), "value": value}
    x, m = zeros(shape, dtype), zeros(mask_shape, mask_dtype)
    expect = run(lambda: x.masked_fill(m, value))
    note = None
    if mask_dtype != "bool" and expect["ok"]:
        note = "1.13 accepts a {} mask; 2.x raises".format(mask_dtype)
        expect = {"ok": False, "error": {"type": "RuntimeError",
                                         "message": "masked_fill_ only supports boolean masks, but got mask with dtype " + TYPEMETA_NAMES[mask_dtype]}}
    return case("masked_fill", spec, expect, note)


def repeat_interleave(shape, repeats, dim=None, dtype="float32"):
    spec = {"op": "repeat_interleave", "input": tensor_spec(shape, dtype), "repeats": repeats}
    if dim is not None:
        spec["dim"] = dim
    x = zeros(shape, dtype)
    expect = run(lambda: torch.repeat_interleave(x, repeats, dim=dim))
    note = None
    if repeats < 0 and not (expect["error"]["type"] == "IndexError"):
        note = "1.13 says: " + expect["error"]["message"]
        expect = {"ok": False, "error": {"type": "RuntimeError", "message": "Repeats must be non-negative"}}
    return case("repeat_interleave", spec, expect, note)


SHAPES = [(), (5,), (2, 3), (1, 3), (2, 1, 4), (2, 3, 4), (2, 4, 5, 8), (1, 2, 1, 3), (3, 1)]
ALL_DTYPES = ["float32", "float64", "float16", "bfloat16", "bool", "uint8", "int8", "int32", "int64"]


def arithmetic_cases():
    pairs = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (2,)), ((2, 3, 4), (3, 1)), ((2, 3, 4), (4, 3)), ((), (2, 3)),
             ((2, 1, 4), (1, 5, 4)), ((5, 2, 8), (2, 5, 8)), ((2, 4, 5, 5), (5, 5)), ((2, 4, 5, 5), (2, 1, 5, 5)),
             ((2, 4, 5, 5), (3, 1, 5, 5)), ((1,), (7,)), ((0,), (1,)), ((0,), (2,))]
    for op in ("sub", "mul", "div", "add"):
        for a, b in pairs:
            yield binary(op, a, "float32", b)
            yield binary(op, b, "float32", a)
        for x, y in [("float32", "float64"), ("float16", "bfloat16"), ("int64", "float32"), ("bool", "int32"), ("uint8", "int8"),
                     ("int8", "int32"), ("float16", "float32"), ("bool", "bool"), ("int32", "int64"), ("int64", "int64")]:
            yield binary(op, (2, 3), x, (2, 3), y)
            yield binary(op, (2, 3), x, (), y)
            yield binary(op, (), x, (2, 3), y)
        for dtype in ALL_DTYPES:
            for number in (2, 0.5, True):
                yield binary(op, (2, 3), dtype, number)
                yield binary(op, (), dtype, number)
    for mode in ("trunc", "floor", "round", "Floor"):
        yield binary("div", (2, 3), "float32", (3,), rounding_mode=mode)
        yield binary("div", (2, 3), "int64", (3,), "int64", rounding_mode=mode)
        yield binary("div", (2, 3), "int32", 2, rounding_mode=mode)
    yield binary("div", (2, 3), "float32", (4,), rounding_mode="round")  # the mode is checked before the shapes


def same_shape_cases():
    for shape in SHAPES:
        for op in ("contiguous", "clone", "relu", "gelu", "silu", "tanh", "sigmoid") + FUNCTIONS:
            yield unary(op, shape)
        yield unary("dropout", shape, p=0.1, training=False)
    for dtype in ALL_DTYPES:
        for op in ("contiguous", "clone"):
            yield unary(op, (2, 3), dtype)
        if dtype not in ("float16", "bfloat16"):
            for op in ("relu", "gelu", "silu", "tanh", "sigmoid") + FUNCTIONS:
                yield unary(op, (2, 3), dtype)
        yield unary("dropout", (2, 3), dtype, p=0.0, training=False)
    for approximate in ("none", "tanh", "fast", "Tanh"):
        yield unary("gelu", (2, 3), approximate=approximate)
        yield unary("gelu", (2, 3), "int64", approximate=approximate)  # the argument is checked first
    for p in (0.0, 0.5, 1.0, -0.1, 1.5, 2):
        yield unary("dropout", (2, 3), p=p, training=False)


def reduction_cases():
    for shape in SHAPES:
        r = len(shape)
        for dim in [None, [], 0, -1, r - 1, r, -r - 1, [0, -1], [0, 0], [-1, r - 1], list(range(r)), [r]]:
            for keepdim in (False, True):
                args = {} if dim is None and not keepdim else {"dim": dim, "keepdim": keepdim}
                if dim is None and keepdim:
                    continue  # torch.sum(x, dim=None, keepdim=True) is not a 1.13 overload
                yield unary("sum", shape, **args)
                yield unary("mean", shape, **args)
    for dtype in ALL_DTYPES:
        yield unary("sum", (2, 3), dtype)
        yield unary("sum", (2, 3), dtype, dim=1, keepdim=False)
        yield unary("mean", (2, 3), dtype)
        yield unary("mean", (2, 3), dtype, dim=[0, 0], keepdim=False)  # the dtype is checked first


def run_reduction(op, fn):
    """run() for the reductions: max (and min) over a dim returns (values, indices), max() one 0-D values."""
    expect = run(lambda: fn()[0] if op in ("max", "min") and isinstance(fn(), tuple) else fn())
    if expect["ok"] and op in ("max", "min"):
        result = fn()
        values = result[0] if isinstance(result, tuple) else result
        expect["outputs"] = {"values": {"shape": list(values.shape), "dtype": DTYPE_NAMES[values.dtype]}}
        if isinstance(result, tuple):
            expect["outputs"]["indices"] = {"shape": list(result[1].shape), "dtype": DTYPE_NAMES[result[1].dtype]}
    return expect


def attention_reduction(op, shape, dtype="float32", **args):
    """torch.max, torch.amax, torch.logsumexp and torch.linalg.vector_norm, as attention code calls
    them: the softmax shift scores.max(-1, keepdim=True) / amax, logsumexp, QK-norm's norm(dim=-1)."""
    spec = {"op": op, "input": tensor_spec(shape, dtype)}
    spec.update(args)
    x = zeros(shape, dtype)
    fns = {"max": lambda: tuple(torch.max(x, **args)) if "dim" in args else torch.max(x),
           "amax": lambda: torch.amax(x, **args),
           "logsumexp": lambda: torch.logsumexp(x, **args),
           "vector_norm": lambda: torch.linalg.vector_norm(x, **{k: (float(v) if k == "ord" and isinstance(v, str) else v) for k, v in args.items()})}
    expect = run_reduction(op, fns[op])
    note = None
    if op == "logsumexp" and dtype == "float16" and not expect["ok"] and "not implemented for 'Half'" in expect["error"]["message"]:
        note = "1.13's CPU exp lacks float16; 2.x has it"
        expect = run(lambda: torch.logsumexp(zeros(shape, "float32"), **args))
        if expect["ok"]:
            expect["outputs"]["output"]["dtype"] = "float16"
    if op == "logsumexp" and dtype not in FLOAT_NAMES:
        # 2.x computes integral and bool inputs in the default dtype (float32); 1.13 refuses some
        # of them and computes others in their own dtype.
        twox = run(lambda: torch.logsumexp(zeros(shape, "float32"), **args))
        if expect != twox:
            note = "2.x's logsumexp computes {} in the default float32".format(dtype)
            expect = twox
    return case(op, spec, expect, note)


def attention_reduction_cases():
    for shape in SHAPES:
        r = len(shape)
        for dim in [0, -1, r - 1, r, -r - 1]:
            for keepdim in (False, True):
                yield attention_reduction("max", shape, dim=dim, keepdim=keepdim)
        yield attention_reduction("max", shape)
        for dim in [[], 0, -1, r, [0, -1], [0, 0], [-1, r - 1], list(range(r))]:
            for keepdim in (False, True):
                yield attention_reduction("amax", shape, dim=dim, keepdim=keepdim)
                yield attention_reduction("logsumexp", shape, dim=dim, keepdim=keepdim)
                yield attention_reduction("vector_norm", shape, dim=dim, keepdim=keepdim)
        yield attention_reduction("amax", shape)
        yield attention_reduction("vector_norm", shape)
        for ord_ in (1, 2, 0, 3.5, "inf", "-inf", -1):
            yield attention_reduction("vector_norm", shape, ord=ord_, dim=-1)
    # Empty tensors: max and amax have no identity, nor vector_norm of ord=inf or a negative ord.
    for shape in [(0,), (2, 0), (0, 3), (2, 0, 4)]:
        r = len(shape)
        yield attention_reduction("max", shape)
        for dim in range(-r, r):
            yield attention_reduction("max", shape, dim=dim)
            yield attention_reduction("amax", shape, dim=[dim])
            yield attention_reduction("logsumexp", shape, dim=[dim])
            for ord_ in (2, "inf", -1):
                yield attention_reduction("vector_norm", shape, ord=ord_, dim=dim)
        yield attention_reduction("amax", shape, dim=[])
        yield attention_reduction("amax", shape, dim=[0, 0])
        for ord_ in (2, "inf", "-inf", -1, 0):
            yield attention_reduction("vector_norm", shape, ord=ord_)
    for dtype in ALL_DTYPES:
        yield attention_reduction("max", (2, 3), dtype)
        yield attention_reduction("max", (2, 3), dtype, dim=1)
        yield attention_reduction("amax", (2, 3), dtype, dim=-1, keepdim=True)
        yield attention_reduction("logsumexp", (2, 3), dtype, dim=-1)
        yield attention_reduction("vector_norm", (2, 3), dtype, dim=-1)
        yield attention_reduction("vector_norm", (2, 3), dtype, dim=[0, 0])  # the dtype is checked first


def masked_fill_cases():
    pairs = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((3,), (2, 3)), ((2, 3), (2,)), ((2, 3), (4, 3)),
             ((2, 4, 5, 5), (2, 1, 1, 5)), ((2, 4, 5, 5), (2, 5)), ((2, 4, 5, 5), (5, 5)), ((2, 4, 5, 5), (1, 1, 5, 5)),
             ((2, 4, 5, 5), (4, 1, 1, 5)), ((), (2, 3)), ((2, 3), ()), ((5, 5), (2, 1, 5, 5))]
    for a, m in pairs:
        yield masked_fill(a, m)
    for dtype in ALL_DTYPES:
        yield masked_fill((2, 3), (2, 3), dtype, value=0)
    for mask_dtype in ("uint8", "float32", "int64", "float64", "int8"):
        yield masked_fill((2, 3), (2, 3), mask_dtype=mask_dtype)
        yield masked_fill((2, 3), (3,), mask_dtype=mask_dtype)
        yield masked_fill((2, 3), (4, 3), mask_dtype=mask_dtype)  # the broadcast is checked first


def where(condition, input, other, condition_dtype="bool", dtype="float32", other_dtype="float32"):
    """input and other: a shape tuple (a tensor) or a Python number."""
    def operand(value, value_dtype):
        if isinstance(value, tuple):
            return tensor_spec(value, value_dtype), zeros(value, value_dtype)
        return ("-inf" if value == float("-inf") else value), value
    c = zeros(condition, condition_dtype)
    (input_spec, x), (other_spec, y) = operand(input, dtype), operand(other, other_dtype)
    spec = {"op": "where", "condition": tensor_spec(condition, condition_dtype), "input": input_spec, "other": other_spec}
    return case("where", spec, run(lambda: torch.where(c, x, y)))


def where_cases():
    for condition, input, other in [((2, 3), (2, 3), (2, 3)), ((2, 1), (3,), (4, 1, 1)), ((1, 5), (2, 1), (3, 1, 1)), ((), (2, 3), ()),
                                    ((2, 3), (4,), (2, 3)), ((2, 3), (2, 3), (4,)), ((5, 1, 1), (3,), (2,)), ((5, 1, 1), (2, 1), (4, 1, 3)),
                                    ((2, 4, 5, 5), (2, 1, 1, 5), (1,)), ((2, 1, 1, 5), (2, 4, 5, 5), (2, 5))]:
        yield where(condition, input, other)
    for number in (float("-inf"), -1e9, 0, 0.0, True):
        yield where((2, 1, 5), (2, 4, 5), number)
        yield where((2, 1, 5), number, (2, 4, 5))
    for a, b in ((1.0, 0.0), (1, 0), (True, 0.5), (2, False)):
        yield where((2, 3), a, b)
    for condition_dtype in ("uint8", "float32", "int64", "float64"):
        yield where((2, 3), (2, 3), (2, 3), condition_dtype=condition_dtype)
        yield where((2, 3), (2, 3), (4,), condition_dtype=condition_dtype)  # the dtype is checked before the broadcast
    for dtype, other_dtype in (("float64", "float32"), ("int64", "float32"), ("bool", "int64"), ("float16", "float32"), ("int32", "int64")):
        yield where((2, 3), (2, 3), (2, 3), dtype=dtype, other_dtype=other_dtype)
        yield where((2, 3), (2, 3), (), dtype=dtype, other_dtype=other_dtype)
    for dtype in ("int64", "bool", "float16", "float64"):
        yield where((2, 3), (2, 3), 0.5, dtype=dtype)
        yield where((2, 3), (2, 3), 7, dtype=dtype)


def expand_cases():
    for shape, sizes in [((1, 3), [2, 3]), ((1, 3), [-1, 3]), ((1, 3), [4, -1]), ((1, 3), [5, 4, 3]), ((1, 3), [-1, 2, 3]),
                         ((1, 3), [2, -1, -1]), ((2, 3), [3]), ((2, 3), [2, 4]), ((2, 3), [4, 3]), ((2, 3), [2, 3]), ((2, 3), [-1, -1]),
                         ((2, 3), [1, 2, 3]), ((2, 3), [3, 2, 3]), ((), [4]), ((), [2, 3]), ((), [-1]), ((), []), ((5,), []),
                         ((1, 1, 8), [4, -1, -1]), ((1, 1, 8), [4, 1, 8]), ((1, 1, 8), [4, 2, 8]), ((3, 1), [3, 0]), ((1, 3), [0, 3]),
                         ((2, 1, 4), [2, 5, 4]), ((2, 1, 4), [3, 2, 5, 4]), ((2, 1, 4), [2, 5, 5]), ((2, 3), [-2, 3]),
                         ((1, 3), [-2, 3]), ((2, 3), [2, -2])]:
        c = unary("expand", shape, size=sizes)
        if c["expect"].get("error", {}).get("message") != "numel: integer multiplication overflow":
            yield c
    for shape, repeats in [((2, 3), [2, 2]), ((2, 3), [1, 1]), ((2, 3), [2]), ((2, 3), [3, 1, 2]), ((), [4]), ((), []), ((5,), []),
                           ((1, 1, 8), [4, 1, 1]), ((2, 3), [0, 2]), ((2, 3), [-1, 2]), ((2, 3), [2, 1, 1, 1]), ((2, 1, 4), [1, 5, 1]),
                           ((2, 3), [1, -2])]:
        yield unary("repeat", shape, repeats=repeats)
    for shape, repeats, dim in [((2, 3), 2, None), ((2, 3), 2, 0), ((2, 3), 3, 1), ((2, 3), 2, -1), ((2, 3), 2, 2), ((2, 3), 2, -3),
                                ((2, 3), 0, 1), ((2, 3), -1, 1), ((2, 3), -1, None), ((2, 3), -1, 5), ((), 3, None), ((5,), 1, 0),
                                ((2, 4, 5), 2, 1), ((2, 4, 5), 4, None)]:
        yield repeat_interleave(shape, repeats, dim)


def mask_inversion_cases():
    for dtype in ALL_DTYPES:
        yield unary("logical_not", (2, 3), dtype)
        yield unary("bitwise_not", (2, 3), dtype)
        for number in (0, 1, 0.5, True):
            yield binary("eq", (2, 3), dtype, number)
            yield binary("ne", (2, 3), dtype, number)
            yield binary("lt", (2, 3), dtype, number)
            yield binary("ge", (2, 3), dtype, number)
    for shape in SHAPES:
        yield unary("logical_not", shape, "int64")
        yield unary("bitwise_not", shape, "bool")
    for op in ("eq", "ne", "gt", "ge", "lt", "le"):
        for a, b in [((2, 3), (2, 3)), ((2, 1, 5), (5,)), ((2, 5), (3, 5)), ((4, 1, 1, 5), (4, 5, 5)), ((), (2, 3))]:
            yield binary(op, a, "int64", b, "bool")
            yield binary(op, b, "float32", a, "int64")


def mask_combination_cases():
    """`a & b`, `a | b` (bitwise_and/or: bool and integer dtypes, a number too) and
    logical_and/or (any dtypes, tensors only): a (B, T) padding mask with a (T, T) causal mask
    broadcasts only where B == T or B == 1."""
    for op in ("bitwise_and", "bitwise_or", "logical_and", "logical_or"):
        for dtype in ALL_DTYPES:
            yield binary(op, (2, 3), dtype, (2, 3), "bool")
            yield binary(op, (2, 3), "int64", (3,), dtype)
        for a, b in [((2, 5), (5, 5)), ((5, 5), (5, 5)), ((1, 5), (5, 5)), ((2, 1, 1, 5), (5, 5)), ((2, 5), (3, 5)), ((), (2, 3))]:
            yield binary(op, a, "bool", b, "bool")
        if op.startswith("bitwise"):
            for dtype in ("bool", "int64", "uint8", "float32"):
                for number in (True, 0, 6, 1.0):
                    yield binary(op, (2, 3), dtype, number)


def random_cases(rng, count):
    for _ in range(count):
        r = rng.randint(0, 4)
        shape = tuple(rng.choice([1, 2, 3, 4]) for _ in range(r))
        op = rng.choice(["sub", "mul", "div", "masked_fill", "sum", "mean", "expand", "repeat"])
        if op in ("sub", "mul", "div", "masked_fill"):
            other = list(shape[rng.randint(0, r):]) if r else [rng.choice([1, 3])]
            if other and rng.random() < 0.4:
                other[rng.randrange(len(other))] = rng.choice([1, 2, 5])
            if op == "masked_fill":
                yield masked_fill(shape, tuple(other))
            else:
                yield binary(op, shape, rng.choice(["float32", "int64", "bool"]), tuple(other), rng.choice(["float32", "int32", "bool"]))
        elif op in ("sum", "mean"):
            dims = [rng.randint(-r - 1, r) for _ in range(rng.randint(1, 2))]
            yield unary(op, shape, dim=dims if rng.random() < 0.5 else dims[0], keepdim=rng.random() < 0.5)
        elif op == "expand":
            sizes = [s if rng.random() < 0.5 else rng.choice([-1, 1, 2, 3]) for s in shape]
            yield unary(op, shape, size=[rng.choice([1, 2])] * rng.randint(0, 1) + sizes)
        else:
            yield unary(op, shape, repeats=[rng.choice([1, 2, 3]) for _ in range(rng.randint(max(r - 1, 0), r + 1))])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "pointwise_cases.json"))
    out = parser.parse_args().out
    rng = random.Random(SEED)
    cases, seen = [], set()
    for c in (list(arithmetic_cases()) + list(same_shape_cases()) + list(reduction_cases()) + list(masked_fill_cases()) + list(where_cases()) +
              list(expand_cases()) + list(mask_inversion_cases()) + list(mask_combination_cases()) + list(attention_reduction_cases()) +
              list(random_cases(rng, 300))):
        if c["name"] in seen:
            continue
        seen.add(c["name"])
        cases.append(c)
    write_op_cases(out, GENERATOR, cases)


if __name__ == "__main__":
    main()
