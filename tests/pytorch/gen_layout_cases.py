#!/usr/bin/python3
"""Generate PyTorch ground-truth fixtures for memory layout: `view` after transpose and friends.

Writes tests/pytorch/layout_cases.json: random chains of transpose, permute, view, reshape,
expand, narrow, select, unsqueeze, squeeze, flatten, contiguous, clone and elementwise ops
(relu, gelu, mul by a number, add of a tensor to itself) on one contiguous tensor, most of them
ending in a `view`, each run for real on the installed PyTorch (1.13 from Debian's
python3-torch).  A case records the chain as a spec and the outcome: the final output's shape, or
the call that raised first with the exception's type and message; `contiguous` records whether
the final tensor is contiguous (x.is_contiguous()).

Strides are the same in 1.13 and 2.x for every op used here: at::detail::computeStride
(aten/src/ATen/TensorUtils.cpp) decides view, reshape views when it succeeds and copies
otherwise, and the views' geometry (inferExpandGeometry, inferUnsqueezeGeometry, transpose,
permute, narrow, select, squeeze) has not changed.  Left out: getitem (mhacheck leaves the layout
of an indexed tensor unknown) and the ops mhacheck has no call for (t, mT, diagonal).

Usage:  /usr/bin/python3 tests/pytorch/gen_layout_cases.py [--out PATH]

Deterministic: a fixed seed drives every random choice.  Only stdlib and torch are used.
"""

import argparse
import json
import os
import random

import torch

SEED = 20261206
GENERATOR = "tests/pytorch/gen_layout_cases.py"
CASES = 600


def factorizations(n, rank, rng):
    """A random shape of `rank` dims holding n elements."""
    shape = []
    left = n
    for _ in range(rank - 1):
        divisors = [d for d in range(1, left + 1) if left % d == 0]
        d = rng.choice(divisors)
        shape.append(d)
        left //= d
    shape.append(left)
    rng.shuffle(shape)
    return shape


def merged_or_split(shape, rng):
    """A shape near `shape`: adjacent dims merged, or one dim split, so that views often work."""
    shape = list(shape)
    if len(shape) >= 2 and rng.random() < 0.5:
        i = rng.randrange(len(shape) - 1)
        return shape[:i] + [shape[i] * shape[i + 1]] + shape[i + 2:]
    splittable = [i for i, s in enumerate(shape) if s > 1 and any(s % d == 0 for d in range(2, s))]
    if splittable:
        i = rng.choice(splittable)
        d = rng.choice([d for d in range(2, shape[i]) if shape[i] % d == 0])
        return shape[:i] + [d, shape[i] // d] + shape[i + 1:]
    return shape


def target_shape(x, rng):
    numel = x.numel()
    if rng.random() < 0.6:
        shape = merged_or_split(list(x.shape), rng)
    else:
        shape = factorizations(numel, rng.randint(1, 4), rng)
    if shape and rng.random() < 0.25:
        shape[rng.randrange(len(shape))] = -1
    return shape


def random_step(x, rng):
    """One op on x: (op name, its spec arguments, the function applying it)."""
    rank = x.dim()
    choices = ["transpose", "permute", "view", "reshape", "unsqueeze", "contiguous", "expand", "elementwise"]
    if rank >= 1:
        choices += ["narrow", "select", "flatten", "squeeze"]
    op = rng.choice(choices)
    if op == "transpose" and rank >= 2:
        a, b = rng.sample(range(rank), 2)
        return "transpose", {"dim0": a, "dim1": b}, lambda t: t.transpose(a, b)
    if op == "permute" and rank >= 2:
        dims = list(range(rank))
        rng.shuffle(dims)
        return "permute", {"dims": dims}, lambda t: t.permute(*dims)
    if op in ("view", "reshape"):
        shape = target_shape(x, rng)
        return op, {"shape": shape}, (lambda t: t.view(shape)) if op == "view" else (lambda t: t.reshape(shape))
    if op == "unsqueeze":
        d = rng.randint(-rank - 1, rank)
        return "unsqueeze", {"dim": d}, lambda t: t.unsqueeze(d)
    if op == "squeeze":
        if rng.random() < 0.5:
            return "squeeze", {}, lambda t: t.squeeze()
        d = rng.randrange(rank)
        return "squeeze", {"dim": d}, lambda t: t.squeeze(d)
    if op == "expand":
        size = [rng.choice([2, 3]) if s == 1 else (-1 if rng.random() < 0.3 else s) for s in x.shape]
        if rng.random() < 0.3:
            size = [rng.choice([2, 3])] + size
        return "expand", {"size": size}, lambda t: t.expand(size)
    if op == "narrow":
        d = rng.randrange(rank)
        n = x.shape[d]
        if n == 0:
            return "contiguous", {}, lambda t: t.contiguous()
        start = rng.randrange(n)
        length = rng.randint(1, n - start)
        return "narrow", {"dim": d, "start": start, "length": length}, lambda t: t.narrow(d, start, length)
    if op == "select":
        d = rng.randrange(rank)
        if x.shape[d] == 0:
            return "contiguous", {}, lambda t: t.contiguous()
        i = rng.randrange(x.shape[d])
        return "select", {"dim": d, "index": i}, lambda t: t.select(d, i)
    if op == "flatten":
        a = rng.randrange(rank)
        b = rng.randrange(a, rank)
        return "flatten", {"start_dim": a, "end_dim": b}, lambda t: t.flatten(a, b)
    if op == "elementwise":
        kind = rng.choice(["relu", "gelu", "mul", "add", "clone"])
        if kind == "mul":
            return "mul", {"other": 2.0}, lambda t: t * 2.0
        if kind == "add":
            return "add", {"other": "SELF"}, lambda t: t + t
        return kind, {}, (lambda t: torch.relu(t)) if kind == "relu" else (lambda t: torch.nn.functional.gelu(t)) if kind == "gelu" else (lambda t: t.clone())
    return "contiguous", {}, lambda t: t.contiguous()


def make_case(index, rng):
    rank = rng.randint(2, 4)
    shape = [rng.randint(1, 5) for _ in range(rank)]
    x = torch.zeros(shape)
    calls = []
    expect = None
    name = "x"
    steps = rng.randint(1, 5)
    for step in range(steps + 1):
        last = step == steps
        if last:
            op, args, fn = "view", {"shape": target_shape(x, rng)}, None
            shape_ = args["shape"]
            fn = lambda t: t.view(shape_)  # noqa: E731
        else:
            op, args, fn = random_step(x, rng)
        out = "t%d" % step
        call = {"id": "c%d" % step, "op": op, "input": name}
        for key, value in args.items():
            call[key] = name if value == "SELF" else value
        call["outputs"] = [out]
        calls.append(call)
        try:
            x = fn(x)
        except (RuntimeError, IndexError) as e:
            expect = {"ok": False, "call": call["id"], "error": {"type": type(e).__name__, "message": str(e).split("\n")[0]}}
            break
        name = out
    if expect is None:
        expect = {"ok": True, "shape": list(x.shape), "contiguous": x.is_contiguous()}
    spec = {"version": 1, "tensors": {"x": list(shape)}, "calls": calls}
    return {"name": "chain-%03d" % index, "spec": spec, "expect": expect}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "layout_cases.json"))
    options = parser.parse_args()
    rng = random.Random(SEED)
    cases = [make_case(i, rng) for i in range(CASES)]
    with open(options.out, "w") as f:
        f.write('{"generator": "%s", "torch_version": "%s", "cases": [\n' % (GENERATOR, torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")
    layout_errors = sum(1 for c in cases if not c["expect"]["ok"] and "stride" in c["expect"]["error"]["message"])
    other_errors = sum(1 for c in cases if not c["expect"]["ok"]) - layout_errors
    print("{} cases: {} valid, {} refused by view's strides, {} other errors".format(
        len(cases), sum(1 for c in cases if c["expect"]["ok"]), layout_errors, other_errors))


if __name__ == "__main__":
    main()
