#!/usr/bin/env python3
"""Reproduce an mhacheck spec example in PyTorch: the baseline for bench/run.sh.

    /usr/bin/python3 bench/torch_check.py examples/seed_example1.json [--json] [--warm N]

Reads a flat spec file (JSON with // comments), evaluates its "module" constructor string with
nn = torch.nn, builds zero tensors of the declared shapes and runs the forward, catching the
exception. Prints the verdict (OK with output shapes, or FAIL with PyTorch's error) and timings:

  import_ms        time of `import torch` in this process
  cold_ms          construct + forward, first time in this process (what one check costs)
  warm_median_ms   median of --warm further construct + forward repetitions (default 20)

With --json the same is printed as one JSON object on one line, for bench/run.sh.
Exit code: 0 if the call runs, 1 if PyTorch raises, 2 if the spec cannot be read.
"""

import json
import re
import statistics
import sys
import time

T_START = time.perf_counter()
import torch  # noqa: E402  (timed on purpose)

T_IMPORTED = time.perf_counter()

nn = torch.nn

CALL_ARGUMENTS = ("query", "key", "value", "key_padding_mask", "attn_mask")
MASKS = ("key_padding_mask", "attn_mask")
CALL_FLAGS = ("need_weights", "average_attn_weights", "is_causal")


def strip_comments(text):
    """Remove // line comments outside JSON strings."""
    out = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
        elif c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def dim_value(dim, dims):
    if isinstance(dim, int):
        return dim
    if isinstance(dim, str):
        # a named dim, or a small arithmetic expression over named dims ("B*T", "T+1")
        if not re.fullmatch(r"[A-Za-z_0-9+\-*/() ]+", dim):
            raise ValueError(f"unsupported dim {dim!r}")
        return int(eval(dim.replace("/", "//"), {"__builtins__": {}}, dict(dims)))
    raise ValueError(f"unsupported dim {dim!r}")


def dtype_of(name):
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {name!r}")
    return dtype


def tensor_decl(value, spec, dims, is_mask):
    """-> (shape tuple, torch dtype) for a shape array, {"shape", "dtype"} or a tensor name."""
    if isinstance(value, str):
        value = spec.get("tensors", {})[value]
    dtype = None
    if isinstance(value, dict):
        dtype = dtype_of(value["dtype"]) if "dtype" in value else None
        value = value["shape"]
    shape = tuple(dim_value(d, dims) for d in value)
    if dtype is None:
        dtype = torch.bool if is_mask else torch.float32
    return shape, dtype


def load(path):
    with open(path, encoding="utf-8") as f:
        spec = json.loads(strip_comments(f.read()))
    if "calls" in spec or "modules" in spec:
        raise ValueError("only flat specs (one \"module\" and its call arguments) are supported")
    dims = spec.get("dims", {})
    args = {}
    for name in CALL_ARGUMENTS:
        if name in spec:
            args[name] = tensor_decl(spec[name], spec, dims, name in MASKS)
    flags = {name: spec[name] for name in CALL_FLAGS if name in spec}
    return spec["module"], args, flags


def run_once(module_src, args, flags):
    """Construct the module and run the forward on zero tensors. -> (ok, detail)."""
    module = eval(module_src, {"nn": nn, "torch": torch})
    tensors = {name: torch.zeros(shape, dtype=dtype) for name, (shape, dtype) in args.items()}
    try:
        with torch.no_grad():
            out = module(**tensors, **flags)
    except Exception as e:  # noqa: BLE001  (the error is the result)
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return False, f"{type(e).__name__}: {msg}"
    parts = []
    for label, t in zip(("attn_output", "attn_output_weights"), out):
        parts.append(f"{label} {tuple(t.shape)}" if t is not None else f"{label} None")
    return True, ", ".join(parts)


def main(argv):
    as_json = "--json" in argv
    warm = 20
    rest = []
    i = 0
    while i < len(argv):
        if argv[i] == "--json":
            pass
        elif argv[i] == "--warm":
            warm = int(argv[i + 1])
            i += 1
        else:
            rest.append(argv[i])
        i += 1
    if len(rest) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = rest[0]
    try:
        module_src, args, flags = load(path)
    except (OSError, ValueError, KeyError) as e:
        print(f"{path}: cannot read spec: {e}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    ok, detail = run_once(module_src, args, flags)
    cold = time.perf_counter() - t0

    samples = []
    for _ in range(warm):
        t0 = time.perf_counter()
        run_once(module_src, args, flags)
        samples.append(time.perf_counter() - t0)
    warm_median = statistics.median(samples) if samples else None

    result = {
        "example": path,
        "verdict": "OK" if ok else "FAIL",
        "detail": detail,
        "torch": torch.__version__,
        "import_ms": (T_IMPORTED - T_START) * 1e3,
        "cold_ms": cold * 1e3,
        "warm_median_ms": warm_median * 1e3 if warm_median is not None else None,
        "warm_runs": warm,
    }
    if as_json:
        print(json.dumps(result))
    else:
        print(f"{path}: {module_src}")
        print(f"  {result['verdict']}: {detail}")
        print(f"  torch {torch.__version__}: import {result['import_ms']:.1f} ms, "
              f"construct+forward {result['cold_ms']:.2f} ms cold"
              + (f", {result['warm_median_ms']:.2f} ms warm (median of {warm})" if samples else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
