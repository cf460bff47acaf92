"""What the PyTorch fixture generators in tests/pytorch/ share: dtype names as mhacheck's specs,
PyTorch and ATen's messages spell them, and a reproducible .npz writer.

Imported by gen_*.py scripts, which run with Debian's python3 (python3-torch, python3-numpy).
"""

import json
import os
import random
import zipfile

import numpy as np
import torch

# dtype names in specs -> torch dtypes
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bool": torch.bool,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int32": torch.int32,
    "int64": torch.int64,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
FLOAT_NAMES = ("float32", "float64", "float16", "bfloat16")

# c10 TypeMeta names, as ATen prints a tensor's dtype() in error messages
TYPEMETA_NAMES = {
    "float32": "float",
    "float64": "double",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "bool": "bool",
    "uint8": "unsigned char",
    "int8": "signed char",
    "int32": "int",
    "int64": "long int",
}


def save_npz(path, arrays):
    """np.savez_compressed's format (one deflated .npy per key) with a fixed timestamp, so that
    regenerating a fixture changes no byte."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                arr = np.asarray(arr)  # not np.ascontiguousarray, which makes a 0-D array 1-D
                np.lib.format.write_array(fh, arr if arr.flags.c_contiguous else arr.copy(order="C"), allow_pickle=False)


def seed_everything(seed):
    """The generators' one source of randomness: Python's, NumPy's and torch's, all from `seed`;
    torch single-threaded so that reductions add up in the same order every run."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    return random.Random(seed)


def write_index(out, header, cases):
    """out/index.json: the header's fields, then "cases" one per line (stable diffs)."""
    fields = "".join("{}: {}, ".format(json.dumps(key), json.dumps(value)) for key, value in header.items())
    lines = ["{" + fields + '"cases": [']
    for i, case in enumerate(cases):
        lines.append(json.dumps(case) + ("," if i + 1 < len(cases) else ""))
    lines.append("]}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == dict(header, cases=cases)
    with open(os.path.join(out, "index.json"), "w") as fh:
        fh.write(text)


def remove_stale(out, written):
    """Deletes the fixtures of cases that no longer exist."""
    for name in sorted(os.listdir(out)):
        if name.endswith((".npz", ".json")) and name not in written:
            os.remove(os.path.join(out, name))
            print("removed stale", name)


def unique_by_name(cases):
    """The cases in order, each name once (the first case of that name)."""
    unique, seen = [], set()
    for c in cases:
        if c["name"] not in seen:
            seen.add(c["name"])
            unique.append(c)
    return unique


def unique_by_name(cases):
    """The cases in order, each name once (the first case of a name is kept)."""
    seen, unique = set(), []
    for c in cases:
        if c["name"] not in seen:
            seen.add(c["name"])
            unique.append(c)
    return unique


def write_op_cases(out, generator, cases):
    """Writes a fixture of single-call cases (one JSON object per line, as gen_glue_cases.py and
    gen_pointwise_cases.py do) and prints how many of each op pass and fail."""
    with open(out, "w") as f:
        f.write('{"generator": "%s", "torch_version": "%s", "cases": [\n' % (generator, torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")
    ops = {}
    for c in cases:
        key = (c["spec"]["op"], c["expect"]["ok"])
        ops[key] = ops.get(key, 0) + 1
    print("{} cases: {}".format(len(cases), ", ".join("{} {}: {}".format(o, "ok" if k else "error", n) for (o, k), n in sorted(ops.items()))))


def seed_of(name):
    """A case's seed: a hash of its name that does not change between Python runs."""
    h = 0
    for ch in name:
        h = (h * 131 + ord(ch)) % (2 ** 31)
    return h


def write_op_forward(out, generator, cases, evaluate, expected_arrays):
    """out/: for each single-call case NAME: (op, shape, dtype, args), NAME.npz with a seeded
    input and expected_arrays(PyTorch's result) ("expected.KEY" -> array), NAME.json the flat spec
    reading the input from the .npz, and index.json; returns how many cases there are."""
    os.makedirs(out, exist_ok=True)
    index = []
    for name, (op, shape, dtype, args) in cases.items():
        torch.manual_seed(seed_of(name))
        x = torch.randint(-1000, 1000, shape) if dtype == "int64" else torch.randn(shape, dtype=DTYPES[dtype])
        save_npz(os.path.join(out, name + ".npz"), dict({"input": x.numpy()}, **expected_arrays(evaluate(op, x, args))))
        with open(os.path.join(out, name + ".json"), "w") as fh:
            json.dump(dict({"op": op, "input": {"file": name + ".npz", "key": "input"}}, **args), fh, indent=2)
            fh.write("\n")
        index.append({"name": name, "dtype": dtype, "fully_masked": False})
    write_index(out, {"generator": generator, "torch_version": torch.__version__}, index)
    remove_stale(out, {c["name"] + ext for c in index for ext in (".json", ".npz")} | {"index.json"})
    return len(index)
