"""What the PyTorch fixture generators in tests/pytorch/ share: dtype names as mhacheck's specs,
PyTorch and ATen's messages spell them, and a reproducible .npz writer.

Imported by gen_*.py scripts, which run with Debian's python3 (python3-torch, python3-numpy).
"""

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
                np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)
