#!/usr/bin/python3
"""Generate PyTorch ground truth for mhacheck's torch.einsum and torch.bmm.

Writes tests/pytorch/einsum_cases.json (verdict, output shape and dtype, or the exception raised
first, of valid and invalid calls on zero tensors: attention equations, torchvision's MaxViT and
MViT and torchaudio's HDemucs forms, ellipsis, implicit outputs, diagonals, size-1 broadcasting,
upper-case labels, spaces, three operands, dtypes, and every kind of malformed equation; bmm's
ranks, sizes and dtypes) and tests/pytorch/forward_einsum/ (NAME.npz with the operands "operands0",
"operands1", ... (or "input" and "mat2" for bmm) and PyTorch's result "expected.output", NAME.json
the spec, index.json the list).

mhacheck follows PyTorch 2.x. einsum's checks and messages (aten/src/ATen/native/Linear.cpp)
and bmm's shape checks are the same in 1.13 and 2.x, so every expectation is 1.13's own; the
dtype messages ("expected scalar type Float but found Double") are 1.13's wording. Releases
before 1.13 reported label sizes as "operands do not broadcast with remapped shapes".

Usage:  /usr/bin/python3 tests/pytorch/gen_einsum_cases.py

Deterministic: every forward case seeds torch with a hash of its name; .npz files have fixed
timestamps.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import (DTYPE_NAMES, DTYPES, remove_stale, save_npz, seed_of, unique_by_name,  # noqa: E402
                            write_index, write_op_cases)

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "tests/pytorch/gen_einsum_cases.py"


def tensor_spec(shape, dtype):
    return {"shape": list(shape), "dtype": dtype}


def outcome(compute):
    try:
        out = compute()
    except (RuntimeError, ValueError) as e:
        return {"ok": False, "error": {"type": type(e).__name__, "message": str(e).split("\n")[0]}}
    return {"ok": True, "outputs": {"output": {"shape": list(out.shape), "dtype": DTYPE_NAMES[out.dtype]}}}


def shape_name(shape):
    return "x".join(map(str, shape)) or "scalar"


def einsum_case(equation, *shapes, dtypes=None):
    dtypes = dtypes or ["float32"] * len(shapes)
    tensors = [torch.zeros(s, dtype=DTYPES[d]) for s, d in zip(shapes, dtypes)]
    spec = {"op": "einsum", "equation": equation, "operands": [tensor_spec(s, d) for s, d in zip(shapes, dtypes)]}
    name = "-".join(["einsum", equation] + [shape_name(s) + ("" if d == "float32" else ":" + d) for s, d in zip(shapes, dtypes)])
    return {"name": name, "spec": spec, "expect": outcome(lambda: torch.einsum(equation, *tensors))}


def bmm_case(a, b, a_dtype="float32", b_dtype="float32"):
    x, y = torch.zeros(a, dtype=DTYPES[a_dtype]), torch.zeros(b, dtype=DTYPES[b_dtype])
    spec = {"op": "bmm", "input": tensor_spec(a, a_dtype), "mat2": tensor_spec(b, b_dtype)}
    name = "bmm-{}:{}-{}:{}".format(shape_name(a), a_dtype, shape_name(b), b_dtype)
    return {"name": name, "spec": spec, "expect": outcome(lambda: torch.bmm(x, y))}


# Equations with operand shapes that fit them; each is also tried with sizes changed below.
VALID = [
    ("bhid,bhjd->bhij", (2, 3, 4, 5), (2, 3, 6, 5)),
    ("bhij,bhjd->bhid", (2, 3, 4, 6), (2, 3, 6, 5)),
    ("bhqd,bhkd->bhqk", (1, 2, 3, 4), (1, 2, 5, 4)),
    ("B G H I D, B G H J D -> B G H I J", (2, 3, 2, 4, 5), (2, 3, 2, 4, 5)),  # torchvision MaxViT
    ("B G H I J, B G H J D -> B G H I D", (2, 3, 2, 4, 4), (2, 3, 2, 4, 5)),
    ("bythwc,hkc->bythwk", (1, 2, 2, 3, 4, 5), (3, 6, 5)),  # torchvision MViT relative positions
    ("bhct,bhcs->bhts", (2, 2, 3, 4), (2, 2, 3, 5)),  # torchaudio HDemucs
    ("fts,bhfs->bhts", (3, 4, 5), (2, 2, 3, 5)),
    ("bhts,bhct->bhcs", (2, 2, 4, 5), (2, 2, 3, 4)),
    ("bnd,bmd->bnm", (2, 3, 4), (2, 5, 4)),
    ("ij,jk->ik", (2, 3), (3, 4)),
    ("ij,jk", (2, 3), (3, 4)),
    ("ij,kj", (2, 3), (4, 3)),
    ("ba,ab", (2, 3), (3, 2)),
    ("Ab,bC->AC", (2, 3), (3, 4)),
    ("aB,Ba", (2, 3), (3, 2)),
    (" i j , j k -> i k ", (2, 3), (3, 4)),
    ("i,i->", (4,), (4,)),
    ("i,j->ij", (2,), (3,)),
    ("i,j", (2,), (3,)),
    ("ij->ji", (2, 3)),
    ("ij", (2, 3)),
    ("ji", (2, 3)),
    ("ii->i", (3, 3)),
    ("ii", (3, 3)),
    ("iij->ij", (2, 2, 5)),
    ("ijij->ij", (2, 3, 2, 3)),
    ("bii,bj->bij", (2, 3, 3), (2, 4)),
    ("ij->", (2, 3)),
    ("ij->i", (2, 3)),
    ("->", ()),
    (",->", (), ()),
    ("i,->i", (3,), ()),
    ("...ij,...jk->...ik", (5, 2, 3), (5, 3, 4)),
    ("...ij,...jk", (5, 2, 3), (1, 3, 4)),
    ("...ij,...jk->...ik", (2, 5, 2, 3), (5, 3, 4)),
    ("...ij,jk->...ik", (2, 5, 2, 3), (3, 4)),
    ("...,...->...", (2, 1, 4), (3, 1)),
    ("i...,i...->i", (2, 3, 4), (2, 1, 4)),
    ("...ij->...ji", (2, 3, 4)),
    ("...ij->...ji", (3, 4)),
    ("i...j,jk->ik", (2, 3), (3, 4)),
    ("i...->i", (2, 3, 4)),
    ("...->", (2, 3)),
    ("...i->i...", (2, 3)),
    ("b...d,b...d->b...", (2, 3, 4, 5), (2, 3, 4, 5)),
    ("bhid,bhjd->bhij", (2, 1, 4, 5), (2, 3, 6, 5)),
    ("bhid,bhjd->bhij", (2, 3, 4, 1), (2, 3, 6, 5)),
    ("ij,jk->ik", (2, 1), (3, 4)),
    ("ij,ij->ij", (2, 1), (1, 3)),
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 5)),
    ("bij,bjk,bkl->bil", (2, 2, 3), (2, 3, 4), (1, 4, 5)),
    ("i,j,k->ijk", (2,), (3,), (4,)),
    ("i,i,i->", (3,), (3,), (3,)),
    ("ij,jk->ik", (0, 3), (3, 4)),
    ("ij,jk->ik", (2, 0), (0, 4)),
    ("a,b,c,d->abcd", (1,), (2,), (1,), (2,)),
]

INVALID = [
    ("bhid,bhjd->bhij", (2, 3, 4, 5), (2, 3, 6, 7)),
    ("bhid,bhjd->bhij", (2, 3, 4, 5), (2, 4, 6, 5)),
    ("bhid,bhjd->bhij", (2, 3, 4, 5), (3, 3, 6, 5)),
    ("bhid,bhjd->bhij", (2, 5, 12), (2, 3, 6, 4)),  # heads not split off
    ("bhid,bhjd->bhij", (2, 3, 4, 5), (2, 6, 3, 5)),
    ("bhid,bhjd->bhij", (2, 3, 4, 5, 1), (2, 3, 6, 5)),
    ("B G H I D, B G H J D -> B G H I J", (2, 3, 2, 4, 5), (2, 3, 4, 2, 5)),
    ("bhij,bhjd->bhid", (2, 3, 4, 6), (2, 3, 5, 5)),
    ("ij,jk->ik", (2, 3), (4, 4)),
    ("ij,jk", (2, 3), (3,)),
    ("ijk,jk->ik", (2, 3), (3, 4)),
    ("ij,jk,kl->il", (2, 3), (3, 4), (5, 5)),
    ("ij,jk->ik", (2, 3)),
    ("ij", (2, 3), (3, 4)),
    ("ij,jk,->ik", (2, 3), (3, 4)),
    ("ii->i", (3, 4)),
    ("iij->ij", (2, 3, 5)),
    ("i1->i", (3, 4)),
    ("i_j->ij", (3, 4)),
    ("ij->i j_", (3, 4)),
    ("ij->ii", (3, 4)),
    ("ij->k", (3, 4)),
    ("ij->I", (3, 4)),
    ("i.j->ij", (3, 4)),
    ("i....->i", (3, 4)),
    ("i..", (3, 4)),
    ("...i...->i", (3, 4)),
    ("ij->i..j", (3, 4)),
    ("...i,...j->...j...", (3, 4), (3, 4)),
    ("...i->...i.", (3, 4)),
    ("-i->i", (3,)),
    ("i->i->i", (3,)),
    ("i-j", (3, 4)),
    ("i-", (3,)),
    ("ij->", ()),
    ("...ij,...jk->...ik", (5, 2, 3), (7, 3, 4)),
    ("...ij,...jk->...ik", (2, 5, 2, 3), (3, 5, 3, 4)),
    ("...ijk,...jk", (2, 3), (3, 4)),
    ("ij...k,jk", (2, 3), (3, 4)),
    ("ii...,i->i", (2, 2, 3), (2,)),
    ("ii...,i...->i", (2, 2, 3), (2, 4)),
    ("bhid,bhjd->bhij", (2, 3, 4, 5), (2, 3, 6, 5), (1,)),
    ("i,i->", (0,), (3,)),
]

DTYPE_CASES = [
    ("bhid,bhjd->bhij", ["float32", "float64"]),
    ("bhid,bhjd->bhij", ["float64", "float32"]),
    ("bhid,bhjd->bhij", ["float64", "float64"]),
    ("bhid,bhjd->bhij", ["int64", "int64"]),
    ("bhid,bhjd->bhij", ["bool", "bool"]),
    ("bhid,bhjd->bhij", ["int32", "int64"]),
]


def check_cases():
    for equation, *shapes in VALID + INVALID:
        yield einsum_case(equation, *shapes)
    for equation, dtypes in DTYPE_CASES:
        yield einsum_case(equation, (2, 3, 4, 5), (2, 3, 6, 5), dtypes=dtypes)
    for dtypes in [["float32", "float64"], ["int32", "float32"], ["int64", "int32"], ["bool", "float32"], ["bool", "bool"]]:
        yield einsum_case("i,j->ij", (2,), (3,), dtypes=dtypes)  # a product without a sum: promotes
        yield einsum_case("i,i->", (3,), (3,), dtypes=dtypes)  # one bmm
        yield einsum_case("ij,j->i", (3, 2), (1,), dtypes=dtypes)  # j summed first
        yield einsum_case("ij,k->i", (3, 2), (4,), dtypes=dtypes)
    for dtype in ["int32", "int64", "bool", "float64", "uint8"]:
        yield einsum_case("ij->", (2, 3), dtypes=[dtype])  # sum() of integers: int64
        yield einsum_case("ij->ji", (2, 3), dtypes=[dtype])
        yield einsum_case("ii->i", (3, 3), dtypes=[dtype])
        yield einsum_case("ij,jk,kl->il", (2, 3), (3, 4), (4, 5), dtypes=[dtype, dtype, "float32"])
        yield einsum_case("i,j,k->ijk", (2,), (3,), (4,), dtypes=["float32", dtype, dtype])
    # Every valid equation with one size changed: to 1 (broadcasts) and to 7 (usually does not).
    for equation, *shapes in VALID:
        for o, shape in enumerate(shapes):
            for d in range(len(shape)):
                for size in (1, 7):
                    changed = list(shapes)
                    changed[o] = shape[:d] + (size,) + shape[d + 1:]
                    yield einsum_case(equation, *changed)
    for a, b in [((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (1, 4, 5)), ((1, 3, 4), (2, 4, 5)), ((2, 3, 4), (2, 5, 5)), ((3, 4), (2, 4, 5)),
                 ((2, 3, 4), (4, 5)), ((2, 3, 4, 1), (2, 4, 5)), ((2, 3, 4), (3, 4, 5)), ((2, 3, 4), (3, 5, 5)), ((0, 3, 4), (0, 4, 5)),
                 ((2, 0, 4), (2, 4, 0)), ((), (2, 4, 5)), ((2, 3, 4), (2, 4))]:
        yield bmm_case(a, b)
    for a_dtype, b_dtype in [("float32", "float64"), ("float64", "float32"), ("int64", "int64"), ("int32", "int64"), ("bool", "bool"),
                             ("float64", "float64")]:
        yield bmm_case((2, 3, 4), (2, 4, 5), a_dtype, b_dtype)
    yield bmm_case((2, 3, 4), (2, 5, 5), "float32", "float64")  # sizes before dtypes


FORWARD = {
    "scores": ("bhid,bhjd->bhij", [(2, 3, 4, 5), (2, 3, 6, 5)], "float32"),
    "context": ("bhij,bhjd->bhid", [(2, 3, 4, 6), (2, 3, 6, 5)], "float32"),
    "scores-float64": ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)], "float64"),
    "maxvit-scores": ("B G H I D, B G H J D -> B G H I J", [(2, 3, 2, 4, 5), (2, 3, 2, 4, 5)], "float32"),
    "maxvit-context": ("B G H I J, B G H J D -> B G H I D", [(2, 3, 2, 4, 4), (2, 3, 2, 4, 5)], "float32"),
    "mvit-relative": ("bythwc,hkc->bythwk", [(1, 2, 2, 3, 4, 5), (3, 6, 5)], "float32"),
    "hdemucs-decay": ("fts,bhfs->bhts", [(3, 4, 5), (2, 2, 3, 5)], "float64"),
    "matrix": ("ij,jk", [(7, 9), (9, 4)], "float32"),
    "transposed": ("ij,kj->ik", [(3, 5), (4, 5)], "float64"),
    "outer": ("i,j->ij", [(4,), (3,)], "float32"),
    "dot": ("i,i->", [(16,), (16,)], "float64"),
    "broadcast-heads": ("bhid,bhjd->bhij", [(2, 1, 4, 5), (2, 3, 6, 5)], "float32"),
    "broadcast-summed": ("bhid,bhjd->bhij", [(2, 3, 4, 1), (2, 3, 6, 5)], "float64"),
    "ellipsis-batch": ("...ij,...jk->...ik", [(2, 5, 2, 3), (5, 3, 4)], "float32"),
    "ellipsis-sum": ("i...,i...->i", [(2, 3, 4), (2, 1, 4)], "float64"),
    "implicit-sorted": ("aB,Ba", [(2, 3), (3, 2)], "float32"),
    "only-in-one": ("ij,k->i", [(3, 2), (4,)], "float64"),
    "transpose": ("ij->ji", [(2, 3)], "float32"),
    "trace": ("ii", [(4, 4)], "float64"),
    "diagonal": ("bii,bj->bij", [(2, 3, 3), (2, 4)], "float32"),
    "diagonal-4d": ("ijij->ij", [(2, 3, 2, 3)], "float64"),
    "row-sums": ("...ij->...i", [(2, 3, 4)], "float32"),
    "chain": ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)], "float32"),
    "chain-broadcast": ("bij,bjk,bkl->bil", [(2, 2, 3), (2, 3, 4), (1, 4, 5)], "float64"),
    "three-outer": ("i,j,k->ijk", [(2,), (3,), (4,)], "float32"),
    "empty": ("ij,jk->ik", [(2, 0), (0, 4)], "float32"),
}

BMM_FORWARD = {
    "bmm": ([(3, 4, 5), (3, 5, 2)], "float32"),
    "bmm-float64": ([(2, 1, 7), (2, 7, 3)], "float64"),
}


def write_forward(out):
    os.makedirs(out, exist_ok=True)
    index = []

    def write(name, dtype, arrays, expected, spec):
        save_npz(os.path.join(out, name + ".npz"), dict(arrays, **{"expected.output": expected.contiguous().numpy()}))
        with open(os.path.join(out, name + ".json"), "w") as fh:
            json.dump(spec, fh, indent=2)
            fh.write("\n")
        index.append({"name": name, "dtype": dtype, "fully_masked": False})

    def source(name, key):
        return {"file": name + ".npz", "key": key}

    for name, (equation, shapes, dtype) in FORWARD.items():
        torch.manual_seed(seed_of(name))
        tensors = [torch.randn(s, dtype=DTYPES[dtype]) for s in shapes]
        keys = ["operands{}".format(i) for i in range(len(tensors))]
        write(name, dtype, {k: t.numpy() for k, t in zip(keys, tensors)}, torch.einsum(equation, *tensors),
              {"op": "einsum", "equation": equation, "operands": [source(name, k) for k in keys]})
    for name, (shapes, dtype) in BMM_FORWARD.items():
        torch.manual_seed(seed_of(name))
        x, y = (torch.randn(s, dtype=DTYPES[dtype]) for s in shapes)
        write(name, dtype, {"input": x.numpy(), "mat2": y.numpy()}, torch.bmm(x, y),
              {"op": "bmm", "input": source(name, "input"), "mat2": source(name, "mat2")})
    write_index(out, {"generator": GENERATOR, "torch_version": torch.__version__}, index)
    remove_stale(out, {c["name"] + ext for c in index for ext in (".json", ".npz")} | {"index.json"})
    return len(index)


def main():
    cases = unique_by_name(check_cases())
    write_op_cases(os.path.join(HERE, "einsum_cases.json"), GENERATOR, cases)
    print("{} forward cases".format(write_forward(os.path.join(HERE, "forward_einsum"))))


if __name__ == "__main__":
    main()
