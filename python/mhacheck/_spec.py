"""Shape (an input described by its shape) and Spec (a traced model as an mhacheck spec)."""
import copy
import io
import json
import os

import numpy as np
import torch

from ._output import write_output


def _inside(path, folder):
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)


class Shape:
    """An input described by its shape: each dim an int or a symbol name (str)."""

    def __init__(self, dims, dtype=torch.float32):
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, (int, str)):
                raise TypeError(f"a dim is an int or a symbol name, not {d!r}")
            if isinstance(d, str) and not d.isidentifier():
                raise ValueError(f"{d!r} is not a symbol name (an identifier such as 'B')")
            if isinstance(d, int) and d < 0:
                raise ValueError(f"dim {d} is negative")
        self.dims = tuple(dims)
        self.dtype = dtype

    def __repr__(self):
        return f"mhacheck.shape({', '.join(repr(d) for d in self.dims)}, dtype={self.dtype})"


def shape(*dims, dtype=torch.float32):
    """An input described by its shape, for `trace`: `shape("B", "T", 512)`."""
    return Shape(dims, dtype)


class Spec:
    """A traced model: the spec document (`document`), the exception the model raised (`error`,
    None when it ran through), the size each symbol was traced at (`sizes`), and with
    `values=True` the tensors (`arrays`: declared tensors and module weights; `expected`: each
    call's traced outputs by output name)."""

    def __init__(self, document, *, sizes, error, values, arrays, expected, result):
        self.document = document
        self.sizes = sizes
        self.error = error
        self.values = values
        self.arrays = arrays
        self.expected = expected
        self.result = result

    @property
    def calls(self):
        return self.document["calls"]

    def to_dict(self, values_file="spec.npz", relative_to=None):
        """The document; tensors with values name `values_file`; the Python sources that are
        inside the working directory relative to the folder `relative_to` when given (the spec's
        folder, against which mhacheck resolves them), all others absolute."""
        document = copy.deepcopy(self.document)
        if self.values:
            for name, entry in document["tensors"].items():
                if name not in self.arrays:
                    continue  # a dtype numpy has not (bfloat16): declared by shape and dtype
                tensor = {"file": values_file, "key": name}
                for key in ("contiguous", "note"):
                    if key in entry:
                        tensor[key] = entry[key]
                document["tensors"][name] = tensor
            for entry in document["modules"].values():
                if entry.get("weights") == "<values>":
                    entry["weights"] = values_file
        if relative_to is not None:
            for call in document["calls"]:
                if "source" not in call:
                    continue
                file, _, line = call["source"].rpartition(":")
                if os.path.isabs(file) and _inside(file, os.getcwd()):
                    call["source"] = f"{os.path.relpath(file, relative_to)}:{line}"
        return document

    def to_json(self, values_file="spec.npz", relative_to=None):
        return json.dumps(self.to_dict(values_file, relative_to), indent=1) + "\n"

    def sources(self):
        """The Python files the calls were traced from (absolute paths)."""
        files = set()
        for call in self.document["calls"]:
            if "source" in call:
                file = call["source"].rpartition(":")[0]
                if os.path.isabs(file):
                    files.add(file)
        return sorted(files)

    def save(self, path):
        """Writes the spec to `path`; with values, also `x.npz` (declared tensors and weights)
        and `x.expected.npz` (each call's traced outputs, keyed as `mhacheck run x.json --save`
        keys them) next to `x.json`. Each file is written as mhacheck's `-o` writes
        (`_output.write_output`): never over the model's own source files, through symlinks,
        keeping modes, and atomically."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        stem = os.path.splitext(path)[0]
        values_file = os.path.basename(stem) + ".npz"
        text = self.to_json(values_file, folder)
        outputs = [path] + ([stem + ".npz", stem + ".expected.npz"] if self.values else [])
        if len({os.path.abspath(p) for p in outputs}) != len(outputs):
            raise ValueError(f"{path} is given as two outputs (the spec and its .npz)")
        inputs = self.sources()
        for output in outputs:
            for known in inputs:
                if os.path.exists(output) and os.path.samefile(output, known):
                    raise ValueError(f"refusing to overwrite an input: {output}")
        if self.values:
            write_output(stem + ".npz", _npz_bytes(self.arrays), inputs)
            write_output(stem + ".expected.npz", _npz_bytes(self.expected), inputs)
        write_output(path, text.encode("utf-8"), inputs)
        return path


def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
