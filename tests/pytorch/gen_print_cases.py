#!/usr/bin/python3
"""Generate PyTorch ground truth for mhacheck's tensor printing (src/tensor_text.cpp).

Writes tests/pytorch/print_cases.json (one case per line): for each tensor, its dtype, shape,
values, the print options, and str(tensor) as the installed PyTorch (1.13 from Debian's
python3-torch) prints it with those options set by torch.set_printoptions.

For real dense CPU tensors torch/_tensor_str.py prints the same in 1.13 and 2.x, except with
edgeitems=0, which 1.13 cannot print for 2-d and up; no case here uses it.

Values are stored as the tensor holds them (after the cast to its dtype), as a flat list in C
order with "nan", "inf" and "-inf" as strings, so that reading them back is exact. Large tensors
are stored as a pattern instead: element i is start + (i % modulo) * step, computed in double
and cast to the dtype (for float16 and bfloat16 the pattern must be exact, which is checked here).

Usage:  /usr/bin/python3 tests/pytorch/gen_print_cases.py [--out PATH]

Deterministic: a fixed seed drives every random tensor. Only stdlib and torch are used.
"""

import argparse
import json
import math
import os

import torch

SEED = 20240611
DEFAULT_OPTIONS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80}
DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
    "float64": torch.float64, "bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8,
    "int16": torch.int16, "int32": torch.int32, "int64": torch.int64,
}
FLOATING = {"float16", "bfloat16", "float32", "float64"}


def json_value(value):
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def pattern_values(pattern, count, floating):
    start, step, modulo = pattern["start"], pattern["step"], pattern["modulo"]
    if floating:
        return [float(start) + float(i % modulo) * float(step) for i in range(count)]
    return [start + (i % modulo) * step for i in range(count)]


class Cases:
    def __init__(self):
        self.cases = []
        self.names = set()

    def add(self, name, dtype, values=None, shape=None, pattern=None, **options):
        """values: nested list, flat list (with shape) or a torch tensor; or shape + pattern."""
        assert name not in self.names, name
        self.names.add(name)
        torch_dtype = DTYPES[dtype]
        floating = dtype in FLOATING
        if pattern is not None:
            count = math.prod(shape)
            raw = pattern_values(pattern, count, floating)
            source = torch.tensor(raw, dtype=torch.float64 if floating else torch.int64)
            tensor = source.to(torch_dtype).reshape(shape)
            if dtype in ("float16", "bfloat16", "int8", "int16", "int32", "uint8"):
                # The C++ side casts the double (or int64) directly; only exact values agree.
                assert torch.equal(tensor.reshape(-1).to(source.dtype), source), name
        elif isinstance(values, torch.Tensor):
            tensor = values.to(torch_dtype)
            if shape is not None:
                tensor = tensor.reshape(shape)
        else:
            source = torch.tensor(values, dtype=torch.float64 if floating else None)
            tensor = source.to(torch_dtype)
            if shape is not None:
                tensor = tensor.reshape(shape)

        merged = dict(DEFAULT_OPTIONS)
        merged.update(options)
        torch.set_printoptions(**merged)
        try:
            expected = str(tensor)
        finally:
            torch.set_printoptions(profile="default")

        case = {"name": name, "dtype": dtype, "shape": list(tensor.shape)}
        if pattern is not None:
            case["pattern"] = pattern
        else:
            flat = tensor.reshape(-1)
            flat = flat.to(torch.float64) if floating else flat
            case["values"] = [json_value(v) for v in flat.tolist()]
        stored = dict(merged)
        if stored["threshold"] == math.inf:
            stored["threshold"] = "inf"
        case["options"] = stored
        case["expected"] = expected
        self.cases.append(case)


def build(cases):
    g = torch.Generator().manual_seed(SEED)

    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * scale

    nan, inf = math.nan, math.inf

    # 0-d tensors
    for i, value in enumerate([3.5, -2.0, 0.0, -0.0, nan, inf, -inf, 1e-5, 123456789.0, 0.1, 1e9, 2.0**-30]):
        cases.add(f"scalar_float32_{i}", "float32", value)
    for dtype, value in [("float64", 0.1), ("float16", 1.5), ("bfloat16", -3.0), ("bool", True), ("uint8", 200),
                         ("int8", -7), ("int16", 1234), ("int32", -100000), ("int64", 2**40)]:
        cases.add(f"scalar_{dtype}", dtype, value)

    # 1-d, choosing the formatter's mode
    one_d = {
        "randn5": randn(5),
        "randn10_x100": randn(10, scale=100),
        "int_mode": [1.0, 2.0, 3.0],
        "int_mode_negative": [-1.0, 2.0, -30.0],
        "negative_zero": [-0.0, 1.0],
        "negative_zero_fraction": [-0.0, 1.5],
        "halves": [0.5, 1.5, -2.5],
        "tiny_and_one": [1e-5, 1.0],
        "at_1e-4": [1e-4, 1.0],
        "above_1e-4": [2e-4, 1.0],
        "huge_and_one": [1e9, 1.0],
        "ratio_1001_int": [1.0, 1001.0],
        "ratio_999_int": [1.0, 999.0],
        "ratio_over_1000_fraction": [0.5, 600.0],
        "int_above_1e8": [2e8, 3.0],
        "int_1e8": [1e8, 1e6],
        "nan_and_int": [nan, 1.0],
        "nonfinite_only": [inf, -inf, nan],
        "nan_and_fraction": [nan, 1.5],
        "inf_fraction_tiny": [inf, 2.5, 1e-6],
        "zeros": [0.0, 0.0, 0.0, 0.0],
        "all_nan": [nan, nan],
        "zero_nan_inf": [0.0, nan, inf],
        "tiny": [1e-10, 2e-10, -3e-10],
        "huge": [1e30, -1e30, 5.0],
        "float32_max": [3.4e38, -1.0],
        "subnormal": [1e-40, 1.0],
        "rounding": [0.00005, 0.99995, 1.00005],
        "big_fraction": [12345.678, 0.5],
        "neg_sci": [-1e-7, 5e-3],
        "mixed_int_nan_inf": [1.0, inf, -inf, nan, 100.0],
    }
    for name, values in one_d.items():
        cases.add(f"vector_{name}", "float32", values)
        cases.add(f"vector_{name}_float64", "float64", values)

    # 2-d to 4-d
    cases.add("matrix_randn", "float32", randn(3, 4))
    cases.add("matrix_x1e5", "float32", randn(2, 3, scale=1e5))
    cases.add("matrix_int_mode", "float32", torch.arange(12, dtype=torch.float64).reshape(3, 4) - 5)
    cases.add("matrix_sci", "float32", randn(3, 3, scale=1e-6))
    cases.add("matrix_one_row", "float32", randn(1, 5))
    cases.add("matrix_one_column", "float32", randn(5, 1))
    cases.add("cube_randn", "float32", randn(2, 3, 4))
    cases.add("cube_ones", "float32", torch.ones(2, 2, 2, dtype=torch.float64))
    cases.add("four_d_randn", "float32", randn(2, 2, 2, 3))
    cases.add("four_d_sci", "float64", randn(2, 1, 2, 2, scale=1e12))
    cases.add("five_d", "float32", randn(1, 2, 1, 2, 2))
    cases.add("matrix_with_nan", "float32", [[1.5, nan], [-inf, 2.25]])

    # rows that wrap at the line width
    cases.add("wrap_randn30", "float32", randn(30))
    cases.add("wrap_randn25_x1000", "float32", randn(25, scale=1000))
    cases.add("wrap_matrix", "float32", randn(3, 20))
    cases.add("wrap_arange40", "float32", torch.arange(40, dtype=torch.float64))
    cases.add("wrap_cube", "float32", randn(2, 2, 15))
    cases.add("wrap_sci", "float32", randn(20, scale=1e-7))
    cases.add("wrap_int64", "int64", torch.arange(50) * 1000)
    cases.add("wrap_bool", "bool", torch.arange(40) % 3 == 0)
    cases.add("wrap_float64_precision8", "float64", randn(15), precision=8)

    # summarized (more than threshold elements)
    cases.add("summary_1d", "float32", shape=[2000], pattern={"start": 0.0, "step": 0.25, "modulo": 2000})
    cases.add("summary_1d_hidden_large", "float32", shape=[2000],
              pattern={"start": 0.0, "step": 1.0, "modulo": 1500})
    cases.add("summary_1d_sci", "float32", shape=[1500], pattern={"start": 1e-5, "step": 0.5, "modulo": 1500})
    cases.add("summary_2d", "float32", shape=[40, 50], pattern={"start": -3.0, "step": 0.125, "modulo": 77})
    cases.add("summary_2d_wide_rows", "float32", shape=[2, 600], pattern={"start": 1.0, "step": 1.0, "modulo": 600})
    cases.add("summary_2d_narrow_rows", "float32", shape=[600, 2], pattern={"start": 0.5, "step": 1.0, "modulo": 9})
    cases.add("summary_3d", "float32", shape=[10, 10, 20], pattern={"start": -1.0, "step": 0.01, "modulo": 301})
    cases.add("summary_4d", "float32", shape=[4, 5, 6, 10], pattern={"start": 100.0, "step": -0.75, "modulo": 1000})
    cases.add("summary_4d_small_dims", "float32", shape=[2, 3, 2, 100],
              pattern={"start": 0.0, "step": 3.0, "modulo": 1200})
    cases.add("summary_float64", "float64", shape=[1001], pattern={"start": 0.1, "step": 0.1, "modulo": 1001})
    cases.add("summary_float16", "float16", shape=[30, 40], pattern={"start": -8.0, "step": 0.125, "modulo": 129})
    cases.add("summary_bfloat16", "bfloat16", shape=[1200], pattern={"start": 0.0, "step": 2.0, "modulo": 100})
    cases.add("summary_int64", "int64", shape=[50, 50], pattern={"start": -1000, "step": 7, "modulo": 400})
    cases.add("summary_int32", "int32", shape=[3000], pattern={"start": 0, "step": 1, "modulo": 3000})
    cases.add("summary_int8", "int8", shape=[1100], pattern={"start": -128, "step": 1, "modulo": 256})
    cases.add("summary_uint8", "uint8", shape=[20, 60], pattern={"start": 0, "step": 1, "modulo": 256})
    cases.add("summary_bool", "bool", shape=[1024], pattern={"start": 0, "step": 1, "modulo": 2})
    cases.add("summary_int_mode_float", "float32", shape=[1001], pattern={"start": 1.0, "step": 1.0, "modulo": 1001})
    cases.add("summary_zeros", "float32", shape=[1001], pattern={"start": 0.0, "step": 0.0, "modulo": 1})
    cases.add("summary_small_threshold", "float32", randn(10), threshold=5)
    cases.add("summary_small_threshold_2d", "float32", randn(8, 8), threshold=10)
    cases.add("summary_edgeitems1", "float32", randn(5, 6), threshold=10, edgeitems=1)
    cases.add("summary_edgeitems2_3d", "float32", randn(6, 6, 6), threshold=50, edgeitems=2)
    cases.add("summary_threshold_exact", "float32", randn(10), threshold=10)
    cases.add("summary_threshold_fraction", "float32", randn(10), threshold=9.5)
    cases.add("summary_hidden_nan", "float32", [1.0, 2.0, 3.0, nan, 1e-9, 4.0, 5.0, 6.0], threshold=4)
    cases.add("summary_wrap", "float32", randn(10, scale=1e4), threshold=5, linewidth=30)

    # threshold = inf (--full)
    cases.add("full_2000", "float32", shape=[2000], pattern={"start": 0.0, "step": 0.5, "modulo": 2000},
              threshold=math.inf)
    cases.add("full_2d", "float32", shape=[30, 40], pattern={"start": -2.0, "step": 0.25, "modulo": 41},
              threshold=math.inf)
    cases.add("full_small", "float32", randn(3, 3), threshold=math.inf)

    # precision
    for precision in (0, 1, 2, 8, 12):
        cases.add(f"precision{precision}_randn", "float32", randn(2, 3), precision=precision)
        cases.add(f"precision{precision}_sci", "float32", randn(4, scale=1e-6), precision=precision)
    cases.add("precision2_float64", "float64", [1 / 3, 2 / 3, 1.005], precision=2)
    cases.add("precision8_float64", "float64", [math.pi, math.e, -1e-3], precision=8)
    cases.add("precision8_int_mode", "float32", [1.0, 2.0, 1e4], precision=8)
    cases.add("precision2_summary", "float32", shape=[1200],
              pattern={"start": 0.001, "step": 0.375, "modulo": 1200}, precision=2)

    # line width
    cases.add("linewidth40", "float32", randn(20), linewidth=40)
    cases.add("linewidth120", "float32", randn(3, 30), linewidth=120)
    cases.add("linewidth10", "float32", randn(4), linewidth=10)
    cases.add("linewidth10_float64", "float64", randn(2, 2), linewidth=10)

    # every dtype
    cases.add("float64_randn", "float64", randn(2, 3))
    cases.add("float64_sci", "float64", randn(4, scale=1e20))
    cases.add("float16_randn", "float16", randn(2, 3))
    cases.add("float16_extremes", "float16", [65504.0, 6e-5, 1e-3, -2.0])
    cases.add("float16_inf", "float16", [inf, 1.0, nan])
    cases.add("float16_int_mode", "float16", [1.0, 2048.0])
    cases.add("bfloat16_randn", "bfloat16", randn(2, 3))
    cases.add("bfloat16_huge", "bfloat16", [1e30, -2.0, 0.0078125])
    cases.add("bool_values", "bool", [[True, False], [False, True]])
    cases.add("bool_all_false", "bool", [False] * 5)
    cases.add("uint8_values", "uint8", [0, 7, 255])
    cases.add("int8_values", "int8", [-128, 0, 127])
    cases.add("int16_values", "int16", [[-32768, 5], [32767, -1]])
    cases.add("int32_values", "int32", [-2147483648, 2147483647, 0])
    cases.add("int64_values", "int64", [2**62, -(2**63), 9])
    cases.add("int64_matrix", "int64", [[1, -22], [333, 4]])
    cases.add("int64_cube", "int64", torch.arange(24).reshape(2, 3, 4) - 12)

    # empty tensors
    for dtype in ("float32", "float64", "int64", "bool", "float16", "int32"):
        cases.add(f"empty_0_{dtype}", dtype, torch.zeros(0), shape=[0])
        cases.add(f"empty_0x3_{dtype}", dtype, torch.zeros(0, 3))
    cases.add("empty_2x0", "float32", torch.zeros(2, 0))
    cases.add("empty_0x0x2", "int64", torch.zeros(0, 0, 2))
    cases.add("empty_long_size", "bfloat16", torch.zeros(1000000, 0, 3, 7, 9, 11, 13, 17, 19, 23, 29, 31))

    # the dtype suffix moving to a line of its own when the last line is full
    for n in range(6, 12):
        cases.add(f"suffix_float64_{n}", "float64", randn(n))
    for n in range(7, 11):
        cases.add(f"suffix_int32_{n}", "int32", torch.arange(n) * 1234567)
    cases.add("suffix_float16_matrix", "float16", randn(2, 7))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "print_cases.json"))
    args = parser.parse_args()
    cases = Cases()
    build(cases)
    with open(args.out, "w") as out:
        out.write("[\n")
        out.write(",\n".join(json.dumps(case, allow_nan=False) for case in cases.cases))
        out.write("\n]\n")
    print(f"{len(cases.cases)} cases (torch {torch.__version__}) -> {args.out}")


if __name__ == "__main__":
    main()
