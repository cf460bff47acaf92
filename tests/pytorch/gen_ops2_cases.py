#!/usr/bin/python3
"""Fixtures for the operators attention code uses beside the glue (tests/pytorch/ops2_cases.json):
torch.stack; F.log_softmax, F.linear, F.layer_norm, F.normalize; the constructors ones, zeros,
full, arange, eye, ones_like, zeros_like, full_like, new_ones, new_zeros; expand_as, view_as,
reshape_as, type_as; clamp, clamp_min, pow, argmax, argmin, min, cumsum, flip. Valid and invalid,
each run for real on the installed PyTorch (1.13 from Debian's python3-torch) on zero tensors.

Adjusted to 2.x ("pytorch_2x"): F.normalize of an integer input, refused in 2.x's words by
linalg.vector_norm. Left out where 1.13 and 2.x word an error differently: F.linear of mixed dtypes (1.13: "expected
scalar type Float but found Double", 2.x names both dtypes), and float16/bfloat16 inputs, whose
CPU kernels 1.13 lacks in part.

Usage:  /usr/bin/python3 tests/pytorch/gen_ops2_cases.py [--out PATH]
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import DTYPES, unique_by_name, write_op_cases  # noqa: E402
from gen_pointwise_cases import run, run_reduction, tensor_spec, zeros  # noqa: E402

GENERATOR = "tests/pytorch/gen_ops2_cases.py"
F = torch.nn.functional


def case(name, spec, expect):
    return {"name": name, "spec": spec, "expect": expect}


def label(value):
    if isinstance(value, dict):
        return "x".join(map(str, value["shape"])) + ":" + value["dtype"]
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(label(v) for v in value) + "]"
    return str(value)


def call(op, fn, **spec):
    name = "-".join([op] + ["{}={}".format(k, label(v)) for k, v in spec.items()])
    return case(name, dict({"op": op}, **spec), run_reduction(op, fn) if op == "min" else run(fn))


def stack_cases():
    for shapes, dim in [([(2, 3), (2, 3)], 0), ([(2, 3), (2, 3)], 2), ([(2, 3), (2, 3), (2, 3)], -1), ([(2, 3), (2, 4)], 0),
                        ([(2, 3), (2, 4)], 2), ([(2, 3), (3,)], 1), ([(), ()], 0), ([(), ()], -1), ([(2, 3), (2, 3)], 3),
                        ([(2, 3), (2, 3)], -4), ([(2, 3), (2, 4)], 3), ([(4,)], 0), ([(2, 1, 5), (2, 1, 5)], 1)]:
        for dtypes in (["float32"] * len(shapes), ["int64"] + ["float64"] * (len(shapes) - 1)):
            tensors = [zeros(s, d) for s, d in zip(shapes, dtypes)]
            yield call("stack", lambda t=tensors, d=dim: torch.stack(t, d), tensors=[tensor_spec(s, d) for s, d in zip(shapes, dtypes)], dim=dim)


def unbind_cases():
    for shape, dim in (((3, 2), 0), ((3, 2), -1), ((3, 2), 2), ((), 0), ((0, 4), 0), ((2, 1, 4), 1)):
        x = zeros(shape, "float32")
        c = case("unbind-{}-dim={}".format(label(tensor_spec(shape, "float32")), dim), {"op": "unbind", "input": tensor_spec(shape, "float32"), "dim": dim},
                 run(lambda x=x, d=dim: (torch.unbind(x, d), torch.zeros(()))[1]))
        if c["expect"]["ok"]:
            pieces = torch.unbind(x, dim)
            c["expect"]["outputs"] = {"call.{}".format(i): {"shape": list(p.shape), "dtype": "float32"} for i, p in enumerate(pieces)}
        yield c


def log_softmax_cases():
    for shape, dim, dtype in [((2, 3), -1, "float32"), ((2, 3), 0, "float64"), ((2, 3), 2, "float32"), ((2, 3), -1, "int64"),
                              ((2, 3), 0, "int64"), ((2, 3), 1, "bool"), ((), 0, "float32")]:
        x = zeros(shape, dtype)
        yield call("log_softmax", lambda x=x, d=dim: F.log_softmax(x, d), input=tensor_spec(shape, dtype), dim=dim)


def linear_cases():
    for x, w, b in [((2, 3), (5, 3), None), ((2, 3), (5, 3), (5,)), ((2, 7, 3), (5, 3), (5,)), ((2, 7, 3), (5, 4), None),
                    ((2, 7, 3), (5, 4), (5,)), ((2, 7, 3), (5, 3), (4,)), ((2, 3), (5, 3), (4,)), ((3,), (5, 3), None),
                    ((3,), (5, 4), (5,)), ((2, 3), (2, 5, 3), None), ((2, 3), (5, 3), (1,)), ((2, 3), (5, 3), ()),
                    ((4, 2, 7, 3), (5, 3), None), ((2, 3), (3,), None)]:
        args = {"input": tensor_spec(x, "float32"), "weight": tensor_spec(w, "float32")}
        tensors = [zeros(x, "float32"), zeros(w, "float32")] + ([zeros(b, "float32")] if b is not None else [])
        if b is not None:
            args["bias"] = tensor_spec(b, "float32")
        yield call("linear", lambda t=tensors: F.linear(*t), **args)


def layer_norm_cases():
    for x, normalized, w, b, dtype in [((2, 3), [3], None, None, "float32"), ((2, 3, 4), [3, 4], (3, 4), (3, 4), "float32"),
                                       ((2, 3), [4], None, None, "float32"), ((2, 3), [3], (4,), None, "float32"),
                                       ((2, 3), [3], None, (4,), "float32"), ((2, 3), [], None, None, "float32"),
                                       ((2, 3), [3], (3,), (3,), "int64"), ((2, 3), [2, 3], None, None, "float64"),
                                       ((3,), [2, 3], None, None, "float32"), ((2, 3), [3], (3,), None, "float64")]:
        args = {"input": tensor_spec(x, dtype), "normalized_shape": normalized}
        weight = zeros(w, dtype) if w is not None else None
        bias = zeros(b, dtype) if b is not None else None
        if w is not None:
            args["weight"] = tensor_spec(w, dtype)
        if b is not None:
            args["bias"] = tensor_spec(b, dtype)
        xs = zeros(x, dtype)
        yield call("layer_norm", lambda xs=xs, n=normalized, w=weight, b=bias: F.layer_norm(xs, n, w, b), **args)


def normalize_cases():
    for shape, dim, p, dtype in [((2, 3), 1, 2.0, "float32"), ((2, 3), -1, 1.0, "float64"), ((2, 3), 2, 2.0, "float32"),
                                 ((2, 3), 0, 2.0, "int64"), ((4,), 0, 2.0, "float32"), ((2, 3, 4), -3, 3.0, "float32")]:
        x = zeros(shape, dtype)
        c = call("normalize", lambda x=x, d=dim, p=p: F.normalize(x, p=p, dim=d), input=tensor_spec(shape, dtype), p=p, dim=dim)
        if dtype == "int64":
            # 2.x's Tensor.norm runs linalg.vector_norm, which words the refusal its own way.
            c["expect"]["error"]["message"] = "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long"
            c["pytorch_2x"] = "Tensor.norm calls linalg.vector_norm in 2.x; 1.13 says \"norm(): input dtype should be either floating point or complex\""
        yield c


def constructor_cases():
    for size in ([2, 3], [], [0, 4], [4, -1], [5]):
        for dtype in (None, "bool", "int64", "float64"):
            kw = {} if dtype is None else {"dtype": DTYPES[dtype]}
            extra = {} if dtype is None else {"dtype": dtype}
            yield call("ones", lambda s=size, kw=kw: torch.ones(s, **kw), size=size, **extra)
            yield call("zeros", lambda s=size, kw=kw: torch.zeros(s, **kw), size=size, **extra)
        for fill in (1, 1.5, True, -1e9, float("-inf")):
            written = "-inf" if fill == float("-inf") else fill
            yield call("full", lambda s=size, f=fill: torch.full(s, f), size=size, fill_value=written)
        yield call("full", lambda s=size: torch.full(s, 2, dtype=torch.float32), size=size, fill_value=2, dtype="float32")
    for shape, dtype in (((2, 3), "float32"), ((4,), "int64"), ((), "bool")):
        x = zeros(shape, dtype)
        yield call("ones_like", lambda x=x: torch.ones_like(x), input=tensor_spec(shape, dtype))
        yield call("zeros_like", lambda x=x: torch.zeros_like(x, dtype=torch.bool), input=tensor_spec(shape, dtype), dtype="bool")
        yield call("full_like", lambda x=x: torch.full_like(x, 7), input=tensor_spec(shape, dtype), fill_value=7)
        for size in ([3, 2], [-2]):
            yield call("new_ones", lambda x=x, s=size: x.new_ones(s), input=tensor_spec(shape, dtype), size=size)
            yield call("new_zeros", lambda x=x, s=size: x.new_zeros(s), input=tensor_spec(shape, dtype), size=size)
    for n, m in ((3, None), (3, 5), (0, None), (-1, None), (3, -2)):
        args = {"n": n} if m is None else {"n": n, "m": m}
        yield call("eye", lambda n=n, m=m: torch.eye(n) if m is None else torch.eye(n, m), **args)
    for start, end, step in ((0, 5, 1), (2, 9, 3), (0, 1, 0.3), (5, 0, 1), (5, 0, -1), (0, 5, 0), (0.5, 4, 1), (0, 0, 1), (3, 3.5, 1)):
        yield call("arange", lambda a=start, b=end, c=step: torch.arange(a, b, c), start=start, end=end, step=step)
    yield call("arange", lambda: torch.arange(6), end=6)
    yield call("arange", lambda: torch.arange(6, dtype=torch.float32), end=6, dtype="float32")


def as_other_cases():
    for x, other in (((1, 3), (2, 3)), ((2, 3), (4, 3)), ((3,), (2, 4, 3)), ((2, 3), (3,))):
        a, b = zeros(x, "float32"), zeros(other, "float32")
        yield call("expand_as", lambda a=a, b=b: a.expand_as(b), input=tensor_spec(x, "float32"), other=tensor_spec(other, "float32"))
    for x, other in (((2, 3), (3, 2)), ((2, 3), (6,)), ((2, 3), (4,)), ((2, 3, 4), (6, 4))):
        a, b = zeros(x, "float32"), zeros(other, "float32")
        yield call("view_as", lambda a=a, b=b: a.view_as(b), input=tensor_spec(x, "float32"), other=tensor_spec(other, "float32"))
        yield call("reshape_as", lambda a=a, b=b: a.reshape_as(b), input=tensor_spec(x, "float32"), other=tensor_spec(other, "float32"))
    for dtype, other in (("float32", "float64"), ("bool", "float32"), ("int64", "int64"), ("float64", "bool")):
        a, b = zeros((2, 3), dtype), zeros((4,), other)
        yield call("type_as", lambda a=a, b=b: a.type_as(b), input=tensor_spec((2, 3), dtype), other=tensor_spec((4,), other))


def pointwise_cases():
    for dtype in ("float32", "float64", "int64", "int32", "bool"):
        x = zeros((2, 3), dtype)
        for low, high in ((0, 1), (0.5, None), (None, 2), (-1e4, 1e4)):
            args = {k: v for k, v in (("min", low), ("max", high)) if v is not None}
            yield call("clamp", lambda x=x, lo=low, hi=high: torch.clamp(x, lo, hi), input=tensor_spec((2, 3), dtype), **args)
        yield call("clamp_min", lambda x=x: torch.clamp_min(x, 1e-6), input=tensor_spec((2, 3), dtype), min=1e-6)
        for exponent in (2, 0.5, -1, -0.5, True):
            yield call("pow", lambda x=x, e=exponent: torch.pow(x, e), input=tensor_spec((2, 3), dtype), exponent=exponent)
    for x, e in (((2, 3), (3,)), ((2, 3), (2, 1)), ((2, 3), (4,)), ((3,), (2, 1))):
        a, b = zeros(x, "float32"), zeros(e, "float64")
        yield call("pow", lambda a=a, b=b: torch.pow(a, b), input=tensor_spec(x, "float32"), exponent=tensor_spec(e, "float64"))
    for shape, dims in (((2, 3), [0]), ((2, 3), [-1, 0]), ((2, 3), [2]), ((2, 3), [1, -1]), ((), [0]), ((2, 3, 4), [])):
        x = zeros(shape, "float32")
        yield call("flip", lambda x=x, d=dims: torch.flip(x, d), input=tensor_spec(shape, "float32"), dims=dims)


def reduction_cases():
    for op in ("argmax", "argmin"):
        for shape, dim, keepdim, dtype in (((2, 3), None, False, "float32"), ((2, 3), 1, False, "int64"), ((2, 3), -2, True, "float32"),
                                           ((2, 3), 2, False, "float32"), ((2, 0), 1, False, "float32"), ((2, 0), 0, False, "float32"),
                                           ((2, 0), None, False, "float32"), ((2, 3), 0, False, "bool"), ((), 0, False, "float32"),
                                           ((), None, False, "float64")):
            x = zeros(shape, dtype)
            fn = getattr(torch, op)
            args = {"input": tensor_spec(shape, dtype)}
            if dim is not None:
                args.update(dim=dim, keepdim=keepdim)
            yield call(op, lambda x=x, d=dim, k=keepdim, fn=fn: fn(x) if d is None else fn(x, d, keepdim=k), **args)
    for shape, dim, keepdim in (((2, 3), None, False), ((2, 3), 1, False), ((2, 3), 0, True), ((2, 3), 2, False), ((2, 0), 1, False),
                                ((0, 3), None, False)):
        x = zeros(shape, "float32")
        args = {"input": tensor_spec(shape, "float32")}
        if dim is not None:
            args.update(dim=dim, keepdim=keepdim)
        yield call("min", lambda x=x, d=dim, k=keepdim: torch.min(x) if d is None else tuple(torch.min(x, d, keepdim=k)), **args)
    for shape, dim, dtype in (((2, 3), 1, "float32"), ((2, 3), -2, "int32"), ((2, 3), 0, "bool"), ((2, 3), 2, "float32"),
                              ((), 0, "float64"), ((4,), -1, "float64")):
        x = zeros(shape, dtype)
        yield call("cumsum", lambda x=x, d=dim: torch.cumsum(x, d), input=tensor_spec(shape, dtype), dim=dim)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops2_cases.json"))
    out = parser.parse_args().out
    cases = unique_by_name(list(stack_cases()) + list(unbind_cases()) + list(log_softmax_cases()) + list(linear_cases()) + list(layer_norm_cases()) +
                           list(normalize_cases()) + list(constructor_cases()) + list(as_other_cases()) + list(pointwise_cases()) +
                           list(reduction_cases()))
    write_op_cases(out, GENERATOR, cases)


if __name__ == "__main__":
    main()
