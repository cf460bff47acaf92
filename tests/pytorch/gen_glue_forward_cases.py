#!/usr/bin/python3
"""Generate golden fixtures for mhacheck's forward pass of the glue operators.

Writes, under tests/pytorch/forward_glue/, for every case NAME:
  NAME.npz   the inputs ("input", and "other" for add and matmul; "t0", "t1", ... for torch.cat's
             tensor list) and PyTorch's result ("expected.output"; for the chained cases one
             "expected.NAME" per named output)
  NAME.json  the mhacheck spec of the call(s), with the tensors given by file and key
and index.json listing the cases.  Every value is computed by the installed PyTorch (1.13 from
Debian's python3-torch); these operators compute the same values in 2.x.
No case has a 0-D array (fixture_common.save_npz keeps them 0-D since gen_einsum_cases.py needed
them; these fixtures were written before).

Usage:  /usr/bin/python3 tests/pytorch/gen_glue_forward_cases.py [--out DIR]

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

DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "int8": torch.int8,
          "uint8": torch.uint8}


def seed_of(name):
    h = 0
    for ch in name:
        h = (h * 131 + ord(ch)) % (2 ** 31)
    return h


def single(op, input_shape, dtype="float32", other=None, other_dtype=None, **args):
    return {"op": op, "shape": input_shape, "dtype": dtype, "other": other, "other_dtype": other_dtype or dtype, "args": args}


CASES = {
    "transpose-3d": single("transpose", (2, 3, 4), dim0=0, dim1=-1),
    "transpose-4d-heads": single("transpose", (2, 5, 4, 3), "float64", dim0=1, dim1=2),
    "permute-4d": single("permute", (2, 3, 4, 5), dims=[0, 2, 3, 1]),
    "permute-3d-negative": single("permute", (3, 4, 5), "float64", dims=[-1, 0, 1]),
    "reshape-split-heads": single("reshape", (2, 5, 12), shape=[2, 5, 3, -1]),
    "view-merge-heads": single("view", (2, 5, 3, 4), "float64", shape=[2, -1, 12]),
    "unsqueeze-middle": single("unsqueeze", (3, 4), dim=1),
    "unsqueeze-last": single("unsqueeze", (3, 4), "float64", dim=-1),
    "squeeze-all": single("squeeze", (1, 3, 1, 4)),
    "squeeze-dim": single("squeeze", (3, 1, 4), "float64", dim=1),
    "flatten-all": single("flatten", (2, 3, 4)),
    "flatten-middle": single("flatten", (2, 3, 4, 5), "float64", start_dim=1, end_dim=2),
    "add-same": single("add", (2, 3, 4), other=(2, 3, 4)),
    "add-broadcast": single("add", (2, 1, 4), other=(3, 1)),
    "add-promote-float64": single("add", (2, 3), other=(3,), other_dtype="float64"),
    "add-single-element": single("add", (2, 3), "float64", other=(1,)),
    "matmul-mv": single("matmul", (3, 5), "float64", other=(5,)),
    "matmul-vm": single("matmul", (5,), other=(5, 4)),
    "matmul-mm": single("matmul", (3, 5), other=(5, 4)),
    "matmul-folded": single("matmul", (2, 3, 5), "float64", other=(5, 4)),
    "matmul-batched": single("matmul", (2, 4, 3, 8), other=(2, 4, 8, 6)),
    "matmul-broadcast": single("matmul", (2, 1, 3, 8), "float64", other=(4, 8, 6)),
    "matmul-vector-batched": single("matmul", (8,), other=(2, 8, 3)),
    "softmax-last": single("softmax", (2, 3, 5), dim=-1),
    "softmax-first": single("softmax", (4, 3), "float64", dim=0),
    "softmax-large": single("softmax", (2, 6), dim=1, scale=50.0),
}


# torch.cat: the list's (shape, dtype) and dim.  A (0,) tensor is the legacy empty tensor that cat
# skips whatever the other tensors' rank.
CAT_CASES = {
    "cat-dim0": ([((2, 3), "float32"), ((4, 3), "float32")], 0),
    "cat-negative-dim": ([((2, 3, 4), "float64"), ((2, 3, 5), "float64")], -1),
    "cat-four-tensors": ([((2, 1, 4), "float32"), ((2, 3, 4), "float32"), ((2, 2, 4), "float32"), ((2, 5, 4), "float32")], 1),
    "cat-promote-float64": ([((3, 2), "float32"), ((1, 2), "float64")], 0),
    "cat-promote-int64-float32": ([((2, 3), "int64"), ((2, 2), "float32")], 1),
    "cat-promote-int8-uint8": ([((2, 3), "int8"), ((4, 3), "uint8")], 0),
    "cat-legacy-empty": ([((2, 3), "float32"), ((0,), "float32"), ((2, 4), "float32")], 1),
}


def random_tensor(shape, dtype):
    """Normal floats; integers over most of their range (uint8 above 127, so that int8 with uint8
    needs int16)."""
    if dtype == "int64":
        return torch.randint(-1000, 1000, shape, dtype=torch.int64)
    if dtype == "int8":
        return torch.randint(-128, 128, shape, dtype=torch.int8)
    if dtype == "uint8":
        return torch.randint(0, 256, shape, dtype=torch.uint8)
    return torch.randn(shape, dtype=DTYPES[dtype])


def compute(case, x, y):
    op, args = case["op"], case["args"]
    if op == "transpose":
        return torch.transpose(x, args["dim0"], args["dim1"])
    if op == "permute":
        return x.permute(args["dims"])
    if op == "reshape":
        return x.reshape(args["shape"])
    if op == "view":
        return x.view(args["shape"])
    if op == "unsqueeze":
        return x.unsqueeze(args["dim"])
    if op == "squeeze":
        return x.squeeze() if "dim" not in args else x.squeeze(args["dim"])
    if op == "flatten":
        return x.flatten(args.get("start_dim", 0), args.get("end_dim", -1))
    if op == "add":
        return torch.add(x, y)
    if op == "matmul":
        return torch.matmul(x, y)
    if op == "softmax":
        return torch.softmax(x, args["dim"])
    raise ValueError(op)


def write_case(out, name, case):
    torch.manual_seed(seed_of(name))
    x = torch.randn(case["shape"], dtype=DTYPES[case["dtype"]]) * case["args"].get("scale", 1.0)
    arrays = {"input": x.numpy()}
    spec = {"op": case["op"], "input": {"file": name + ".npz", "key": "input"}}
    y = None
    if case["other"] is not None:
        y = torch.randn(case["other"], dtype=DTYPES[case["other_dtype"]])
        arrays["other"] = y.numpy()
        spec["other"] = {"file": name + ".npz", "key": "other"}
    spec.update({k: v for k, v in case["args"].items() if k != "scale"})
    result = compute(case, x, y)
    arrays["expected.output"] = result.contiguous().numpy()
    save_npz(os.path.join(out, name + ".npz"), arrays)
    with open(os.path.join(out, name + ".json"), "w") as fh:
        json.dump(spec, fh, indent=2)
        fh.write("\n")
    return str(result.dtype).replace("torch.", "")


def write_cat(out, name, case):
    tensors_spec, dim = case
    torch.manual_seed(seed_of(name))
    tensors = [random_tensor(shape, dtype) for shape, dtype in tensors_spec]
    arrays = {"t{}".format(i): t.numpy() for i, t in enumerate(tensors)}
    result = torch.cat(tensors, dim)
    arrays["expected.output"] = result.contiguous().numpy()
    spec = {"op": "cat", "tensors": [{"file": name + ".npz", "key": "t{}".format(i)} for i in range(len(tensors))], "dim": dim}
    save_npz(os.path.join(out, name + ".npz"), arrays)
    with open(os.path.join(out, name + ".json"), "w") as fh:
        json.dump(spec, fh, indent=2)
        fh.write("\n")
    return str(result.dtype).replace("torch.", "")


def write_cat_chain(out, name):
    """Two transposes, cat of the transposed (non-contiguous) results along the last dim, reshape."""
    torch.manual_seed(seed_of(name))
    a = torch.randn(2, 3, 4)
    b = torch.randn(2, 5, 4)
    at = a.transpose(1, 2)
    bt = b.transpose(-2, -1)
    c = torch.cat([at, bt], -1)
    y = c.reshape(8, -1)
    save_npz(os.path.join(out, name + ".npz"), {"a": a.numpy(), "b": b.numpy(), "expected.at": at.contiguous().numpy(),
                                                "expected.bt": bt.contiguous().numpy(), "expected.c": c.numpy(),
                                                "expected.y": y.numpy()})
    spec = {"tensors": {"a": {"file": name + ".npz", "key": "a"}, "b": {"file": name + ".npz", "key": "b"}}, "modules": {}, "calls": [
        {"id": "flip_a", "op": "transpose", "input": "a", "dim0": 1, "dim1": 2, "outputs": ["at"]},
        {"id": "flip_b", "op": "transpose", "input": "b", "dim0": -2, "dim1": -1, "outputs": ["bt"]},
        {"id": "join", "op": "cat", "tensors": ["at", "bt"], "dim": -1, "outputs": ["c"]},
        {"id": "fold", "op": "reshape", "input": "c", "shape": [8, -1], "outputs": ["y"]}]}
    with open(os.path.join(out, name + ".json"), "w") as fh:
        json.dump(spec, fh, indent=2)
        fh.write("\n")


def write_chain(out, name):
    """Attention scores by hand: split heads, transpose, q @ k^T, softmax, merge back."""
    torch.manual_seed(seed_of(name))
    x = torch.randn(2, 5, 8)
    h = x.view(2, 5, 2, -1)
    q = h.transpose(1, 2)
    s = torch.matmul(q, q.transpose(-2, -1))
    p = torch.softmax(s, -1)
    c = torch.matmul(p, q)
    y = c.transpose(1, 2).reshape(2, 5, 8)
    save_npz(os.path.join(out, name + ".npz"), {"x": x.numpy(), "expected.h": h.numpy(), "expected.q": q.contiguous().numpy(),
                                                "expected.kt": q.transpose(-2, -1).contiguous().numpy(), "expected.s": s.numpy(),
                                                "expected.p": p.numpy(), "expected.c": c.numpy(),
                                                "expected.ct": c.transpose(1, 2).contiguous().numpy(), "expected.y": y.numpy()})
    spec = {"tensors": {"x": {"file": name + ".npz", "key": "x"}}, "modules": {}, "calls": [
        {"id": "split", "op": "view", "input": "x", "shape": [2, 5, 2, -1], "outputs": ["h"]},
        {"id": "heads", "op": "transpose", "input": "h", "dim0": 1, "dim1": 2, "outputs": ["q"]},
        {"id": "keys", "op": "transpose", "input": "q", "dim0": -2, "dim1": -1, "outputs": ["kt"]},
        {"id": "scores", "op": "matmul", "input": "q", "other": "kt", "outputs": ["s"]},
        {"id": "weights", "op": "softmax", "input": "s", "dim": -1, "outputs": ["p"]},
        {"id": "context", "op": "matmul", "input": "p", "other": "q", "outputs": ["c"]},
        {"id": "unheads", "op": "transpose", "input": "c", "dim0": 1, "dim1": 2, "outputs": ["ct"]},
        {"id": "merge", "op": "reshape", "input": "ct", "shape": [2, 5, 8], "outputs": ["y"]}]}
    with open(os.path.join(out, name + ".json"), "w") as fh:
        json.dump(spec, fh, indent=2)
        fh.write("\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "forward_glue"))
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    index = []
    for name, case in CASES.items():
        index.append({"name": name, "dtype": write_case(out, name, case), "fully_masked": False})
    write_chain(out, "chain-attention-by-hand")
    index.append({"name": "chain-attention-by-hand", "dtype": "float32", "fully_masked": False})
    for name, case in CAT_CASES.items():
        index.append({"name": name, "dtype": write_cat(out, name, case), "fully_masked": False})
    write_cat_chain(out, "chain-cat-transposed")
    index.append({"name": "chain-cat-transposed", "dtype": "float32", "fully_masked": False})
    with open(os.path.join(out, "index.json"), "w") as fh:
        json.dump({"generator": "tests/pytorch/gen_glue_forward_cases.py", "torch_version": torch.__version__, "cases": index}, fh, indent=1)
        fh.write("\n")
    print("{} cases in {}".format(len(index), out))


if __name__ == "__main__":
    main()
