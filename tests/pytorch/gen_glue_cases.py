#!/usr/bin/python3
"""Generate PyTorch ground-truth fixtures for mhacheck's "glue" operators.

Writes tests/pytorch/glue_cases.json (one case per line): transpose, permute, reshape, view,
unsqueeze, squeeze, flatten, add, matmul, softmax and cat, valid and invalid, each run for real on
the installed PyTorch (1.13 from Debian's python3-torch) on contiguous zero tensors.

mhacheck follows PyTorch 2.x.  The messages of these operators are the same in 1.13 and 2.x
except torch.matmul's dispatch, which 2.x changed (a 2-D or 1-D @ N-D product is no longer folded
into one mm/mv).  Matmul cases therefore run through gen_sdpa_cases.py's `_matmul_2x_impl`, which
replays 2.x's dispatch with 1.13's kernels (checked against torch.matmul where the two agree), and
carry a "pytorch_2x" note when the result differs from plain 1.13.  Cases where 2.x's mv kernel
refuses the operands are left out: 2.x words that error differently ("size mismatch, got input
(2), mat (2x3), vec (4)") and 1.13 cannot produce it.  Mixed-dtype matmul and float16 softmax are
left out for the same reason (kernel-specific wording, or 1.13 lacking the CPU kernel). Bool matmul
is kept where 1.13 and 2.x pick the same kernel (dot, mv, mm, bmm), which refuses 'Bool' alike.

torch.cat's checks are 1.13's and 2.x's alike (TORCH_PRECOMPUTE_META_FUNC(cat) in
aten/src/ATen/native/TensorShape.cpp): no 0-D tensor ("zero-dimensional tensor (at position i)
cannot be concatenated"), then dim wrapped against the first tensor that is not a legacy empty 1-D
(0,) tensor (legacy_cat_wrap_dim: IndexError "Dimension out of range ..."; not wrapped at all when
every tensor is (0,)), then each tensor in list order that is not (0,) against that first one
(check_cat_shape_except_dim: "Tensors must have same number of dimensions: got a and b", then
"Sizes of tensors must match except in dimension d. ..." with the wrapped d and the tensor's index
in the whole list); the dtype is result_type over all the tensors, the skipped (0,) ones included.
A cat case whose 1.13 outcome differed from 2.x's would carry a "pytorch_2x" note; none does.

Usage:  /usr/bin/python3 tests/pytorch/gen_glue_cases.py [--out PATH]

Deterministic: a fixed seed drives every random choice.  Only stdlib and torch are used.
"""

import argparse
import json
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import write_op_cases  # noqa: E402
from gen_sdpa_cases import _matmul_2x_impl  # noqa: E402

SEED = 20261126
GENERATOR = "tests/pytorch/gen_glue_cases.py"
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}


def tensor_spec(shape, dtype):
    return {"shape": list(shape), "dtype": dtype}


def run(fn):
    """The outcome of fn() as the fixture records it."""
    try:
        out = fn()
    except (RuntimeError, IndexError) as e:
        return {"ok": False, "error": {"type": type(e).__name__, "message": str(e).split("\n")[0]}}
    return {"ok": True, "outputs": {"output": {"shape": list(out.shape), "dtype": NAMES[out.dtype]}}}


def call(op, input_shape, dtype="float32", other=None, other_dtype=None, **args):
    spec = {"op": op, "input": tensor_spec(input_shape, dtype)}
    x = torch.zeros(input_shape, dtype=DTYPES[dtype])
    if other is not None:
        spec["other"] = tensor_spec(other, other_dtype or dtype)
        y = torch.zeros(other, dtype=DTYPES[other_dtype or dtype])
    spec.update(args)
    note = None
    if op == "transpose":
        expect = run(lambda: torch.transpose(x, args["dim0"], args["dim1"]))
    elif op == "permute":
        expect = run(lambda: torch.permute(x, args["dims"]))
    elif op == "reshape":
        expect = run(lambda: torch.reshape(x, args["shape"]))
    elif op == "view":
        expect = run(lambda: x.view(args["shape"]))
    elif op == "unsqueeze":
        expect = run(lambda: torch.unsqueeze(x, args["dim"]))
    elif op == "squeeze":
        expect = run(lambda: torch.squeeze(x) if args.get("dim") is None else torch.squeeze(x, args["dim"]))
    elif op == "flatten":
        expect = run(lambda: torch.flatten(x, args.get("start_dim", 0), args.get("end_dim", -1)))
    elif op == "add":
        expect = run(lambda: torch.add(x, y))
    elif op == "matmul":
        expect = run(lambda: _matmul_2x_impl(x, y))
        plain = run(lambda: torch.matmul(x, y))
        if not expect["ok"] and expect["error"]["message"].startswith("size mismatch, got"):
            return None  # 2.x's mv wording differs; see the module docstring
        if expect != plain:
            note = "1.13's torch.matmul folds this product differently and says: " + json.dumps(plain.get("error", plain))
    elif op == "softmax":
        expect = run(lambda: torch.softmax(x, args["dim"]))
    else:
        raise ValueError(op)
    case = {"spec": spec, "expect": expect}
    if note:
        case["pytorch_2x"] = note
    return case


def name_of(case):
    spec = case["spec"]
    parts = [spec["op"], "x".join(map(str, spec["input"]["shape"])) or "scalar", spec["input"]["dtype"]]
    if "other" in spec:
        parts += ["x".join(map(str, spec["other"]["shape"])) or "scalar", spec["other"]["dtype"]]
    for key in sorted(k for k in spec if k not in ("op", "input", "other")):
        value = spec[key]
        parts.append("{}={}".format(key, ",".join(map(str, value)) if isinstance(value, list) else value))
    return "-".join(parts)


SHAPES = [(), (5,), (2, 3), (1, 3), (2, 1, 4), (2, 3, 4), (2, 4, 5, 8), (1, 2, 1, 3), (3, 1), (2, 3, 1, 1)]


def systematic():
    for shape in SHAPES:
        r = len(shape)
        for d in sorted({-r - 1, -r, -1, 0, r - 1, r, r + 1}):
            yield call("softmax", shape, dim=d)
            yield call("unsqueeze", shape, dim=d)
            yield call("squeeze", shape, dim=d)
        yield call("squeeze", shape)
        for d0, d1 in [(0, 1), (-1, -2), (0, -1), (1, r), (r, 0), (0, 0)]:
            yield call("transpose", shape, dim0=d0, dim1=d1)
        yield call("permute", shape, dims=list(range(r))[::-1])
        yield call("permute", shape, dims=list(range(r + 1)))
        if r >= 1:
            yield call("permute", shape, dims=list(range(r - 1)))
            yield call("permute", shape, dims=[0] * r)
            yield call("permute", shape, dims=[-1] + list(range(r - 1)))
            yield call("permute", shape, dims=list(range(r - 1)) + [r])
        for start, end in [(0, -1), (1, -1), (0, 1), (-2, -1), (1, 0), (2, 1), (0, r), (-r - 1, 0), (r - 1, r - 1)]:
            yield call("flatten", shape, start_dim=start, end_dim=end)
        numel = 1
        for s in shape:
            numel *= s
        for target in [[-1], [numel], [numel, 1], [1, -1], [-1, -1], [2, -1], [3, -1], [numel + 1], [-2, numel], [0, -1],
                       [4, -1, 2], list(shape) + [1], [1] + list(shape)]:
            yield call("reshape", shape, shape=target)
            yield call("view", shape, shape=target)
    for shape, target in [((0, 3), [-1, 0]), ((0, 3), [0, -1]), ((0, 3), [3, 0]), ((0,), [-1]), ((0, 4), [2, -1, 0])]:
        yield call("reshape", shape, shape=target)
    for softmax_dtype in ["int64", "int32", "bool", "float64"]:
        for shape, d in [((2, 3), -1), ((2, 3), 0), ((), 0), ((4,), 0)]:
            yield call("softmax", shape, softmax_dtype, dim=d)


def binary():
    pairs = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (2,)), ((2, 3, 4), (3, 1)), ((2, 3, 4), (4, 3)), ((), (2, 3)),
             ((2, 1, 4), (1, 5, 4)), ((5, 2, 8), (2, 5, 8)), ((2, 4, 5, 5), (5, 5)), ((2, 4, 5, 5), (2, 1, 5, 5)),
             ((2, 4, 5, 5), (3, 1, 5, 5)), ((1,), (7,)), ((0,), (1,)), ((0,), (2,))]
    for a, b in pairs:
        yield call("add", a, other=b)
        yield call("add", b, other=a)
    for x, y in [("float32", "float64"), ("float16", "bfloat16"), ("int64", "float32"), ("bool", "int32"), ("uint8", "int8"),
                 ("int8", "int32"), ("float16", "float32"), ("bool", "bool"), ("int32", "int64")]:
        yield call("add", (2, 3), x, other=(2, 3), other_dtype=y)
        yield call("add", (2, 3), x, other=(), other_dtype=y)
        yield call("add", (), x, other=(2, 3), other_dtype=y)
    mm = [((), (3,)), ((3,), ()), ((3,), (3,)), ((3,), (4,)), ((2, 3), (3,)), ((3,), (3, 5)), ((3,), (4, 5)), ((2, 3), (3, 5)),
          ((2, 3), (4, 5)), ((2, 3, 4), (4,)), ((2, 3, 4), (4, 6)), ((2, 3, 4), (5, 6)), ((4,), (2, 4, 6)), ((5,), (2, 4, 6)),
          ((4,), (2, 1, 6)), ((2, 1, 4), (2, 4, 6)), ((2, 3, 4), (2, 4, 6)), ((2, 3, 4), (2, 5, 6)), ((2, 3, 4), (3, 4, 6)),
          ((2, 3, 4), (1, 4, 6)), ((3, 4), (2, 4, 6)), ((3, 2), (2, 3, 4, 5)), ((3, 4), (2, 5, 6)), ((2, 8, 5, 16), (2, 8, 16, 7)),
          ((2, 8, 5, 16), (8, 16, 7)), ((2, 8, 5, 16), (3, 16, 7)), ((2, 8, 5, 16), (16, 7)), ((2, 8, 5, 16), (2, 8, 7, 16)),
          ((1, 8, 5, 16), (2, 1, 16, 5)), ((2, 1, 5, 4), (3, 4, 2))]
    for a, b in mm:
        yield call("matmul", a, other=b)
    yield call("matmul", (2, 3), "int64", other=(3, 2), other_dtype="int64")
    yield call("matmul", (2, 3, 4), "float64", other=(4, 5), other_dtype="float64")
    # No CPU kernel multiplies bool, unless the product is empty or contracts over nothing (dot
    # refuses even then). A 1-D or 2-D times an N-D product is left out: its kernel is 2.x's fold.
    bool_products = [((3,), (3,)), ((0,), (0,)), ((2, 3), (3,)), ((2, 0), (0,)), ((0, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 2)),
                     ((2, 3), (3, 0)), ((2, 0), (0, 2)), ((2, 2, 3), (3,)), ((2, 2, 3), (3, 2)), ((0, 2, 3), (3, 2)),
                     ((2, 2, 3), (2, 3, 2)), ((2, 2, 3), (1, 3, 2)), ((2, 2, 0), (2, 0, 2)), ((2, 0, 3), (2, 3, 2))]
    for a, b in bool_products:
        yield call("matmul", a, "bool", other=b, other_dtype="bool")


def random_cases(rng, count):
    ops = ["transpose", "permute", "reshape", "view", "unsqueeze", "squeeze", "flatten", "softmax", "add", "matmul"]
    for _ in range(count):
        r = rng.randint(0, 4)
        shape = tuple(rng.choice([1, 2, 3, 4, 6]) for _ in range(r))
        op = rng.choice(ops)
        numel = 1
        for s in shape:
            numel *= s
        if op == "transpose":
            yield call(op, shape, dim0=rng.randint(-r - 1, r), dim1=rng.randint(-r - 1, r))
        elif op == "permute":
            dims = list(range(r))
            rng.shuffle(dims)
            if rng.random() < 0.4 and dims:
                dims[rng.randrange(len(dims))] = rng.randint(-r - 1, r)
            yield call(op, shape, dims=dims)
        elif op in ("reshape", "view"):
            target = [rng.choice([1, 2, 3, 4, 6, 12]) for _ in range(rng.randint(1, 3))]
            if rng.random() < 0.6:
                target[rng.randrange(len(target))] = -1
            yield call(op, shape, shape=target)
        elif op in ("unsqueeze", "softmax"):
            yield call(op, shape, dim=rng.randint(-r - 2, r + 1))
        elif op == "squeeze":
            yield call(op, shape, dim=rng.randint(-r - 1, r))
        elif op == "flatten":
            yield call(op, shape, start_dim=rng.randint(-r - 1, r), end_dim=rng.randint(-r - 1, r))
        else:
            other = list(shape[rng.randint(0, r):]) if r else [rng.choice([1, 3])]
            if op == "matmul" and r >= 1:
                other = ([rng.choice([1, 2])] if rng.random() < 0.3 else []) + [shape[-1], rng.choice([2, 5])]
            if other and rng.random() < 0.4:
                other[rng.randrange(len(other))] = rng.choice([1, 2, 5])
            yield call(op, shape, other=tuple(other))


def cat_call(tensors, dim=None):
    """torch.cat(tensors, dim): each tensor a shape tuple (float32, written as a bare shape array)
    or a (shape, dtype) pair (written as {"shape", "dtype"}); dim None is left out (default 0)."""
    specs, values, parts = [], [], []
    for t in tensors:
        if isinstance(t[0] if t else None, (tuple, list)):
            shape, dtype = t
            specs.append(tensor_spec(shape, dtype))
        else:
            shape, dtype = t, "float32"
            specs.append(list(shape))
        values.append(torch.zeros(shape, dtype=DTYPES[dtype]))
        parts.append("{}:{}".format("x".join(map(str, shape)) or "scalar", dtype))
    spec = {"op": "cat", "tensors": specs}
    if dim is not None:
        spec["dim"] = dim
    expect = run(lambda: torch.cat(values) if dim is None else torch.cat(values, dim))
    name = "cat-" + "+".join(parts) + ("" if dim is None else "-dim={}".format(dim))
    return {"name": name, "spec": spec, "expect": expect}


def cat_cases():
    # valid joins along every dim, negative dims included, of 1 to 5 tensors
    for shapes, dims in [
            ([(5,)], [0, -1]),
            ([(2, 5, 8)], [0, 2]),
            ([(3,), (4,)], [0, -1]),
            ([(2, 5, 8), (2, 4, 8)], [1, -2]),
            ([(2, 5, 8), (3, 5, 8)], [0, -3]),
            ([(2, 5, 8), (2, 5, 1)], [2, -1]),
            ([(2, 5, 8), (2, 5, 8)], [0, 1, 2, -1, -2, -3]),
            ([(2, 3), (2, 1), (2, 4)], [1, -1]),
            ([(1, 4, 2, 3), (2, 4, 2, 3), (3, 4, 2, 3), (1, 4, 2, 3)], [0, -4]),
            ([(2, 4, 1, 3), (2, 4, 5, 3), (2, 4, 2, 3), (2, 4, 1, 3), (2, 4, 3, 3)], [2, -2]),
            ([(2, 1, 3, 4, 5), (2, 2, 3, 4, 5), (2, 3, 3, 4, 5)], [1, -4]),
            ([(2, 3, 4, 5, 1), (2, 3, 4, 5, 6)], [4, -1]),
            ([(2, 0, 8), (2, 5, 8)], [1]),     # a size-0 dim that is not the legacy (0,) joins like any other
            ([(0, 3), (2, 3)], [0]),
    ]:
        for d in dims:
            yield cat_call(shapes, d)
    yield cat_call([(2, 5, 8), (4, 5, 8)])  # dim left out: 0
    yield cat_call([(4,), (1,), (2,)])
    yield cat_call([((2, 3), "float32"), (4, 3)])  # both tensor forms in one list
    # mixed dtypes: the output's is the promotion of all of them
    for a, b in [("float16", "bfloat16"), ("int64", "float32"), ("bool", "int8"), ("uint8", "int8"), ("float32", "float64"),
                 ("int32", "int64"), ("bool", "bool"), ("float16", "float16"), ("uint8", "bool"), ("bfloat16", "float64")]:
        yield cat_call([((2, 3), a), ((1, 3), b)], 0)
    yield cat_call([((2, 3), "uint8"), ((2, 3), "int8"), ((2, 3), "bool")], -1)
    yield cat_call([((2, 3), "int8"), ((2, 3), "int32"), ((2, 3), "float16")], 0)
    yield cat_call([((2, 3), "int64"), ((2, 5), "float16"), ((2, 1), "bfloat16")], 1)
    # legacy empty (0,) tensors: skipped for dim wrapping and shape checks, counted for the dtype
    yield cat_call([(0,), (2, 3)], -1)
    yield cat_call([(2, 3), (0,)], 1)
    yield cat_call([(0,), (2, 3), (0,), (2, 4)], 1)
    yield cat_call([(0,), (2, 5, 8), (0,), (3, 5, 8)], -3)
    yield cat_call([(0,), (0,), (2, 5, 8)], 2)
    yield cat_call([(0,), (3,), (0,)], 0)
    yield cat_call([((0,), "float64"), ((2, 3), "int8")], 0)
    yield cat_call([((2, 3), "int32"), ((0,), "float16")], 0)
    yield cat_call([((0,), "bool"), ((2, 3), "uint8"), ((0,), "int8")], 1)
    # all (0,): a (0,) result; dim is not wrapped, so any dim goes
    yield cat_call([(0,)])
    yield cat_call([(0,), (0,)], 0)
    yield cat_call([(0,), (0,), (0,)], -1)
    yield cat_call([(0,), (0,)], 5)
    yield cat_call([(0,), (0,)], -7)
    yield cat_call([((0,), "int64"), ((0,), "bool")], 0)
    yield cat_call([((0,), "uint8"), ((0,), "int8")], 0)
    # a 0-D tensor anywhere: refused before anything else
    yield cat_call([()], 0)
    yield cat_call([(), (2, 3)], 0)
    yield cat_call([(2, 3), ()], 0)
    yield cat_call([(2, 3), (2, 3), (), ()], 1)
    yield cat_call([(0,), ()], 0)
    yield cat_call([(2, 3), (), (4, 5, 6)], 7)  # also a bad dim and a bad rank: the 0-D check comes first
    # dim out of range, against the first tensor that is not (0,)
    yield cat_call([(2, 5, 8), (2, 5, 8)], 3)
    yield cat_call([(2, 5, 8), (2, 5, 8)], -4)
    yield cat_call([(5,), (5,)], 1)
    yield cat_call([(5,), (5,)], -2)
    yield cat_call([(0,), (2, 3)], 2)
    yield cat_call([(0,), (3,)], 1)
    yield cat_call([(2, 3), (2, 3, 4)], 2)  # also a rank mismatch: the dim is wrapped first
    yield cat_call([(2, 3, 4), (2, 3)], 3)  # wraps against the 3-D first, then the rank check
    yield cat_call([(2, 3, 4, 5)], 4)
    # different ranks
    yield cat_call([(2, 3), (2, 3, 4)], 0)
    yield cat_call([(2, 3, 4), (2, 3)], -1)
    yield cat_call([(2, 3), (2, 3), (3,)], 0)
    yield cat_call([(0,), (4,), (2, 4)], 0)
    yield cat_call([(2, 5, 8), (2, 5, 8, 1)], 2)
    yield cat_call([(1, 3), (2, 4, 3), (2, 3)], 0)  # tensor 1's rank before tensor 2's sizes
    # sizes mismatch outside dim (the message names the wrapped dim and the index in the whole list)
    yield cat_call([(2, 3), (2, 4)], 0)
    yield cat_call([(2, 3), (3, 3)], 1)
    yield cat_call([(2, 3), (3, 3)], -1)
    yield cat_call([(2, 5, 8), (2, 4, 8)], 0)
    yield cat_call([(2, 5, 8), (2, 5, 7)], -3)
    yield cat_call([(2, 5, 8), (3, 4, 8)], 2)  # the first mismatching dim is the one named
    yield cat_call([(0,), (2, 3), (0,), (2, 4)], 0)
    yield cat_call([(2, 3), (5, 3), (2, 4), (1, 2, 3)], 0)
    yield cat_call([(2, 0), (2, 3)], 0)
    yield cat_call([(1, 0), (2, 3)], 0)
    yield cat_call([((2, 3), "float16"), ((2, 4), "int64")], 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "glue_cases.json"))
    out = parser.parse_args().out
    rng = random.Random(SEED)
    cases, seen = [], set()
    for case in list(systematic()) + list(binary()) + list(cat_cases()) + list(random_cases(rng, 400)):
        if case is None:
            continue
        name = case.pop("name") if "name" in case else name_of(case)
        if name in seen:
            continue
        seen.add(name)
        cases.append(dict(name=name, **case))
    write_op_cases(out, GENERATOR, cases)


if __name__ == "__main__":
    main()
