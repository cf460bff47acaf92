#!/usr/bin/python3
"""Generate PyTorch ground truth for mhacheck's nn.Conv1d and nn.Conv2d.

Writes tests/pytorch/conv_cases.json (verdict, output shape and dtype, or the exception raised
first by the constructor or the call, for valid and invalid modules and inputs on zero tensors)
and tests/pytorch/forward_conv/ (NAME.npz with the input, the module's state_dict and PyTorch's
output "expected.output", NAME.json the spec, index.json the list).

mhacheck follows PyTorch 2.x; _ConvNd's constructor checks are the same Python code in 1.13 and
2.x, and the call's messages are 1.13's on the CPU (ATen's batchify, expand_param_if_needed and
check_shape_forward; the dtype and zero-kernel messages come from the CPU kernels).
Left out of conv_cases.json, as mhacheck does not reproduce them (docs/spec-format.md says so):
padding_mode='foo' (PyTorch prints its set of modes in Python's set order, which changes with the
hash seed); kernel_size 0 (each CPU backend words its refusal differently: mkldnn's "could not
create a descriptor", slow_conv2d's "kernel size should be greater than zero"); a float16 input
to a float32 module without bias (the CPU kernel's "not implemented for 'Half'"); and with a
padding_mode other than 'zeros', two errors of the F.pad that runs before the convolution (1.13's
refusal of unbatched circular padding, F.pad's own wording of a wrong rank).

Usage:  /usr/bin/python3 tests/pytorch/gen_conv_cases.py

Deterministic: every forward case seeds torch with a hash of its name; .npz files have fixed
timestamps.
"""

import json
import os
import sys
import warnings

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import DTYPE_NAMES, DTYPES, remove_stale, save_npz, seed_of, unique_by_name, write_index  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "tests/pytorch/gen_conv_cases.py"
CONV = {"Conv1d": nn.Conv1d, "Conv2d": nn.Conv2d}


def spec_value(value):
    return list(value) if isinstance(value, tuple) else value


def module_spec(type_, in_channels, out_channels, kernel_size, options):
    spec = {"type": type_, "in_channels": in_channels, "out_channels": out_channels, "kernel_size": spec_value(kernel_size)}
    spec.update({k: spec_value(v) for k, v in options.items()})
    return spec


def outcome(type_, in_channels, out_channels, kernel_size, options, shape, dtype):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            conv = CONV[type_](in_channels, out_channels, kernel_size, **options)
            y = conv(torch.zeros(shape, dtype=DTYPES[dtype]))
    except (RuntimeError, ValueError) as e:
        return {"ok": False, "error": {"type": type(e).__name__, "message": str(e).split("\n")[0]}}
    return {"ok": True, "outputs": {"output": {"shape": list(y.shape), "dtype": DTYPE_NAMES[y.dtype]}}}


def case(type_, in_channels, out_channels, kernel_size, shape, input_dtype="float32", **options):
    name = "-".join([type_, "{}-{}-{}".format(in_channels, out_channels, kernel_size), "x".join(map(str, shape)), input_dtype] +
                    ["{}={}".format(k, v) for k, v in options.items()]).replace(" ", "")
    spec = {"module": module_spec(type_, in_channels, out_channels, kernel_size, options),
            "input": {"shape": list(shape), "dtype": input_dtype}}
    return {"name": name, "spec": spec, "expect": outcome(type_, in_channels, out_channels, kernel_size, options, shape, input_dtype)}


def check_cases():
    # Conv1d: audio front ends, depthwise convolutions in Conformer blocks
    for shape in [(2, 4, 16), (4, 16), (2, 4, 5), (2, 4, 2), (1, 4, 1), (0, 4, 9), (2, 3, 16), (2, 16, 4), (2, 4), (2, 4, 3, 3), (4,)]:
        for kernel in [1, 3, 4, (5,)]:
            for options in [{}, {"stride": 2}, {"padding": 1}, {"padding": "same"}, {"padding": "valid"}, {"dilation": 2},
                            {"stride": 3, "padding": 2, "dilation": 2}, {"bias": False}, {"groups": 2}, {"groups": 4},
                            {"padding": (2,)}, {"stride": (2,)}, {"padding": "same", "dilation": 3}, {"padding_mode": "reflect", "padding": 1},
                            {"padding_mode": "circular", "padding": 2}, {"padding_mode": "replicate", "padding": "same"}]:
                yield case("Conv1d", 4, 8, kernel, shape, **options)
    # Conv2d: patch embeddings, convolutional stems
    for shape in [(2, 3, 32, 32), (3, 32, 32), (2, 3, 8, 6), (2, 3, 4, 4), (1, 3, 33, 31), (2, 4, 10, 10), (1, 32, 32, 3), (0, 3, 8, 8),
                  (2, 3), (2, 3, 8), (1, 1, 3, 8, 8)]:
        for kernel in [1, 3, 16, (3, 5), (2, 1)]:
            for options in [{}, {"stride": 16}, {"stride": (2, 1)}, {"padding": 1}, {"padding": (1, 2)}, {"padding": "same"},
                            {"padding": "valid"}, {"dilation": 2}, {"dilation": (1, 2), "padding": "same"}, {"bias": False},
                            {"stride": 2, "padding": 3}, {"padding_mode": "reflect", "padding": 1}, {"padding_mode": "zeros", "padding": 2}]:
                yield case("Conv2d", 3, 6, kernel, shape, **options)
    # constructor errors, in _ConvNd's order
    for groups in [0, -1, 2, 3, 4, 6]:
        yield case("Conv2d", 3, 8, 3, (2, 3, 10, 10), groups=groups)
        yield case("Conv1d", 4, 6, 3, (2, 4, 10), groups=groups)
    yield case("Conv2d", 3, 8, 3, (2, 3, 10, 10), padding="full")
    yield case("Conv2d", 3, 8, 3, (2, 3, 10, 10), padding="same", stride=2)
    yield case("Conv2d", 3, 8, 3, (2, 3, 10, 10), padding="same", stride=(1, 2))
    yield case("Conv1d", 3, 8, 3, (2, 3, 10), padding="Same")
    yield case("Conv2d", -1, 8, 3, (2, 3, 10, 10))
    yield case("Conv2d", 3, -2, 3, (2, 3, 10, 10))
    yield case("Conv2d", 3, 8, -3, (2, 3, 10, 10))
    yield case("Conv2d", 3, 8, (3, -1), (2, 3, 10, 10))
    yield case("Conv2d", 3, 0, 3, (2, 3, 10, 10))
    yield case("Conv1d", 3, 0, 3, (2, 3, 10))
    # the call's argument checks
    for options in [{"stride": 0}, {"stride": (1, 0)}, {"padding": -1}, {"dilation": 0}, {"dilation": (2, 0)}, {"stride": (1, 1, 1)},
                    {"padding": (1, 1, 1)}, {"dilation": (1, 1, 1)}, {"padding": -1, "stride": 0}, {"dilation": -1, "stride": 0}]:
        for shape in [(2, 3, 10, 10), (2, 4, 10, 10), (2, 3)]:
            yield case("Conv2d", 3, 8, 3, shape, **options)
    for options in [{"stride": 0}, {"padding": -2}, {"dilation": 0}, {"stride": (1, 1)}, {"padding": (0, 0)}]:
        yield case("Conv1d", 3, 8, 3, (2, 3, 10), **options)
    yield case("Conv2d", 3, 8, (3, 3, 3), (2, 3, 10, 10))
    yield case("Conv2d", 3, 8, (3, 3, 3), (2, 3, 10, 10), stride=(1, 1, 1), padding=(0, 0, 0), dilation=(1, 1, 1))
    yield case("Conv1d", 3, 8, (3, 3), (2, 3, 10))
    yield case("Conv2d", 3, 8, 0, (2, 3, 4, 4))
    yield case("Conv2d", 3, 8, 0, (2, 4, 4, 4))
    yield case("Conv2d", 3, 8, (2, 0), (2, 3, 4, 4))
    yield case("Conv1d", 3, 8, 0, (2, 3, 4))
    # dtypes: with a bias the input's type is compared first, without one after the shapes
    for dtype in ["float64", "int64", "float16"]:
        for shape in [(2, 3, 8, 8), (2, 4, 8, 8), (2, 3, 2, 2)]:
            yield case("Conv2d", 3, 8, 3, shape, dtype)
            yield case("Conv2d", 3, 8, 3, shape, dtype, bias=False)
    yield case("Conv2d", 3, 8, 3, (2, 3, 8, 8), "float64", dtype=torch.float64)
    yield case("Conv1d", 3, 8, 3, (2, 3, 8), "float64", dtype=torch.float64, bias=False)
    # F.pad's limits for the padding modes that read the input, before the convolution's checks
    for mode in ["reflect", "circular", "replicate"]:
        for padding in [1, 2, 3, 4, (3, 1), (1, 3), "same"]:
            for shape in [(1, 3, 3, 3), (2, 4, 3, 5), (3, 3, 3), (1, 3, 1, 6)]:
                yield case("Conv2d", 3, 6, 3, shape, padding_mode=mode, padding=padding)
        for padding in [1, 2, 3, 4, "same"]:
            for shape in [(1, 3, 3), (2, 3, 2), (1, 4, 3)]:
                yield case("Conv1d", 3, 6, 5, shape, padding_mode=mode, padding=padding)
    # ViT's patch embedding, Whisper's front end
    yield case("Conv2d", 3, 768, 16, (2, 3, 224, 224), stride=16)
    yield case("Conv2d", 3, 768, 16, (2, 3, 225, 224), stride=16)
    yield case("Conv2d", 3, 768, 16, (2, 224, 224, 3), stride=16)
    yield case("Conv1d", 80, 384, 3, (2, 80, 3000), padding=1)
    yield case("Conv1d", 384, 384, 3, (2, 384, 3000), stride=2, padding=1)
    yield case("Conv1d", 144, 144, 31, (2, 144, 50), padding=15, groups=144)


F_PAD_ERRORS = ("Only 2D, 3D, 4D, 5D padding", "Invalid padding size")


def modelled(c):
    module = c["spec"]["module"]
    if 0 in ([module["kernel_size"]] if isinstance(module["kernel_size"], int) else module["kernel_size"]):
        return False
    if c["spec"]["input"]["dtype"] == "float16" and module.get("bias") is False:
        return False
    return c["expect"]["ok"] or not c["expect"]["error"]["message"].startswith(F_PAD_ERRORS)


def dtype_option(options):
    return {k: (DTYPE_NAMES[v] if k == "dtype" else v) for k, v in options.items()}


FORWARD = {
    "conv1d-basic": ("Conv1d", 4, 6, 3, (2, 4, 11), "float32", {}),
    "conv1d-unbatched": ("Conv1d", 4, 6, 3, (4, 11), "float32", {"padding": 1}),
    "conv1d-strided-dilated": ("Conv1d", 4, 6, 3, (2, 4, 17), "float64", {"stride": 2, "dilation": 2, "padding": 2}),
    "conv1d-same-even": ("Conv1d", 4, 6, 4, (2, 4, 9), "float32", {"padding": "same"}),
    "conv1d-depthwise": ("Conv1d", 8, 8, 5, (2, 8, 12), "float32", {"groups": 8, "padding": 2}),
    "conv1d-groups-no-bias": ("Conv1d", 6, 4, 3, (3, 6, 10), "float64", {"groups": 2, "bias": False}),
    "conv1d-reflect": ("Conv1d", 3, 5, 3, (2, 3, 8), "float32", {"padding": 2, "padding_mode": "reflect"}),
    "conv1d-circular": ("Conv1d", 3, 5, 3, (2, 3, 8), "float32", {"padding": 1, "padding_mode": "circular"}),
    "conv1d-replicate-same": ("Conv1d", 3, 5, 4, (2, 3, 8), "float64", {"padding": "same", "padding_mode": "replicate"}),
    "conv1d-front-end": ("Conv1d", 16, 32, 3, (2, 16, 40), "float32", {"stride": 2, "padding": 1}),
    "conv2d-basic": ("Conv2d", 3, 6, 3, (2, 3, 9, 8), "float32", {}),
    "conv2d-unbatched": ("Conv2d", 3, 6, 3, (3, 9, 8), "float64", {"padding": 1}),
    "conv2d-patch": ("Conv2d", 3, 16, 4, (2, 3, 16, 12), "float32", {"stride": 4}),
    "conv2d-patch-drops": ("Conv2d", 3, 16, 4, (2, 3, 18, 13), "float32", {"stride": 4}),
    "conv2d-rect": ("Conv2d", 3, 6, (3, 5), (2, 3, 10, 11), "float32", {"stride": (2, 1), "padding": (1, 2)}),
    "conv2d-same-dilated": ("Conv2d", 3, 6, (2, 3), (2, 3, 7, 9), "float64", {"padding": "same", "dilation": (2, 1)}),
    "conv2d-groups": ("Conv2d", 4, 6, 3, (2, 4, 7, 7), "float32", {"groups": 2, "padding": 1}),
    "conv2d-no-bias": ("Conv2d", 3, 5, 1, (2, 3, 6, 6), "float32", {"bias": False}),
    "conv2d-reflect": ("Conv2d", 3, 5, 3, (1, 3, 6, 7), "float32", {"padding": 2, "padding_mode": "reflect"}),
    "conv2d-circular-f64": ("Conv2d", 2, 4, 3, (2, 2, 5, 6), "float64", {"padding": (1, 2), "padding_mode": "circular"}),
    "conv2d-valid-strided": ("Conv2d", 3, 4, 5, (2, 3, 13, 12), "float32", {"padding": "valid", "stride": 3, "dilation": 2}),
}


def write_forward(out):
    os.makedirs(out, exist_ok=True)
    index = []
    for name, (type_, cin, cout, kernel, shape, dtype, options) in FORWARD.items():
        torch.manual_seed(seed_of(name))
        conv = CONV[type_](cin, cout, kernel, dtype=DTYPES[dtype], **options)
        x = torch.randn(shape, dtype=DTYPES[dtype])
        with torch.no_grad():
            y = conv(x)
        arrays = {"input": x.numpy()}
        arrays.update({k: v.numpy() for k, v in conv.state_dict().items()})
        arrays["expected.output"] = y.numpy()
        save_npz(os.path.join(out, name + ".npz"), arrays)
        module = module_spec(type_, cin, cout, kernel, options)
        module.update({"dtype": dtype, "weights": name + ".npz"})
        with open(os.path.join(out, name + ".json"), "w") as fh:
            json.dump({"module": module, "input": {"file": name + ".npz", "key": "input"}}, fh, indent=2)
            fh.write("\n")
        index.append({"name": name, "dtype": dtype, "fully_masked": False})
    write_index(out, {"generator": GENERATOR, "torch_version": torch.__version__}, index)
    remove_stale(out, {c["name"] + ext for c in index for ext in (".json", ".npz")} | {"index.json"})
    return len(index)


def main():
    cases = [c for c in unique_by_name(check_cases()) if modelled(c)]
    for c in cases:
        c["spec"]["module"] = dtype_option(c["spec"]["module"])
    with open(os.path.join(HERE, "conv_cases.json"), "w") as f:
        f.write('{"generator": "%s", "torch_version": "%s", "cases": [\n' % (GENERATOR, torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")
    ok = sum(c["expect"]["ok"] for c in cases)
    print("{} cases: {} ok, {} errors".format(len(cases), ok, len(cases) - ok))
    print("{} forward cases".format(write_forward(os.path.join(HERE, "forward_conv"))))


if __name__ == "__main__":
    main()
