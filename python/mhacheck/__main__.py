"""python3 -m mhacheck trace MODULE:CALLABLE --input NAME=SHAPE[:DTYPE] ... [--dim B=4] [--values]
-o spec.json [--check]"""
import argparse
import importlib
import inspect
import os
import subprocess
import sys

import torch

from ._check import find_binary
from ._spec import shape
from ._tracer import trace


def _dtype(text):
    dtype = getattr(torch, text.replace("torch.", ""), None)
    if not isinstance(dtype, torch.dtype):
        raise argparse.ArgumentTypeError(f"unknown dtype {text!r}")
    return dtype


def _input(text):
    name, sep, rest = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=SHAPE[:DTYPE] such as x=B,3,224,224, found {text!r}")
    dims_text, _, dtype_text = rest.partition(":")
    dims = []
    for item in dims_text.strip("()[] ").split(","):
        item = item.strip()
        if not item:
            continue
        if item.isdigit():
            dims.append(int(item))
        elif item.isidentifier():
            dims.append(item)
        else:
            raise argparse.ArgumentTypeError(f"{item!r} in {text!r} is not a size or a symbol name")
    return name, shape(*dims, dtype=_dtype(dtype_text) if dtype_text else torch.float32)


def _dim(text):
    name, sep, size = text.partition("=")
    if not sep or not name.isidentifier() or not size.isdigit():
        raise argparse.ArgumentTypeError(f"expected SYMBOL=SIZE such as B=4, found {text!r}")
    return name, int(size)


def _callable(text):
    module_name, sep, attribute = text.partition(":")
    if not sep or not module_name or not attribute:
        raise argparse.ArgumentTypeError(f"expected MODULE:CALLABLE such as torchvision.models:vit_b_16, found {text!r}")
    sys.path.insert(0, os.getcwd())
    target = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m mhacheck")
    commands = parser.add_subparsers(dest="command", required=True)
    tracing = commands.add_parser("trace", help="build a model, trace one call of it into a spec")
    tracing.add_argument("model", type=_callable, help="MODULE:CALLABLE that builds the model, e.g. torchvision.models:vit_b_16")
    tracing.add_argument("--input", type=_input, action="append", default=[], metavar="NAME=SHAPE[:DTYPE]",
                         help="an input of the model's forward, e.g. x=B,3,224,224 or mask=B,T:bool")
    tracing.add_argument("--dim", type=_dim, action="append", default=[], metavar="SYMBOL=SIZE",
                         help="trace a symbol at this size instead of a probe size")
    tracing.add_argument("--values", action="store_true", help="also write SPEC.npz and SPEC.expected.npz for mhacheck run")
    tracing.add_argument("--device", default=None,
                         help="move the model there first; 'meta' traces without computing anything (not with --values)")
    tracing.add_argument("-o", "--output", required=True, help="the spec file to write")
    tracing.add_argument("--check", action="store_true", help="then run mhacheck check on it and exit with its code")
    tracing.add_argument("--binary", help="the mhacheck binary for --check")
    options = parser.parse_args(argv)

    model = options.model()
    if isinstance(model, torch.nn.Module):
        model.eval()  # deterministic: dropout off, so a replay reproduces the traced outputs
        if options.device:
            model.to(options.device)
    forward = model.forward if isinstance(model, torch.nn.Module) else model
    parameters = inspect.signature(forward).parameters
    args, kwargs = [], {}
    for name, value in options.input:
        if name in parameters and parameters[name].kind is not inspect.Parameter.VAR_POSITIONAL:
            kwargs[name] = value
        else:
            args.append(value)
    try:
        with torch.no_grad():
            spec = trace(model, tuple(args), kwargs, dims=dict(options.dim), values=options.values)
    except ValueError as error:  # what trace refuses before running the model
        parser.error(str(error))
    try:
        spec.save(options.output)
    except (OSError, ValueError) as error:  # a folder that does not exist, the model's own source
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {options.output}: {len(spec.calls)} calls, sizes {spec.sizes}")
    if spec.error is not None:
        print(f"the model raised {type(spec.error).__name__}: {spec.error}", file=sys.stderr)
    code = 0 if spec.error is None else 1
    if options.check:
        # The check's code; when the model raised where no recorded call saw it (a convolution,
        # custom code), the check of the calls before it can be clean: still a failure.
        checked = subprocess.run([find_binary(options.binary), "check", options.output], check=False).returncode
        # A check killed by a signal (a negative code) fails too: 2, as for any check that could not finish.
        code = max(code, checked if checked >= 0 else 2)
    return code


if __name__ == "__main__":
    sys.exit(main())
