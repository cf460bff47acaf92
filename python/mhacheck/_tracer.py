"""mhacheck.trace: run a model once and record the calls mhacheck knows as a full-form spec.

Two mechanisms, both in PyTorch 1.13 and 2.x:
- a `torch.overrides.TorchFunctionMode` sees every torch function and tensor method the model's
  own code calls (`x.view(...)`, `a @ b` as `matmul`, `F.softmax`); calls made while it handles one
  (the function's internals) are not shown to it again;
- the known modules (nn.MultiheadAttention, the nn.Transformer* modules, Linear, LayerNorm,
  Embedding) get their `forward` wrapped per instance for the duration of the call, which sees
  keyword arguments too (1.13's forward hooks do not).
While a recorded module runs, nothing inside it is recorded. A recorded call PyTorch raises on is
kept with the error in its note, and where a shape rule gives its output (_stand_in.py) the run goes
on with a stand-in, so that the spec holds the calls after the bug too.
"""
import collections
import contextlib
import copy
import ctypes
import dis
import inspect
import math
import os
import sys
import weakref

import torch
from torch.overrides import TorchFunctionMode

from . import _modules, _stand_in
from ._spec import Spec, Shape
from ._symbols import DimNamer, choose_probes, second_probes, value_at

_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# Ops whose result has its input's values, shape and dtype: the result stands for the input.
_IDENTITY_OPS = {"detach", "to", "float", "double", "half", "bfloat16", "bool", "long", "int", "type_as", "requires_grad_"}


def _user_frame():
    """(frame, absolute file) of the innermost frame outside torch and this package, or (None, None)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        absolute = os.path.abspath(filename) if not filename.startswith("<") else filename
        if not absolute.startswith(_TORCH_DIR) and not absolute.startswith(_PACKAGE_DIR):
            return frame, absolute
        frame = frame.f_back
    return None, None


def _call_site():
    """(absolute file, line) of the innermost frame outside torch and this package."""
    frame, absolute = _user_frame()
    return (absolute, frame.f_lineno) if frame is not None else ("<unknown>", 0)


def _unpacked_names():
    """How many names the model's line unpacks the call's result into (`q, k, v = x.split(...)`),
    read from the instruction after the call in its bytecode; None when it does not unpack it."""
    frame, _ = _user_frame()
    if frame is None:
        return None
    for instruction in dis.get_instructions(frame.f_code):
        if instruction.offset <= frame.f_lasti or instruction.opname in ("CACHE", "EXTENDED_ARG"):
            continue
        return instruction.argval if instruction.opname == "UNPACK_SEQUENCE" else None
    return None


def _int_list(values):
    if len(values) == 1 and isinstance(values[0], (tuple, list, torch.Size)):
        values = tuple(values[0])
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return list(values)
    return None


def _plain_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# Each known function: (args, kwargs) -> (op, {argument: value}) with tensors left as tensors,
# or None when the call uses something mhacheck's operator does not take.
def _transpose(first, second):
    """transpose(input, dim0, dim1), and its aliases swapaxes (axis0, axis1) and swapdims."""
    def handler(args, kwargs):
        a = list(args) + [kwargs.get(first), kwargs.get(second)][len(args) - 1:]
        if len(a) != 3 or not (_plain_int(a[1]) and _plain_int(a[2])) or set(kwargs) - {first, second}:
            return None
        return "transpose", {"input": a[0], "dim0": a[1], "dim1": a[2]}
    return handler


def _dims_call(op):
    """An operator taking a tensor and its dims, as varargs or a list, or as the keyword dims:
    permute and flip."""
    def handler(args, kwargs):
        dims = _int_list(args[1:] if "dims" not in kwargs else (kwargs["dims"],))
        if dims is None or set(kwargs) - {"dims"}:
            return None
        return op, {"input": args[0], "dims": dims}
    return handler


def _reversed_dims(args, kwargs):
    """x.T reverses all dims (PyTorch 2.x: deprecated, but still so, on a tensor of ndim other than 2):
    transpose(0, 1) of a matrix, a permute of more dims; of fewer it is the tensor itself."""
    ndim = args[0].dim()
    if ndim < 2:
        return None
    if ndim == 2:
        return "transpose", {"input": args[0], "dim0": 0, "dim1": 1}
    return "permute", {"input": args[0], "dims": list(range(ndim - 1, -1, -1))}


def _matrix_transposed(args, kwargs):
    """x.mT (and x.mH: the spec's dtypes are real, so the conjugate is the tensor itself)."""
    return "transpose", {"input": args[0], "dim0": -2, "dim1": -1}


def _matrix_adjoint(args, kwargs):
    """x.H: a matrix's transpose; PyTorch refuses other ndims, left to raise as a traced call."""
    return ("transpose", {"input": args[0], "dim0": 0, "dim1": 1}) if args[0].dim() == 2 else None


def _reshape(op):
    def handler(args, kwargs):
        rest = args[1:] if "shape" not in kwargs and "size" not in kwargs else (kwargs.get("shape", kwargs.get("size")),)
        sizes = _int_list(rest) if rest else None
        if sizes is None or set(kwargs) - {"shape", "size"}:
            return None
        return op, {"input": args[0], "shape": sizes}
    return handler


def _unsqueeze(args, kwargs):
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if not _plain_int(dim) or set(kwargs) - {"dim"}:
        return None
    return "unsqueeze", {"input": args[0], "dim": dim}


def _squeeze(args, kwargs):
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if not (dim is None or _plain_int(dim)) or set(kwargs) - {"dim"}:
        return None
    return "squeeze", {"input": args[0], "dim": dim}


def _flatten(args, kwargs):
    a = list(args) + [None] * (3 - len(args))
    start = a[1] if a[1] is not None else kwargs.get("start_dim", 0)
    end = a[2] if a[2] is not None else kwargs.get("end_dim", -1)
    if not (_plain_int(start) and _plain_int(end)) or set(kwargs) - {"start_dim", "end_dim"}:
        return None
    return "flatten", {"input": args[0], "start_dim": start, "end_dim": end}


def _number(value):
    """A Python number as a spec writes it: JSON numbers, and strings for the infinities and NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _binary(op, numbers=False):
    """torch.OP(input, other); with `numbers`, other may also be a Python number (add, sub, mul,
    div). A reflected operator (2 * x) arrives as __rmul__(x, 2): only the commutative ones are
    recorded."""
    def handler(args, kwargs):
        other = args[1] if len(args) > 1 else kwargs.get("other")
        number = numbers and isinstance(other, (int, float)) and (not isinstance(other, float) or math.isfinite(other))
        allowed = {"other", "rounding_mode"} if op == "div" else {"other"}
        if not 1 <= len(args) <= 2 or not (isinstance(other, torch.Tensor) or number) or set(kwargs) - allowed:
            return None  # a third positional argument: add(x, 2, y), the deprecated x + 2 * y
        arguments = {"input": args[0], "other": other}
        if kwargs.get("rounding_mode") is not None:
            arguments["rounding_mode"] = kwargs["rounding_mode"]
        return op, arguments
    return handler


def _unary(op, allowed=(), defaults=None):
    """torch.OP(input) with keyword arguments mhacheck ignores only at their defaults (inplace=False,
    memory_format=None)."""
    def handler(args, kwargs):
        if len(args) != 1 or set(kwargs) - set(allowed) - set(defaults or {}):
            return None
        if any(kwargs.get(k, v) != v for k, v in (defaults or {}).items()):
            return None
        arguments = {"input": args[0]}
        arguments.update({k: kwargs[k] for k in allowed if k in kwargs})
        return op, arguments
    return handler


def _dropout(args, kwargs):
    names = ["input", "p", "training", "inplace"]
    if len(args) > len(names) or set(kwargs) - set(names):
        return None
    bound = dict(zip(names, args))
    bound.update(kwargs)
    if bound.pop("inplace", False):
        return None
    return "dropout", bound


def _drops(arguments):
    """F.dropout that zeroes elements: training (F.dropout's default; nn.Dropout passes its
    module's mode) and p > 0."""
    return bool(arguments.get("training", True)) and float(arguments.get("p", 0.5)) > 0


def _reduction(op):
    def handler(args, kwargs):
        names = ["input", "dim", "keepdim"]
        if len(args) > len(names) or set(kwargs) - set(names) - {"dtype"} or kwargs.get("dtype") is not None:
            return None
        bound = dict(zip(names, args))
        bound.update({k: v for k, v in kwargs.items() if k != "dtype"})
        dim = bound.get("dim")
        if isinstance(dim, (tuple, list)):
            if not all(_plain_int(d) for d in dim):
                return None
            bound["dim"] = list(dim)
        elif not (dim is None or _plain_int(dim)):
            return None
        return op, bound
    return handler


def _masked_fill(args, kwargs):
    a = list(args) + [kwargs.get("mask"), kwargs.get("value")][len(args) - 1:]
    if len(a) != 3 or not isinstance(a[1], torch.Tensor) or set(kwargs) - {"mask", "value"}:
        return None
    if not isinstance(a[2], (int, float)) or isinstance(a[2], bool):
        return None
    return "masked_fill", {"input": a[0], "mask": a[1], "value": _number(float(a[2]))}


def _where(args, kwargs):
    """torch.where(condition, input, other), or the method input.where(condition, other): told
    apart by which of the first two is the bool (or uint8) condition; input and other may be
    Python numbers. None when both could be the condition, or for where(condition) (nonzero)."""
    if kwargs or len(args) != 3:
        return None
    def is_condition(value):
        return isinstance(value, torch.Tensor) and value.dtype in (torch.bool, torch.uint8)
    first, second = is_condition(args[0]), is_condition(args[1])
    if first == second:
        return None
    condition, input, other = (args[0], args[1], args[2]) if first else (args[1], args[0], args[2])
    def operand(value):
        if isinstance(value, torch.Tensor):
            return value
        return _number(value) if isinstance(value, (int, float)) else None
    input, other = operand(input), operand(other)
    if input is None or other is None:
        return None
    return "where", {"condition": condition, "input": input, "other": other}


def _sizes(op, key):
    def handler(args, kwargs):
        sizes = _int_list(args[1:] if key not in kwargs else (kwargs[key],))
        if sizes is None or set(kwargs) - {key}:
            return None
        return op, {"input": args[0], key: sizes}
    return handler


def _repeat_interleave(args, kwargs):
    names = ["input", "repeats", "dim"]
    if len(args) > len(names) or set(kwargs) - set(names) - {"output_size"} or kwargs.get("output_size") is not None:
        return None
    bound = dict(zip(names, args))
    bound.update({k: v for k, v in kwargs.items() if k != "output_size"})
    if not _plain_int(bound.get("repeats")) or not (bound.get("dim") is None or _plain_int(bound["dim"])):
        return None
    return "repeat_interleave", bound


def _bmm(args, kwargs):
    """torch.bmm(input, mat2): its own operator, since it neither broadcasts nor takes other ranks."""
    other = args[1] if len(args) > 1 else kwargs.get("mat2")
    if len(args) < 1 or not isinstance(other, torch.Tensor) or set(kwargs) - {"mat2"}:
        return None
    return "bmm", {"input": args[0], "mat2": other}


def _einsum(args, kwargs):
    """torch.einsum(equation, *operands) or einsum(equation, [a, b]). The sublist form
    einsum(a, [0, 1], b, [1, 2]) is not read here: torch.einsum turns it into an equation and calls
    itself again, which is recorded."""
    if kwargs or not args or not isinstance(args[0], str):
        return None
    operands = args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]
    if not all(isinstance(t, torch.Tensor) for t in operands):
        return None
    return "einsum", {"equation": args[0], "operands": list(operands)}


def _softmax(args, kwargs):
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    dtype = args[3] if len(args) > 3 else kwargs.get("dtype")
    if not _plain_int(dim) or dtype is not None or set(kwargs) - {"dim", "dtype", "_stacklevel"}:
        return None
    return "softmax", {"input": args[0], "dim": dim}


def _cat(args, kwargs):
    tensors = args[0] if args else kwargs.get("tensors")
    dim = args[1] if len(args) > 1 else kwargs.get("dim", kwargs.get("axis", 0))
    if not isinstance(tensors, (list, tuple)) or not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        return None
    if not _plain_int(dim) or set(kwargs) - {"tensors", "dim", "axis"}:
        return None
    return "cat", {"tensors": list(tensors), "dim": dim}


def _index_item(item):
    if item is None:
        return "None"
    if item is Ellipsis:
        return "..."
    if _plain_int(item):
        return str(item)
    if isinstance(item, slice) and all(part is None or _plain_int(part) for part in (item.start, item.stop, item.step)):
        text = "{}:{}".format("" if item.start is None else item.start, "" if item.stop is None else item.stop)
        return text if item.step is None else "{}:{}".format(text, item.step)
    return None


def _split_index(text):
    return [part.strip() for part in text[1:-1].split(",") if part.strip()]


def _index_item_value(text):
    """An item of an index written by _index_item, back as a value: None (a new axis), ...,
    an int or a slice."""
    if text == "None":
        return None
    if text == "...":
        return Ellipsis
    if ":" not in text:
        return int(text)
    parts = [int(p) if p else None for p in text.split(":")]
    return slice(*parts)


def _smallest(expression):
    """The smallest size a symbol expression ("8*B", "8*B*T", "T+1", "T-1") takes, symbols being at
    least 1."""
    text = expression
    offset = 0
    for sign in ("+", "-"):
        if sign in text:
            text, _, number = text.partition(sign)
            offset = int(number) if sign == "+" else -int(number)
    head = text.partition("*")[0]
    coefficient = int(head) if head.isdigit() else 1
    return coefficient + offset


def _fits(item, smallest):
    """Whether an int or slice position holds on a dim of every size from `smallest` up."""
    if _plain_int(item):
        return item < smallest if item >= 0 else -item <= smallest
    if item is None or item is Ellipsis:
        return True
    start, stop, step = item.start, item.stop, item.step or 1
    if step != 1 and (stop is None or stop < 0 or (start or 0) < 0):
        return False  # a stepped slice of a symbolic length has no size a spec can write
    lowest_start = start if start is not None and start >= 0 else 0
    for bound, lowest in ((start, 0), (stop, lowest_start)):
        if bound is None:
            continue
        if bound > smallest:
            return False  # a bound up to the smallest size is inside the dim for every size
        if bound < 0 and smallest + bound < lowest:
            return False
    return True


def _getitem(args, kwargs):
    """x[...] with integers, slices, None and ...: the index as Python writes it, "[:, 0]"."""
    if len(args) != 2 or kwargs:
        return None
    index = args[1]
    items = [_index_item(item) for item in (index if isinstance(index, tuple) else (index,))]
    if not items or None in items:
        return None  # a tensor (advanced) index, or a bool: not modelled
    text = ", ".join(items) + ("," if isinstance(index, tuple) and len(items) == 1 else "")
    return "getitem", {"input": args[0], "index": "[" + text + "]"}


def _index_pairs(index, dims):
    """(position in the index, item value, the size of the dim it indexes) of each item of a getitem
    index that consumes a dim (not None, not ...)."""
    items = [_index_item_value(text) for text in _split_index(index)]
    consuming = [(i, item) for i, item in enumerate(items) if item is not None and item is not Ellipsis]
    if Ellipsis in items:
        k = sum(1 for item in items[:items.index(Ellipsis)] if item is not None)
        before, after = consuming[:k], consuming[k:]
        return [(i, item, size) for (i, item), size in list(zip(before, dims)) + list(zip(after, dims[len(dims) - len(after):]))]
    return [(i, item, size) for (i, item), size in zip(consuming, dims)]


def _max(args, kwargs):
    """torch.max(x) and torch.max(x, dim, keepdim=False), which returns (values, indices);
    torch.max(x, other), the elementwise maximum, is not modelled."""
    names = ["input", "dim", "keepdim"]
    if len(args) > len(names) or set(kwargs) - set(names[1:]):
        return None
    bound = dict(zip(names, args))
    bound.update(kwargs)
    dim = bound.get("dim")
    if dim is None:
        return ("max", {"input": args[0]}) if "keepdim" not in bound else None
    return ("max", bound) if _plain_int(dim) and isinstance(bound.get("keepdim", False), bool) else None


def _amax(args, kwargs):
    """torch.amax(x, dim=(), keepdim=False): () reduces every dim."""
    known = _reduction("amax")(args, kwargs)
    if known is not None and known[1].get("dim") is None:
        known[1]["dim"] = []
    return known


def _vector_norm(args, kwargs):
    """torch.linalg.vector_norm(x, ord=2, dim=None, keepdim=False) with a number ord."""
    names = ["input", "ord", "dim", "keepdim"]
    if len(args) > len(names) or set(kwargs) - set(names) - {"dtype"} or kwargs.get("dtype") is not None:
        return None
    bound = dict(zip(names, args))
    bound.update({k: v for k, v in kwargs.items() if k != "dtype"})
    return _norm_call(bound)


def _norm(args, kwargs):
    """Tensor.norm / torch.norm(x, p="fro", dim=None, keepdim=False): PyTorch 2.x computes a number
    p, and "fro" over at most two dims, as linalg.vector_norm(x, p, dim, keepdim)."""
    names = ["input", "p", "dim", "keepdim"]
    if len(args) > len(names) or set(kwargs) - set(names) - {"dtype"} or kwargs.get("dtype") is not None:
        return None
    bound = dict(zip(names, args))
    bound.update({k: v for k, v in kwargs.items() if k != "dtype"})
    p = bound.pop("p", "fro")
    dim = bound.get("dim")
    if p == "fro" and (dim is None or _plain_int(dim) or len(dim) <= 2):
        p = 2
    bound["ord"] = p
    return _norm_call(bound)


def _norm_call(bound):
    ord_ = bound.get("ord", 2)
    if isinstance(ord_, bool) or not isinstance(ord_, (int, float)) or math.isnan(ord_):
        return None
    known = _reduction("vector_norm")((bound["input"],), {k: v for k, v in bound.items() if k in ("dim", "keepdim")})
    if known is None:
        return None
    known[1]["ord"] = ("inf" if ord_ > 0 else "-inf") if math.isinf(ord_) else ord_
    return known


def _positional(op, names, defaults=None):
    """A function of plain integer arguments after its input, by position or keyword."""
    def handler(args, kwargs):
        if len(args) > len(names) + 1 or set(kwargs) - set(names):
            return None
        bound = dict(defaults or {})
        bound.update(zip(names, args[1:]))
        bound.update(kwargs)
        if set(bound) != set(names) or not all(_plain_int(bound[n]) for n in names):
            return None
        return op, dict({"input": args[0]}, **{n: bound[n] for n in names})
    return handler


def _split(args, kwargs):
    """torch.split / Tensor.split: an integer is split, a list of sizes split_with_sizes."""
    keys = {"split_size_or_sections", "split_size", "dim"}
    if len(args) > 3 or set(kwargs) - keys:
        return None
    sizes = args[1] if len(args) > 1 else kwargs.get("split_size_or_sections", kwargs.get("split_size"))
    dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    if not _plain_int(dim):
        return None
    if _plain_int(sizes):
        return "split", {"input": args[0], "split_size": sizes, "dim": dim}
    if isinstance(sizes, (list, tuple)) and all(_plain_int(s) for s in sizes):
        return "split_with_sizes", {"input": args[0], "split_sizes": list(sizes), "dim": dim}
    return None


def _split_with_sizes(args, kwargs):
    known = _split(args, {("split_size" if k == "split_sizes" else k): v for k, v in kwargs.items()})
    return known if known is not None and known[0] == "split_with_sizes" else None


_CASTS = {"float": torch.float32, "double": torch.float64, "half": torch.float16, "bfloat16": torch.bfloat16, "bool": torch.bool,
          "long": torch.int64, "int": torch.int32}


def _cast(op):
    """x.float(), x.half(), ...: a call when the dtype changes; one that does not returns x itself,
    which keeps its name (see _IDENTITY_OPS)."""
    def handler(args, kwargs):
        if len(args) != 1 or kwargs or not isinstance(args[0], torch.Tensor) or args[0].dtype == _CASTS[op]:
            return None
        return op, {"input": args[0]}
    return handler


def _to(args, kwargs):
    """x.to(dtype) / x.to(dtype=...): a call when the dtype changes. A device, another tensor,
    copy=True or a memory format is not modelled (`.to` that changes nothing keeps the name)."""
    dtype = args[1] if len(args) == 2 and not kwargs else kwargs.get("dtype") if len(args) == 1 and set(kwargs) == {"dtype"} else None
    if not isinstance(dtype, torch.dtype) or not isinstance(args[0], torch.Tensor) or args[0].dtype == dtype or dtype not in _SPEC_DTYPES:
        return None
    return "to", {"input": args[0], "dtype": _modules.dtype_name(dtype)}


def _pad(args, kwargs):
    """F.pad(x, pad, mode="constant", value=None) in the constant mode, with a finite value."""
    names = ["pad", "mode", "value"]
    if len(args) > 4 or set(kwargs) - set(names):
        return None
    bound = dict(zip(names, args[1:]))
    bound.update(kwargs)
    pad, value = bound.get("pad"), bound.get("value")
    if bound.get("mode", "constant") != "constant" or not isinstance(pad, (list, tuple)) or not all(_plain_int(p) for p in pad):
        return None
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
        return None
    call = {"input": args[0], "pad": list(pad)}
    if value is not None:
        call["value"] = value
    return "pad", call


def _stack(args, kwargs):
    """torch.stack(tensors, dim=0), as cat's arguments."""
    known = _cat(args, kwargs)
    return ("stack", known[1]) if known is not None else None


def _log_softmax(args, kwargs):
    known = _softmax(args, kwargs)
    return ("log_softmax", known[1]) if known is not None else None


def _bound(names, args, kwargs, required):
    """The arguments by name, positional or keyword; None for an unknown keyword or a missing one."""
    if len(args) > len(names) or set(kwargs) - set(names):
        return None
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound if all(n in bound for n in required) else None


def _functional_layer_norm(args, kwargs):
    """F.layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5)."""
    bound = _bound(["input", "normalized_shape", "weight", "bias", "eps"], args, kwargs, ["input", "normalized_shape"])
    if bound is None:
        return None
    shape = _int_list((bound["normalized_shape"],))
    if shape is None:
        return None
    bound["normalized_shape"] = shape
    return "layer_norm", {k: v for k, v in bound.items() if v is not None}


def _functional_linear(args, kwargs):
    """F.linear(input, weight, bias=None) with a weight (and bias) that is no nn.Linear's own pair:
    Swin v2's qkv with its cloned bias whose key third is zeroed, a weight made in forward. The
    own pair of a recorded nn.Linear is that module's call (Tracer._linear_module)."""
    bound = _bound(["input", "weight", "bias"], args, kwargs, ["input", "weight"])
    if bound is None or not isinstance(bound["weight"], torch.Tensor):
        return None
    if bound.get("bias") is None:
        bound.pop("bias", None)
    elif not isinstance(bound["bias"], torch.Tensor):
        return None
    return "linear", bound


def _normalize(args, kwargs):
    """F.normalize(input, p=2.0, dim=1, eps=1e-12, out=None) with a number p."""
    bound = _bound(["input", "p", "dim", "eps", "out"], args, kwargs, ["input"])
    if bound is None or bound.pop("out", None) is not None or not _plain_int(bound.get("dim", 1)):
        return None
    p = bound.get("p", 2.0)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
        return None
    bound["p"] = float(p)
    return "normalize", bound


def _as_other(op):
    def handler(args, kwargs):
        other = args[1] if len(args) > 1 else kwargs.get("other")
        if len(args) > 2 or set(kwargs) - {"other"} or not isinstance(other, torch.Tensor):
            return None
        return op, {"input": args[0], "other": other}
    return handler


def _clamp(op):
    """torch.clamp(input, min=None, max=None) / clamp_min(input, min) with Python numbers."""
    names = ["input", "min", "max"] if op == "clamp" else ["input", "min"]
    def handler(args, kwargs):
        bound = _bound(names, args, kwargs, ["input"])
        if bound is None:
            return None
        numbers = {k: v for k, v in bound.items() if k != "input" and v is not None}
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in numbers.values()):
            return None
        return op, dict({"input": bound["input"]}, **numbers)
    return handler


def _pow(args, kwargs):
    """torch.pow(input, exponent) and `x ** e`: a tensor or a finite number exponent."""
    bound = _bound(["input", "exponent"], args, kwargs, ["input", "exponent"])
    if bound is None or not isinstance(bound["input"], torch.Tensor):
        return None
    e = bound["exponent"]
    if not isinstance(e, torch.Tensor) and (not isinstance(e, (int, float)) or (isinstance(e, float) and not math.isfinite(e))):
        return None
    return "pow", bound


def _arg_reduction(op):
    def handler(args, kwargs):
        bound = _bound(["input", "dim", "keepdim"], args, kwargs, ["input"])
        if bound is None or not (bound.get("dim") is None or _plain_int(bound["dim"])) or not isinstance(bound.get("keepdim", False), bool):
            return None
        return op, bound
    return handler


def _min(args, kwargs):
    known = _max(args, kwargs)
    return ("min", known[1]) if known is not None else None


def _cumsum(args, kwargs):
    bound = _bound(["input", "dim", "dtype"], args, kwargs, ["input", "dim"])
    if bound is None or bound.pop("dtype", None) is not None or not _plain_int(bound["dim"]):
        return None
    return "cumsum", bound


def _dtype_keyword(kwargs, call):
    """A constructor's dtype keyword, written when given; device, layout and requires_grad at their
    defaults only. False when the call uses something else."""
    if set(kwargs) - {"dtype", "device", "requires_grad", "layout", "pin_memory"}:
        return False
    if kwargs.get("requires_grad") or kwargs.get("layout") not in (None, torch.strided) or kwargs.get("pin_memory"):
        return False
    dtype = kwargs.get("dtype")
    if dtype is not None:
        if dtype not in _SPEC_DTYPES:
            return False
        call["dtype"] = _modules.dtype_name(dtype)
    return True


def _factory(op):
    """torch.ones(*size), zeros(*size), full(size, fill_value): sizes as the tracer names them."""
    def handler(args, kwargs):
        rest = dict(kwargs)
        fill = None
        if op == "full":
            if len(args) == 2:
                fill = args[1]
            elif "fill_value" in rest:
                fill = rest.pop("fill_value")
            else:
                return None
            args = args[:1]
            if isinstance(fill, torch.Tensor) or not isinstance(fill, (int, float)):
                return None
        sizes = _int_list(args if "size" not in rest else (rest.pop("size"),))
        call = {"size": sizes}
        if sizes is None or not _dtype_keyword(rest, call):
            return None
        if op == "full":
            call["fill_value"] = _number(fill)
        return op, call
    return handler


def _factory_like(op):
    def handler(args, kwargs):
        rest = dict(kwargs)
        call = {"input": args[0]}
        if op == "full_like":
            fill = args[1] if len(args) > 1 else rest.pop("fill_value", None)
            if isinstance(fill, torch.Tensor) or not isinstance(fill, (int, float)):
                return None
            call["fill_value"] = _number(fill)
        elif len(args) > 1:
            return None
        if rest.pop("memory_format", torch.preserve_format) != torch.preserve_format or not _dtype_keyword(rest, call):
            return None
        return op, call
    return handler


def _new_factory(op):
    def handler(args, kwargs):
        rest = dict(kwargs)
        sizes = _int_list(args[1:] if "size" not in rest else (rest.pop("size"),))
        call = {"input": args[0], "size": sizes}
        if sizes is None or not _dtype_keyword(rest, call):
            return None
        return op, call
    return handler


def _arange(args, kwargs):
    """torch.arange(end), arange(start, end, step=1): numbers, an int end named as a size."""
    rest = dict(kwargs)
    positional = list(args)
    names = ["start", "end", "step"] if len(positional) > 1 else ["end"]
    bound = dict(zip(names, positional))
    for key in ("start", "end", "step"):
        if key in rest:
            bound[key] = rest.pop(key)
    call = {}
    if "end" not in bound or not _dtype_keyword(rest, call):
        return None
    if any(isinstance(v, (bool, torch.Tensor)) or not isinstance(v, (int, float)) for v in bound.values()):
        return None
    call.update(bound)
    return "arange", call


def _eye(args, kwargs):
    rest = dict(kwargs)
    bound = dict(zip(["n", "m"], args))
    for key in ("n", "m"):
        if key in rest:
            bound[key] = rest.pop(key)
    call = {}
    if "n" not in bound or not all(_plain_int(v) for v in bound.values() if v is not None) or not _dtype_keyword(rest, call):
        return None
    call.update({k: v for k, v in bound.items() if v is not None})
    return "eye", call


# The ops that return several tensors, one output each.
_SPLITTING = ("split", "split_with_sizes", "chunk", "unbind")


_SDPA_ARGUMENTS = ["query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa"]


def _sdpa(args, kwargs):
    if len(args) > len(_SDPA_ARGUMENTS) or set(kwargs) - set(_SDPA_ARGUMENTS):
        return None
    bound = dict(zip(_SDPA_ARGUMENTS, args))
    bound.update(kwargs)
    return "scaled_dot_product_attention", {k: v for k, v in bound.items() if v is not None}


_FUNCTIONS = {
    "transpose": _transpose("dim0", "dim1"),
    "swapaxes": _transpose("axis0", "axis1"),
    "swapdims": _transpose("dim0", "dim1"),
    "permute": _dims_call("permute"),
    # The tensor properties, seen as their getter (named by _property_name).
    "T": _reversed_dims,
    "mT": _matrix_transposed,
    "mH": _matrix_transposed,
    "H": _matrix_adjoint,
    "reshape": _reshape("reshape"),
    "view": _reshape("view"),
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "flatten": _flatten,
    "add": _binary("add", True),
    "__add__": _binary("add", True),
    "__radd__": _binary("add", True),
    "sub": _binary("sub", True),
    "__sub__": _binary("sub", True),
    "mul": _binary("mul", True),
    "__mul__": _binary("mul", True),
    "__rmul__": _binary("mul", True),
    "div": _binary("div", True),
    "__truediv__": _binary("div", True),
    "__div__": _binary("div", True),
    "eq": _binary("eq", True),
    "__eq__": _binary("eq", True),
    "ne": _binary("ne", True),
    "__ne__": _binary("ne", True),
    "gt": _binary("gt", True),
    "__gt__": _binary("gt", True),
    "ge": _binary("ge", True),
    "__ge__": _binary("ge", True),
    "lt": _binary("lt", True),
    "__lt__": _binary("lt", True),
    "le": _binary("le", True),
    "__le__": _binary("le", True),
    "logical_and": _binary("logical_and"),
    "logical_or": _binary("logical_or"),
    "bitwise_and": _binary("bitwise_and", True),
    "__and__": _binary("bitwise_and", True),
    "__rand__": _binary("bitwise_and", True),
    "bitwise_or": _binary("bitwise_or", True),
    "__or__": _binary("bitwise_or", True),
    "__ror__": _binary("bitwise_or", True),
    "logical_not": _unary("logical_not"),
    "bitwise_not": _unary("bitwise_not"),
    "__invert__": _unary("bitwise_not"),
    "contiguous": _unary("contiguous", defaults={"memory_format": torch.contiguous_format}),
    "clone": _unary("clone", defaults={"memory_format": torch.preserve_format}),
    "dropout": _dropout,
    "relu": _unary("relu", defaults={"inplace": False}),
    "gelu": _unary("gelu", allowed=("approximate",)),
    "silu": _unary("silu", defaults={"inplace": False}),
    "tanh": _unary("tanh"),
    "sigmoid": _unary("sigmoid"),
    **{name: _unary(name) for name in ("exp", "log", "sqrt", "rsqrt", "sin", "cos", "neg", "abs")},
    "__neg__": _unary("neg"),
    "__abs__": _unary("abs"),
    "sum": _reduction("sum"),
    "mean": _reduction("mean"),
    "max": _max,
    "amax": _amax,
    "logsumexp": _reduction("logsumexp"),
    "linalg_vector_norm": _vector_norm,
    "norm": _norm,
    "masked_fill": _masked_fill,
    "where": _where,
    "expand": _sizes("expand", "size"),
    "repeat": _sizes("repeat", "repeats"),
    "repeat_interleave": _repeat_interleave,
    "matmul": _binary("matmul"),
    "__matmul__": _binary("matmul"),
    "bmm": _bmm,
    "einsum": _einsum,
    "softmax": _softmax,
    "cat": _cat,
    "concat": _cat,
    "scaled_dot_product_attention": _sdpa,
    "to": _to,
    **{name: _cast(name) for name in _CASTS},
    "tril": _positional("tril", ["diagonal"], defaults={"diagonal": 0}),
    "triu": _positional("triu", ["diagonal"], defaults={"diagonal": 0}),
    "pad": _pad,
    "__getitem__": _getitem,
    "select": _positional("select", ["dim", "index"]),
    "narrow": _positional("narrow", ["dim", "start", "length"]),
    "split": _split,
    "split_with_sizes": _split_with_sizes,
    "chunk": _positional("chunk", ["chunks", "dim"], defaults={"dim": 0}),
    "stack": _stack,
    "unbind": _positional("unbind", ["dim"], defaults={"dim": 0}),
    "log_softmax": _log_softmax,
    "layer_norm": _functional_layer_norm,
    "linear": _functional_linear,
    "normalize": _normalize,
    "expand_as": _as_other("expand_as"),
    "view_as": _as_other("view_as"),
    "reshape_as": _as_other("reshape_as"),
    "clamp": _clamp("clamp"),
    "clip": _clamp("clamp"),
    "clamp_min": _clamp("clamp_min"),
    "pow": _pow,
    "__pow__": _pow,
    "argmax": _arg_reduction("argmax"),
    "argmin": _arg_reduction("argmin"),
    "min": _min,
    "cumsum": _cumsum,
    "flip": _dims_call("flip"),
    "ones": _factory("ones"),
    "zeros": _factory("zeros"),
    "full": _factory("full"),
    "ones_like": _factory_like("ones_like"),
    "zeros_like": _factory_like("zeros_like"),
    "full_like": _factory_like("full_like"),
    "new_ones": _new_factory("new_ones"),
    "new_zeros": _new_factory("new_zeros"),
    "arange": _arange,
    "eye": _eye,
}


# The recorded ops that move elements without computing (any dtype replays), and the dtypes
# `mhacheck run` computes in.
_MOVING_OPS = {"transpose", "permute", "reshape", "view", "unsqueeze", "squeeze", "flatten", "cat", "getitem", "select",
               "narrow", "contiguous", "clone", "dropout", "expand", "repeat", "repeat_interleave", "to", *_CASTS, "tril", "triu",
               "pad", "unbind"}
# The mask inversions and combinations give bool (or their integer type), which `run` computes exactly.
_EXACT_OPS = {"eq", "ne", "gt", "ge", "lt", "le", "logical_not", "bitwise_not", "logical_and", "logical_or", "bitwise_and", "bitwise_or",
              "ones", "zeros", "full", "ones_like", "zeros_like", "full_like", "new_ones", "new_zeros", "arange", "eye", "flip",
              "expand_as", "view_as", "reshape_as", "stack", "argmax", "argmin"}
_RUN_DTYPES = (torch.float32, torch.float64)
# The dtypes a spec can declare (spec-format.md); complex and quantized tensors are not among them.
_SPEC_DTYPES = {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.bool, torch.uint8, torch.int8,
                torch.int16, torch.int32, torch.int64}


def _property_name(func):
    """The property's name ("T") when func is the getter of a tensor property (x.T), else None."""
    descriptor = getattr(func, "__self__", None)
    if getattr(func, "__name__", "") != "__get__" or not isinstance(getattr(descriptor, "__objclass__", None), type):
        return None
    return descriptor.__name__ if issubclass(descriptor.__objclass__, torch._C._TensorBase) else None


def _tensors_in(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors_in(item)]
    return []


def _ints_in(values):
    """The plain integers among `values` and in their lists and tuples, in order."""
    ints = []
    for value in values:
        if _plain_int(value):
            ints.append(value)
        elif isinstance(value, (list, tuple)):
            ints += _ints_in(value)
    return ints


def _snapshot(tensor):
    """The tensor's values now: a copy, since numpy() of a CPU tensor shares its memory and a later
    in-place op (`qkv_bias[n:2 * n].zero_()`) would change what the call produced. None for a
    dtype numpy has not (bfloat16): such a tensor is declared by shape and dtype only, which
    `mhacheck run` could not compute in anyway (MHA104)."""
    if tensor.dtype not in _NUMPY_DTYPES:
        return None
    return tensor.detach().cpu().numpy().copy()


_NUMPY_DTYPES = _SPEC_DTYPES - {torch.bfloat16}


def _memory(tensor):
    """The address of the memory holding the tensor's values; 0 where there is none (meta)."""
    with torch._C.DisableTorchFunction():
        if hasattr(tensor, "untyped_storage"):  # PyTorch 2.x
            return tensor.untyped_storage().data_ptr()
        return tensor.storage().data_ptr()  # 1.13


def _in_place(name):
    """An op that writes into its first argument's values: `zero_`, `masked_fill_`, `x[...] = v`,
    `x += y`; not one that only sets a flag (`requires_grad_`, `share_memory_`)."""
    if name in _IDENTITY_OPS or name in _FLAG_SETTERS:
        return False
    return (name.endswith("_") and not name.startswith("_")) or name in _IN_PLACE_OPERATORS


# The in-place forms of the activations mhacheck has: x.relu_(), torch.relu_(x), ...
_IN_PLACE_ACTIVATIONS = {"relu_": "relu", "sigmoid_": "sigmoid", "tanh_": "tanh"}


_SIGNATURES = {}  # function -> its inspect.Signature, or None for a builtin without one


def _inplace_argument(func, args, kwargs):
    """Whether the call passes `inplace=True`, by keyword or by position (F.relu(x, True); 1.13's
    and 2.x's torch.nn.functional hand it on as a keyword, a function of the user's may not)."""
    if kwargs.get("inplace") is True:
        return True
    if func not in _SIGNATURES:
        try:
            _SIGNATURES[func] = inspect.signature(func)
        except (TypeError, ValueError):  # a builtin without a signature takes no `inplace`
            _SIGNATURES[func] = None
    signature = _SIGNATURES[func]
    if signature is None or "inplace" not in signature.parameters:
        return False
    try:
        return signature.bind(*args, **kwargs).arguments.get("inplace") is True
    except TypeError:
        return False


_IN_PLACE_OPERATORS = {"__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__",
                       "__ipow__", "__imatmul__"}
_FLAG_SETTERS = {"share_memory_", "detach_"}


def _identifier(text):
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in text)
    return name if name and not name[0].isdigit() else "t_" + name


# CPython's PyTypeObject.tp_as_sequence, in pointers, and PySequenceMethods.sq_item/sq_ass_item.
_AS_SEQUENCE_FIELD = 13
_TYPE_NAME_FIELD = 3  # PyTypeObject.tp_name, checked before anything is written
_SEQUENCE_ITEM_FIELDS = (3, 5)


def _sequence_slots():
    """Assigning __getitem__/__setitem__ on a class fills its C sequence slots (sq_item,
    sq_ass_item) as well as its mapping ones, and neither deleting the attribute nor assigning
    the original back empties them again (CPython keeps a slot it cannot attribute to one of
    two filled duplicates). A tensor then passes PySequence_Check, and torch.tensor([a, b]) of
    0-d tensors raises "len() of a 0-d tensor", during the trace and after it. So the tracer
    saves these slots of torch.Tensor and its subclasses (all heap types) and writes them back:
    indexing goes through the mapping slots, which reach the tracer's functions."""
    if sys.implementation.name != "cpython":
        return {}
    word = ctypes.sizeof(ctypes.c_void_p)
    saved = {}
    classes = [torch.Tensor]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if not cls.__flags__ & (1 << 9):  # Py_TPFLAGS_HEAPTYPE: its slot tables are its own
            continue
        if ctypes.c_char_p.from_address(id(cls) + _TYPE_NAME_FIELD * word).value != cls.__name__.encode():
            return {}  # not the layout assumed here (a debug or free-threaded build): touch nothing
        methods = ctypes.c_void_p.from_address(id(cls) + _AS_SEQUENCE_FIELD * word).value
        if methods:
            for field in _SEQUENCE_ITEM_FIELDS:
                address = methods + field * word
                saved[address] = ctypes.c_void_p.from_address(address).value
    return saved


def _restore_sequence_slots(saved):
    for address, value in saved.items():
        ctypes.c_void_p.from_address(address).value = value


class _Tracer(TorchFunctionMode):
    def __init__(self, namer, values, parameter_names, second=None, recording=None):
        super().__init__()
        self.namer = namer
        # The run at the second probes: `recording` (a _SecondRun) while this is that run, which
        # it fills; `second` (the filled one) while this is the run the spec comes from.
        self.second = second
        self.recording = recording
        self.occurrences = {}  # op or module name -> how many of its calls this run has made
        self.varying = {}  # id(tensor) -> per dim, whether the second run had another size (this call's)
        self.varying_ints = []  # per integer argument of this call, whether the second run had another
        self.declared_numbers = set()  # every number in a declared tensor's shape (see _unread)
        self.values = values
        self.parameter_names = parameter_names  # id(tensor) -> "encoder.pos_embedding"
        self.depth = 0
        self.refs = {}  # id(tensor) -> name in the spec (declared tensor or call output)
        self.origins = {}  # id(tensor) -> (op, file, line) for outputs of ops mhacheck does not model
        # id(tensor) -> {size: reading} that a reshape established (see _merged_reading) for the
        # tensors computed from its output, and for those only
        self.readings = {}
        # id(tensor) -> weak reference, for every tensor named in refs, origins or readings: when the tensor
        # dies its entries go (its id may be reused), and nothing here keeps activations alive.
        self.alive = {}
        self.tensors = {}  # declared tensors: name -> entry (shape, dtype, note)
        # Every name declared or output so far, kept as they are added: recomputing it from
        # tensors and calls at each declaration made a trace quadratic in its number of calls.
        self.taken = set()
        self.arrays = {}  # name -> numpy array (values=True): declared tensors and weights
        self.expected = {}  # output name -> numpy array (values=True)
        self.modules = {}  # spec module name -> entry
        self.linear_weights = {}  # id(weight) -> the recorded nn.Linear it belongs to
        self.ones = {}  # dtype -> the declared 0-D tensor holding 1 (see _reflected_div)
        self.wrappers = {}  # id(module) -> the tracer's forward for it (see wrap)
        self.calls = []
        self.counts = {}
        self.error_recorded = False
        self.raised = None  # the first error a stand-in output stepped over (_run_recorded)
        self.first_raised_at = None  # the index in calls of the first call PyTorch raised on
        self.pending_index = None  # "single" (x[i] indexed as x[(i,)]) or "tuple" while an index runs
        self.saved_indexing = {}  # "__getitem__"/"__setitem__" -> torch.Tensor's own (None: inherited)
        self.saved_sequence_slots = {}  # address -> value: see _sequence_slots

    # ---- names -------------------------------------------------------------------------
    def _unique(self, base, used):
        if base not in used:
            return base
        n = 2
        while f"{base}_{n}" in used:
            n += 1
        return f"{base}_{n}"

    def _taken(self):
        """The names in use (declared tensors and call outputs): the live set, which a caller
        may add the names it is about to give out to."""
        return self.taken

    def _call_id(self, base):
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return base if n == 0 else f"{base}#{n + 1}"

    def symbolic_shape(self, shape):
        dims, notes = [], []
        for size in shape:
            dim, note = self.namer.name(int(size))
            dims.append(dim)
            if note:
                notes.append(note)
        return dims, notes

    def _track(self, tensor):
        key = id(tensor)
        if key not in self.alive:
            self.alive[key] = weakref.ref(tensor, lambda _, key=key: self._forget(key))

    def _forget(self, key):
        self.alive.pop(key, None)
        self.refs.pop(key, None)
        self.origins.pop(key, None)
        self.readings.pop(key, None)

    @contextlib.contextmanager
    def _reading_scope(self, inputs):
        """While a call is handled, the namer reads sizes with the readings that its input
        tensors carry (a reshape's 6*B is that product in the tensors computed from it, not in an
        unrelated dim of the same number); a reading the call establishes joins them. Its output
        tensors, given by the caller to `carry`, then carry them all."""
        outer = self.namer.established
        self.namer.established = {}
        for tensor in inputs:
            self.namer.established.update(self.readings.get(id(tensor), {}))

        def carry(outputs):
            if not self.namer.established:
                return
            for tensor in _tensors_in(outputs):
                self.readings[id(tensor)] = {**self.readings.get(id(tensor), {}), **self.namer.established}
                self._track(tensor)

        try:
            yield carry
        finally:
            self.namer.established = outer

    def declare(self, tensor, name, note=None):
        name = self._unique(_identifier(name), self._taken())
        dims, dim_notes = self.symbolic_shape(tensor.shape)
        entry = {"shape": dims, "dtype": _modules.dtype_name(tensor.dtype)}
        if not tensor.is_contiguous():
            # An unrecorded op's output (movedim, as_strided, an in-place transpose_): mhacheck
            # cannot know its strides, and must not take it as contiguous before a view.
            entry["contiguous"] = False
        self.declared_numbers.update(d for d in dims if isinstance(d, int))
        notes = ([note] if note else []) + dim_notes
        if notes:
            entry["note"] = "; ".join(notes)
        self.tensors[name] = entry
        self.taken.add(name)
        self.refs[id(tensor)] = name
        self._track(tensor)
        values = _snapshot(tensor) if self.values else None
        if values is not None:
            self.arrays[name] = values
        return name

    def ref(self, tensor):
        """The spec name of `tensor`, declaring it when no recorded call made it."""
        name = self.refs.get(id(tensor))
        if name is not None:
            return name
        origin = self.origins.get(id(tensor))
        if origin is not None:
            op, file, line = origin
            return self.declare(tensor, f"{op.strip('_')}_out",
                                f"made by torch {op} at {file}:{line}, which mhacheck does not model")
        parameter = self.parameter_names.get(id(tensor))
        if parameter is not None:
            return self.declare(tensor, parameter, f"the model's tensor {parameter}")
        file, line = _call_site()
        return self.declare(tensor, "tensor", f"a tensor made before tracing or outside torch, first used at {file}:{line}")

    def _outputs(self, call_id, results, count):
        # Named after the call, unless a declared tensor or an earlier output has that name: a
        # module attribute `v` called on the forward's input `v` (vs = self.v(v)) must not define
        # "v" twice (MHA003).
        names = []
        taken = self._taken()
        for i, result in enumerate(results[:count]):
            if not isinstance(result, torch.Tensor):
                break
            name = self._unique(call_id if i == 0 else f"{call_id}.{i}", taken)
            taken.add(name)
            names.append(name)
            self.refs[id(result)] = name
            self._track(result)
            values = _snapshot(result) if self.values else None
            if values is not None:
                self.expected[name] = values
        return names

    def _run_recorded(self, run, make_call, source, stand_in=None):
        """run() for a call being recorded, with nothing inside it recorded; when it raises (the bug
        being hunted), the call `make_call()` makes is recorded with PyTorch's error. Then, when
        `stand_in()` gives (the call's return value, its tensors) of the shapes the call makes when
        valid (_stand_in.py), the run goes on with them as a _StoodIn, so that the spec holds the
        calls after the bug too; otherwise the error goes on."""
        self.depth += 1
        try:
            return run()
        except Exception as error:
            # Only the first error is stepped over: a later one mostly follows from it (the same bug
            # repeated in the next layer, or the stand-in's layout), and a spec holding several such
            # errors leaves the first one's fix unverifiable (it does not remove the others).
            substitute = stand_in() if stand_in is not None and not self.values and self.raised is None else None
            call = make_call()
            if substitute is None:
                self._record(call, source, (), error, 0)
                raise
            returned, results = substitute
            self._record(call, source, results, error, len(results))
            if self.raised is None:
                self.raised = error
            return _StoodIn(returned)
        finally:
            self.depth -= 1

    def _record(self, call, source, results, error, count):
        file, line = source
        if line > 0 and not file.startswith("<"):
            call["source"] = f"{file}:{line}"
        if error is not None:
            call["note"] = f"PyTorch raised {type(error).__name__}: {error}" + self._raised_at()
            if results:
                shapes = ", ".join(str(tuple(self.symbolic_shape(t.shape)[0])).replace("'", "") for t in results[:count])
                call["note"] += (f"; the trace went on with a stand-in output of zeros shaped {shapes}, PyTorch's shape "
                                 f"rule with a mismatched size read from the first operand")
            self.error_recorded = True
            if self.first_raised_at is None:
                self.first_raised_at = len(self.calls)
        outputs = self._outputs(call["id"], results, count)
        if outputs:
            call["outputs"] = outputs
            self.taken.update(outputs)
        self.calls.append(call)

    def _raised_at(self):
        """The probe sizes PyTorch raised at, which the spec does not bind (see _trace_at)."""
        probes = self.namer.probes
        return f" (traced at {', '.join(f'{k}={v}' for k, v in probes.items())})" if probes else ""

    def _arguments(self, arguments):
        out = {}
        for key, value in arguments.items():
            if isinstance(value, torch.Tensor):
                out[key] = self.ref(value)
            elif isinstance(value, list) and value and all(isinstance(v, torch.Tensor) for v in value):
                out[key] = [self.ref(v) for v in value]
            else:
                out[key] = value
        return out

    def _size_list(self, sizes, merged_from=None):
        """reshape/view/expand/repeat sizes as symbol expressions (view(B*T, C) as ["B*T", "C"]).
        `merged_from`: a reshape's input dims as the spec writes them, for _merged_reading."""
        named, notes = [], []
        for size in sizes:
            if size == -1:
                named.append(-1)
                continue
            dim, note = self.namer.name(size)
            if isinstance(dim, int) and merged_from is not None:
                dim = self._merged_reading(size, merged_from) or dim
            named.append(dim)
            if note:
                notes.append(note)
        return named, notes

    def _merged_reading(self, size, dims):
        """A size that reads as a probe expression ("6*B") which the second run did not confirm,
        but which is the product of consecutive input dims as the spec writes them: Swin's
        reshape(B * num_windows, 49, C) of (B, 2, 3, 7, 7, C) at a symbolic image size, where the
        window counts are numbers the spec declares (they follow H and W in a way no spec dim can
        write), so that in the spec the merged size is 6*B. Written as a number, it would meet
        the 6*B that the check derives on another path (attn.view(-1, heads, N, N)) and get a
        false MHA080 "valid only if B == 43". Once so read, the size reads so in the tensors
        computed from the reshape's output (the Linear's output, the qkv reshape's x.size(0)), and
        only there (_reading_scope): another dim of the same number is no such product."""
        reading = self.namer.monomial(size)
        if reading is None:
            return None
        terms = _dim_terms(reading)
        for start in range(len(dims)):
            coefficient, factors = 1, []
            for dim in dims[start:]:
                c, f, offset = _dim_terms(dim)
                if offset and f:
                    break  # T+1 merges into no monomial
                coefficient *= c if f else offset
                factors += f
                if factors and (coefficient, tuple(sorted(factors)), 0) == terms:
                    self.namer.established[size] = reading  # in this call's scope: the tensors made from it carry it
                    return reading
        return None

    # ---- the mode ----------------------------------------------------------------------
    def __enter__(self):
        self._index_through_mode()
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            for name, saved in self.saved_indexing.items():
                if saved is None:
                    delattr(torch.Tensor, name)
                else:
                    setattr(torch.Tensor, name, saved)
            _restore_sequence_slots(self.saved_sequence_slots)

    def _index_through_mode(self):
        """PyTorch 1.13 shows a TorchFunctionMode `x[:, 0]` but not `x[0]` (an index that is not a
        tuple) nor an index holding a tensor (`table[index]`), so `q, k, v = qkv[0], qkv[1], qkv[2]`
        would cut the graph. While tracing, torch.Tensor indexes with the one-element tuple instead
        (the same index), and an index the mode still did not see is an op mhacheck does not
        model. 2.x shows every index to the mode. Likewise `x[i] = v`, which the mode may not
        see either, always makes x a new value."""
        tracer = self
        self.saved_indexing = {name: torch.Tensor.__dict__.get(name) for name in ("__getitem__", "__setitem__")}
        index_with = torch.Tensor.__getitem__
        assign_with = torch.Tensor.__setitem__

        def getitem(tensor, index):
            if tracer.depth > 0 or not torch._C._is_torch_function_mode_enabled():
                # Not traced here (inside a recorded call, or inside the handling of a call the mode
                # saw, where PyTorch switches the mode off): PyTorch's own indexing, nothing noted.
                return index_with(tensor, index)
            single = not isinstance(index, (tuple, list))  # a list is an advanced index, not a tuple
            tracer.pending_index = "single" if single else "tuple"
            try:
                result = index_with(tensor, (index,) if single else index)
            finally:
                unseen = tracer.pending_index is not None
                tracer.pending_index = None
            if unseen:
                tracer._unmodelled("__getitem__", (tensor, index), {}, result)
            return result

        def setitem(tensor, index, value):
            assign_with(tensor, index, value)
            if tracer.depth == 0:
                tracer._overwritten("__setitem__", tensor)

        getitem.__name__ = "__getitem__"  # the mode sees these functions as the ops
        setitem.__name__ = "__setitem__"
        self.saved_sequence_slots = _sequence_slots()
        torch.Tensor.__getitem__ = getitem
        torch.Tensor.__setitem__ = setitem
        _restore_sequence_slots(self.saved_sequence_slots)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.depth > 0:
            result = self._torch_function(func, args, kwargs)  # inside a recorded call: run, nothing read
        else:
            with self._reading_scope(_tensors_in(list(args)) + _tensors_in(kwargs)) as carry:
                result = self._torch_function(func, args, kwargs)
                carry(result)
        self._saw(result)
        return result

    def _saw(self, result):
        """In the second run: the sizes of what a call returned (tensors, and sizes the model reads)."""
        if self.recording is None:
            return
        seen = self.recording.seen
        for tensor in _tensors_in(result):
            seen.update(int(size) for size in tensor.shape)
        if _plain_int(result):
            seen.add(abs(result))
        elif isinstance(result, torch.Size):
            seen.update(result)

    def _compare(self, key, tensors, ints):
        """Before a call: the shapes of its tensors and its integer arguments, which the second run
        records and this run compares with the second run's same call (the same op or module, the
        same occurrence): self.varying and self.varying_ints say which sizes depend on the symbols."""
        self.varying, self.varying_ints = {}, []
        if self.recording is None and self.second is None:
            return  # every symbol fixed by `dims`: one run
        n = self.occurrences.get(key, 0)
        self.occurrences[key] = n + 1
        shapes = [tuple(int(size) for size in tensor.shape) for tensor in tensors]
        if self.recording is not None:
            self.recording.shapes[(key, n)] = (shapes, ints)
            self.recording.seen.update(size for shape in shapes for size in shape)
            self.recording.seen.update(abs(i) for i in ints)
            return
        other = self.second.shapes.get((key, n)) if self.second is not None else None
        if other is None or len(other[0]) != len(shapes):
            return  # not the same call there (the model's control flow depends on the sizes)
        for tensor, mine, theirs in zip(tensors, shapes, other[0]):
            if len(mine) == len(theirs):
                self.varying[id(tensor)] = [a != b for a, b in zip(mine, theirs)]
        if len(ints) == len(other[1]):
            self.varying_ints = [a != b for a, b in zip(ints, other[1])]

    def _unread(self, tensor, dim):
        """Whether dim `dim` of `tensor` reads as no symbol expression but had another size in the
        second run (conv_tasnet's T+3 padded frames), and a recorded call made it: it depends on the
        symbols as no spec dim writes, and the check would derive it from the recorded calls where
        the tracer has a number. A tensor the spec declares has its traced numbers there, and a size
        a declared tensor has is taken to be that number carried along (wav2vec2's frames after its
        convolution front end, which the spec declares)."""
        varying = self.varying.get(id(tensor))
        name = self.refs.get(id(tensor))
        if not varying or not varying[dim] or name is None or name in self.tensors:
            return False  # the same size there, or declared (now or when first used) with its traced numbers
        size = int(tensor.shape[dim])
        return size not in self.declared_numbers and not isinstance(self.namer.name(size)[0], str)

    def _torch_function(self, func, args, kwargs):
        pending_index, self.pending_index = self.pending_index, None
        if self.depth > 0:
            return func(*args, **kwargs)
        name = _property_name(func) or getattr(func, "__name__", "")
        self._compare(name, _tensors_in(list(args)) + _tensors_in(kwargs), _ints_in(list(args[1:]) + list(kwargs.values())))
        module = self._linear_module(name, args, kwargs)
        if module is not None:
            # Recorded as that module's call, at this line: the tracer's wrapper of its class's
            # forward, not module(...), which would also run hooks the user's F.linear never ran,
            # nor module.forward, which may be the user's own override that called this F.linear.
            return self.wrappers[id(module)](args[0])
        if name == "__rsub__" and self._reflected_known(args, kwargs):
            return self._reflected_sub(func, args)
        if name == "__rdiv__" and self._reflected_known(args, kwargs):
            return self._reflected_div(func, args)
        activation = self._in_place_activation_op(func, name, args, kwargs)
        if activation is not None:
            return self._in_place_activation(func, activation, args, kwargs)
        handler = _FUNCTIONS.get(name)
        written = (args[0], args[1][0]) if pending_index == "single" and name == "__getitem__" else args
        known = handler(written, kwargs) if handler is not None and args else None
        if known is not None and known[0] in ("getitem", "select", "narrow"):
            if not self._fits_any_size(known[0], known[1]):
                known = None
            elif self._symbolic_position(written[1:], kwargs):
                # A position that stands for a symbol stays traced (x[T]), but for pe[:x.size(0)]
                # (a slice of a fixed-size table cut to a size read from another tensor), written "[:B]".
                known = self._named_stops(known) if known[0] == "getitem" else None
            elif known[0] == "getitem" and self._cut_to_a_symbol(known[1]):
                known = None  # Er[max_len - T:]: the spec's numbers would make the T rows a constant
        if known is not None and any(t.dtype not in _SPEC_DTYPES for t in _tensors_in(list(known[1].values()))):
            known = None  # a complex tensor (HDemucs' spectrogram): a spec has no such dtype
        if known is not None and self.values and any(t.dtype not in _NUMPY_DTYPES for t in _tensors_in(list(known[1].values()))):
            known = None  # a bfloat16 input (`x.bfloat16().float()`) has no .npz member for the replay to read
        if known is not None and known[0] in ("reshape", "view") and not self._reshape_holds(known[1]):
            known = None  # the sizes PyTorch was given hold at the traced size only (T-1 frames into 13 groups)
        if known is not None and known[0] == "flatten" and not self._flatten_derivable(known[1]):
            known = None  # the merged size is no dim the check can write (x[:, 1:].flatten(1): 4*(T-1))
        if known is not None and known[0] in _SPLITTING and self._symbolic_split(known[1]):
            known = None  # how many pieces a symbolic dim makes depends on the symbol: stays traced
        if known is not None and self.values and known[0] == "dropout" and _drops(known[1]):
            known = None  # random: mhacheck's run is the identity, so the traced values are kept instead
        if known is None:
            result = func(*args, **kwargs)
            if (_in_place(name) or _inplace_argument(func, args, kwargs)) and args and isinstance(args[0], torch.Tensor):
                self._overwritten(name, args[0])
            self._unmodelled(name, args, kwargs, result)
            return result
        op, arguments = known
        source = _call_site()
        result = self._run_recorded(lambda: func(*args, **kwargs), lambda: self._new_call(op, arguments), source,
                                    lambda: self._function_stand_in(op, arguments))
        if isinstance(result, _StoodIn):
            return result.value
        if self.values and isinstance(result, torch.Tensor) and result.dtype not in _RUN_DTYPES and (
                op not in _MOVING_OPS | _EXACT_OPS or result.dtype not in _NUMPY_DTYPES):
            # `mhacheck run` computes in float32 and float64 only (run.md): integer arithmetic
            # (lengths - 1) stays a traced tensor in a spec meant for a replay (`mask == 0` is
            # recorded: run computes comparisons exactly); so does moving
            # bfloat16 values, which the spec's .npz cannot hold.
            self._unmodelled(name, args, kwargs, result)
            return result
        # Made only now, once the call is known to be recorded: a fallback above leaves no call
        # id used and no input declared for nothing. The recorded ops do not write their inputs.
        call = self._new_call(op, arguments)
        # max over a dim returns (values, indices): one output each.
        results = tuple(result) if op in _SPLITTING or (op in ("max", "min") and "dim" in arguments) else (result,)
        self._record(call, source, results, None, len(results))
        unpacked = _unpacked_names() if op in _SPLITTING else None
        if unpacked is not None and unpacked > len(results):
            # The model unpacks more names than there are tensors: Python raises ValueError
            # next. The spec names them all, so that the check reports it (MHA347) at this line.
            call["outputs"] = call.get("outputs", []) + [f"{call['id']}.{i}" for i in range(len(results), unpacked)]
            self.taken.update(call["outputs"])
        elif unpacked is not None and unpacked < len(results):
            # Fewer names: Python raises "too many values to unpack" next. A spec's "outputs" may
            # name fewer tensors than the call returns (the first ones), so the check cannot
            # tell this from a correct call: the spec says so here, and Spec.error holds the error.
            call["note"] = (f"the line unpacks {unpacked} names from the {len(results)} tensors {op} returns: Python "
                            f"raises ValueError: too many values to unpack (expected {unpacked}); mhacheck check does "
                            f"not report it, since a spec's outputs may name fewer tensors than a call returns")
        return result

    def _function_stand_in(self, op, arguments):
        found = _stand_in.function_output(op, arguments)
        if found is None:
            return None
        tensor = _stand_in.make(found[0], found[1], op)
        return tensor, (tensor,)

    def _reflected_known(self, args, kwargs):
        if kwargs or len(args) != 2 or not isinstance(args[0], torch.Tensor) or args[0].dtype not in _SPEC_DTYPES:
            return False
        number = args[1]
        return isinstance(number, (int, float)) and not isinstance(number, bool) and math.isfinite(number)

    def _reflected_sub(self, func, args):
        """`2 - x` (Tensor.__rsub__(x, 2)): a spec's sub takes its tensor first, so it is recorded
        as two calls at that line, sub(x, 2) and mul(that, -1): the same values (negation is
        exact), the same dtype, and a bool x refused by sub as by rsub."""
        tensor, number = args
        source = _call_site()
        # The first call's output, which PyTorch does not make, is computed too.
        result, difference = self._run_recorded(lambda: (func(*args), tensor - number),
                                                lambda: self._new_call("sub", {"input": tensor, "other": number}), source)
        if self.values and result.dtype not in _RUN_DTYPES:
            self._unmodelled("__rsub__", args, {}, result)  # integer arithmetic: as for any other op
            return result
        first = self._new_call("sub", {"input": tensor, "other": number})
        first["note"] = f"{_number(number)} - x, recorded as (x - {_number(number)}) * -1"
        self._record(first, source, (difference,), None, 1)
        self._record(self._new_call("mul", {"input": difference, "other": -1}), source, (result,), None, 1)
        return result

    def _reflected_div(self, func, args):
        """`2 / x` (Tensor.__rdiv__(x, 2), also `__rtruediv__`), which PyTorch computes as
        `x.reciprocal() * 2`: recorded as those two calls at that line, div(one, x), `one` a
        declared 0-D tensor holding 1 (x's dtype when floating, else int64: true division gives
        the reciprocal's dtype either way), then mul(that, 2); the same values, rounded as PyTorch
        rounds them. `1 / x` is the first call alone."""
        tensor, number = args
        source = _call_site()
        one_dtype = tensor.dtype if tensor.dtype.is_floating_point else torch.int64
        result, reciprocal, one = self._run_recorded(
            lambda: (func(*args), torch.reciprocal(tensor), torch.ones((), dtype=one_dtype)),
            lambda: self._new_call("div", {"input": self._one(torch.ones((), dtype=one_dtype)), "other": tensor}), source)
        if self.values and result.dtype not in _RUN_DTYPES:
            self._unmodelled("__rdiv__", args, {}, result)  # integer or half arithmetic: as for any other op
            return result
        first = self._new_call("div", {"input": self._one(one), "other": tensor})
        if number == 1:
            self._record(first, source, (result,), None, 1)
            return result
        first["note"] = f"{_number(number)} / x, recorded as (1 / x) * {_number(number)}, as PyTorch computes it"
        self._record(first, source, (reciprocal,), None, 1)
        self._record(self._new_call("mul", {"input": reciprocal, "other": number}), source, (result,), None, 1)
        return result

    def _one(self, one):
        """The spec name of a declared 0-D tensor holding 1 in `one`'s dtype (one per dtype)."""
        name = self.ones.get(one.dtype)
        if name is None:
            name = self._unique(f"one_{_modules.dtype_name(one.dtype)}", self._taken())
            self.tensors[name] = {"shape": [], "dtype": _modules.dtype_name(one.dtype), "note": "the 1 of a reflected division (n / x)"}
            self.taken.add(name)
            if self.values:
                self.arrays[name] = _snapshot(one)
            self.ones[one.dtype] = name
        return name

    def _in_place_activation_op(self, func, name, args, kwargs):
        """The activation a call computes into its input (`F.relu(x, inplace=True)`, `F.relu(x,
        True)`, `x.relu_()`, `torch.sigmoid_(x)`), when mhacheck has it; else None."""
        if not args or not isinstance(args[0], torch.Tensor):
            return None
        if args[0].dtype not in (_RUN_DTYPES if self.values else _SPEC_DTYPES):
            return None
        if name in _IN_PLACE_ACTIVATIONS and len(args) == 1 and not kwargs:
            return _IN_PLACE_ACTIVATIONS[name]
        if name in ("relu", "silu") and len(args) + len(kwargs) == 2 and _inplace_argument(func, args, kwargs):
            return name
        return None

    def _in_place_activation(self, func, op, args, kwargs):
        """F.relu(x, inplace=True) (nn.ReLU(inplace=True), all over torchvision's CNNs) and
        `x.relu_()` write relu(x) into x: recorded as relu(x), made before the write (x's values are
        its input), whose output x then is; views of x taken before read the new values as
        declared tensors, as after any in-place write."""
        tensor = args[0]
        source = _call_site()
        call = self._new_call(op, {"input": tensor})
        result = self._run_recorded(lambda: func(*args, **kwargs), lambda: call, source)
        self._overwritten(op + "_", tensor)
        self._record(call, source, (result,), None, 1)
        return result

    def _new_call(self, op, arguments):
        call = {"id": self._call_id(op), "op": op}
        call.update(self._arguments(arguments))
        sized = {"reshape": "shape", "view": "shape", "expand": "size", "repeat": "repeats", "ones": "size", "zeros": "size", "full": "size",
                 "new_ones": "size", "new_zeros": "size"}
        if op in sized:
            key = sized[op]
            call[key], notes = self._size_list(arguments[key], self._merged_dims(op, arguments))
            if notes:
                call["note"] = "; ".join(notes)
        for key in ("start", "end", "n", "m") if op in ("arange", "eye") else ():
            if _plain_int(call.get(key)) and call[key] > 0:
                (call[key],), notes = self._size_list([call[key]])  # arange(T): a size the check follows
        return call

    def _merged_dims(self, op, arguments):
        """A reshape's or view's input dims as the spec writes them (see _merged_reading)."""
        if op not in ("reshape", "view") or not isinstance(arguments.get("input"), torch.Tensor):
            return None
        return self.symbolic_shape(arguments["input"].shape)[0]

    def _reshape_holds(self, arguments):
        """Whether the reshape, with its input's dims and its sizes written as symbol expressions,
        keeps the element count at other sizes of the symbols too. Sizes computed from the traced
        ones (`T // 4` when T - 1 frames are kept: 13 at T=53) are numbers in the spec, and the
        check could not follow them; such a reshape stays a traced tensor. One that fails at the
        traced size is recorded: PyTorch raises there, and the check explains it."""
        tensor = arguments["input"]
        dims, _ = self.symbolic_shape(tensor.shape)
        named, _ = self._size_list(arguments["shape"], dims)

        def holds(scale, shift):
            sizes = {symbol: scale * probe + shift for symbol, probe in self.namer.probes.items()}
            count = math.prod(value_at(d, sizes) for d in dims)
            written = math.prod(value_at(d, sizes) for d in named if d != -1)
            return written != 0 and (count % written if -1 in named else count - written) == 0

        if not holds(1, 0):
            return True  # PyTorch raises: recorded, so that the check explains it
        if any(self._unread(tensor, d) for d in range(tensor.dim())):
            return False
        if len(self.varying_ints) == len(named) and any(v and isinstance(d, int) and d != -1 and d not in self.declared_numbers
                                                        for v, d in zip(self.varying_ints, named)):
            return False  # a size that depends on the symbols but is written as a number (see _unread)
        if all(isinstance(d, int) for d in dims + named):
            return True  # nothing symbolic: the check sees exactly what PyTorch did
        return _reshape_derivable(dims, named) and holds(2, 1) and holds(3, 2)

    def _flatten_derivable(self, arguments):
        """Whether the check can write the flattened dim (src/ops/flatten.cpp): the merged dims'
        product is a monomial only when none of them has an offset (T-1 frames of 4: 4*T-4 is
        no dim the check writes)."""
        tensor = arguments["input"]
        if tensor.dim() == 0:
            return True
        start, end = arguments["start_dim"], arguments["end_dim"]
        if not (-tensor.dim() <= start < tensor.dim() and -tensor.dim() <= end < tensor.dim()):
            return True  # PyTorch raises: recorded, so that the check explains it
        dims, _ = self.symbolic_shape(tensor.shape)
        return all(not _dim_terms(d)[1] or _dim_terms(d)[2] == 0 for d in dims[start % tensor.dim():end % tensor.dim() + 1])

    def _symbolic_split(self, arguments):
        """True when the dim split or chunked reads as a symbol expression."""
        tensor = arguments["input"]
        dim = arguments["dim"]
        if tensor.dim() == 0 or not -tensor.dim() <= dim < tensor.dim():
            return False  # PyTorch raises: recorded, so that the check explains it
        return isinstance(self.namer.name(int(tensor.shape[dim]))[0], str) or self._unread(tensor, dim)

    def _linear_module(self, name, args, kwargs):
        """The nn.Linear whose own weight and bias `F.linear(x, self.qkv.weight, self.qkv.bias)`
        (torchvision's Swin) uses, or None."""
        if name != "linear" or len(args) < 2 or not isinstance(args[0], torch.Tensor):
            return None
        module = self.linear_weights.get(id(args[1]))
        bias = args[2] if len(args) > 2 else kwargs.get("bias")
        # The id may outlive the weight (weight_norm makes a new one each call): the weight itself must be it.
        if module is None or args[1] is not module.weight or set(kwargs) - {"bias"} or bias is not module.bias:
            return None
        return module

    def _fits_any_size(self, op, arguments):
        """False when an index, select or narrow reaches into a dim whose size is a symbol
        expression at a position that not every size of it has (`frames[2]` on a dim of size
        M+1): PyTorch ran it at the traced size, but the spec would hold only for some M. Symbols
        are at least 1; such a call stays a traced tensor."""
        dims, _ = self.symbolic_shape(arguments["input"].shape)
        if any(self._unread(arguments["input"], d) for d in range(len(dims))):
            return False  # a dim the spec would have as a number where the check derives an expression
        if op == "getitem":
            pairs = [(item, size) for _, item, size in _index_pairs(arguments["index"], dims)]
        else:
            dim = arguments["dim"]
            if not -len(dims) <= dim < len(dims):
                return True  # the check reports the bad dim, as PyTorch did
            if op == "narrow":
                start, size = arguments["start"], dims[dim]
                return isinstance(size, int) or (start >= 0 and start + arguments["length"] - 1 < _smallest(size))
            pairs = [(arguments["index"], dims[dim])]
        return all(isinstance(size, int) or _fits(item, _smallest(size)) for item, size in pairs)

    def _named_stops(self, known):
        """getitem `pe[:x.size(0)]`: a slice from the start of a dim of fixed size (a positional
        table, a buffer or parameter alike) whose stop reads as a symbol expression, recorded with
        the stop written as that expression ("[:B]"), so that the cut table's dim is the symbol and
        carries its role (MHA081: a table cut to the batch size). None when any other position reads
        as a symbol, or the stop is past the dim (PyTorch clamped it: the spec would say B)."""
        op, arguments = known
        dims, _ = self.symbolic_shape(arguments["input"].shape)
        texts = _split_index(arguments["index"])

        def named(value):
            return _plain_int(value) and isinstance(self.namer.name(abs(value))[0], str)

        for i, item, size in _index_pairs(arguments["index"], dims):
            if not isinstance(item, slice):
                if named(item):
                    return None
                continue
            if named(item.start) or named(item.step) or not named(item.stop):
                if named(item.start) or named(item.step):
                    return None
                continue
            if not isinstance(size, int) or item.start not in (None, 0) or item.step not in (None, 1) or not 0 < item.stop <= size:
                return None
            texts[i] = ":" + self.namer.name(item.stop)[0]
        trailing = "," if arguments["index"].replace(" ", "").endswith(",]") else ""
        return op, dict(arguments, index="[" + ", ".join(texts) + trailing + "]")

    def _cut_to_a_symbol(self, arguments):
        """True when a slice of a dim of fixed size keeps a number of entries that reads as a symbol
        expression while its start and stop do not: Music Transformer's `Er[max_len - T:]` keeps T
        rows of a (max_len, D) table with the start max_len - T, which reads as no symbol. Written
        with its numbers the spec would cut a constant number of rows where PyTorch keeps T, and
        the check would take T for a size it equals only at the traced value."""
        dims, _ = self.symbolic_shape(arguments["input"].shape)
        for _, item, size in _index_pairs(arguments["index"], dims):
            if isinstance(item, slice) and isinstance(size, int):
                kept = len(range(*item.indices(size)))
                if kept != size and isinstance(self.namer.name(kept)[0], str):
                    return True
        return False

    def _symbolic_position(self, args, kwargs):
        """True when an integer of an index (or of select/narrow) reads as a symbol expression."""
        values = []
        for item in list(args) + list(kwargs.values()):
            for part in (item if isinstance(item, tuple) else (item,)):
                if isinstance(part, slice):
                    values += [part.start, part.stop, part.step]
                else:
                    values.append(part)
        return any(_plain_int(v) and isinstance(self.namer.name(abs(v))[0], str) for v in values)

    def _overwritten(self, name, tensor):
        """`tensor` (and the tensor it is a view of) now holds new values: a later use is a new
        declared tensor, made by `name` here, not the output of the call that made the old ones."""
        file, line = _call_site()
        base = tensor if tensor._base is None else tensor._base
        changed = [tensor, base]
        memory = _memory(tensor)
        for reference in list(self.alive.values()):
            other = reference()
            if other is None:
                continue
            if (other._base if other._base is not None else other) is base or (memory and _memory(other) == memory):
                # A view of the same values taken before the write, or a tensor sharing its
                # memory without being a view (`x.detach()`, `x.data`). Any part of it: a
                # tensor declared for nothing costs only a smaller graph.
                changed.append(other)
        for each in changed:
            self.refs.pop(id(each), None)
            self.origins[id(each)] = (name, file, line)
            self._track(each)

    def _unmodelled(self, name, args, kwargs, result):
        outputs = _tensors_in(result)
        if not outputs:
            return
        inputs = _tensors_in(list(args))
        if name in _IDENTITY_OPS and len(outputs) == 1 and inputs:
            source_tensor, out = inputs[0], outputs[0]
            same = out.shape == source_tensor.shape and out.dtype == source_tensor.dtype
            if same and id(source_tensor) in self.refs:
                self.refs[id(out)] = self.refs[id(source_tensor)]
                self._track(out)
                return
            if same and id(source_tensor) in self.origins:  # the op that made the input is the one to name
                self.origins[id(out)] = self.origins[id(source_tensor)]
                self._track(out)
                return
        file, line = _call_site()
        for out in outputs:
            self.refs.pop(id(out), None)  # an in-place op's result is a new value
            self.origins[id(out)] = (name, file, line)
            self._track(out)

    # ---- known modules -----------------------------------------------------------------
    def wrap(self, module, spec_name, kind, options, weights_prefix):
        """Wraps the forward of the module's class. A forward the user set on the instance (LoRA,
        accelerate's hooks) stays the one module(...) calls: the tracer sees what it does, and
        the wrapper only through F.linear (which its base forward calls)."""
        tracer = self
        original = type(module).forward.__get__(module)
        signature = inspect.signature(original)

        def forward(*args, **kwargs):
            if tracer.depth > 0:
                return original(*args, **kwargs)
            with tracer._reading_scope(_tensors_in(list(args)) + _tensors_in(kwargs)) as carry:
                result = recorded_forward(*args, **kwargs)
                carry(result)
                return result

        def recorded_forward(*args, **kwargs):
            tracer._compare(spec_name, _tensors_in(list(args)) + _tensors_in(kwargs), [])
            bound = signature.bind(*args, **kwargs)
            allowed = _modules.FORWARD_ARGUMENTS[kind]
            arguments = {}
            for key, value in bound.arguments.items():
                if key not in allowed or (value is None and signature.parameters[key].default is None):
                    if value is not None:
                        return tracer._opaque_module(original, kind, args, kwargs)
                    continue
                arguments[key] = value
            if tracer.values and _modules.drops_in_training(module):
                # mhacheck runs the attention modules in eval mode: a replay could not draw what
                # PyTorch drew. The call's parts are traced instead (dropout keeps its values).
                return tracer._opaque_module(original, kind, args, kwargs, "dropout in training mode")
            if kind in ("Conv1d", "Conv2d") and not tracer._conv_lengths_symbolic(module, arguments.get("input")):
                return tracer._opaque_module(original, kind, args, kwargs, "an output length no symbol expression gives")
            source = _call_site()
            if spec_name not in tracer.modules:
                entry = dict(type=kind, **options)
                weights = _weights_as_used(module, kind, weights_prefix) if tracer.values else {}
                if tracer.values and all(value.dtype in _NUMPY_DTYPES for value in weights.values()):
                    entry["weights"] = "<values>"
                    entry["prefix"] = weights_prefix
                    for key, value in weights.items():
                        tracer.arrays[key] = _snapshot(value)
                tracer.modules[spec_name] = entry
            call = {"id": tracer._call_id(spec_name), "module": spec_name}
            call.update(tracer._arguments(arguments))

            def run():
                if kind in ("Conv1d", "Conv2d"):
                    _refuse_short_input_on_meta(module, arguments.get("input"))
                return original(*args, **kwargs)

            result = tracer._run_recorded(run, lambda: call, source, lambda: _module_stand_in(kind, module, arguments))
            if isinstance(result, _StoodIn):
                tracer._saw(result.value)
                return result.value
            results = result if isinstance(result, tuple) else (result,)
            count = len(_modules.OUTPUTS.get(kind, ["output"]))
            if kind == "MultiheadAttention" and not arguments.get("need_weights", True):
                count = 1
            tracer._record(call, source, results, None, count)
            tracer._saw(result)
            return result

        self.wrappers[id(module)] = forward
        if "forward" not in vars(module):
            module.forward = forward

    def _opaque_module(self, original, kind, args, kwargs, reason="an argument mhacheck does not take"):
        """A known module called in a way the spec cannot write: its outputs are declared."""
        result = original(*args, **kwargs)
        self._unmodelled(f"nn.{kind} ({reason})", args, kwargs, result)
        return result

    def _conv_lengths_symbolic(self, conv, tensor):
        """False when a spatial length of `tensor` reads as a symbol but the convolution's output
        length, floor((L + padding - span) / stride) + 1, reads as none (a stride that does not
        divide the symbol's multiple, as in wav2vec2's front end): mhacheck's rule needs the symbol
        bound there, so the call stays a traced tensor. A length PyTorch refuses is recorded."""
        if not isinstance(tensor, torch.Tensor):
            return True
        spatial = len(conv.kernel_size)
        for d in range(spatial):
            if tensor.dim() < spatial:
                return True
            length = int(tensor.shape[tensor.dim() - spatial + d])
            padded, span = _padded_and_span(conv, d, length)
            if padded < span:
                return True  # PyTorch raises: the check explains it
            if self._unread(tensor, tensor.dim() - spatial + d):
                return False
            if not isinstance(self.namer.name(length)[0], str):
                continue
            if not isinstance(self.namer.name((padded - span) // conv.stride[d] + 1)[0], str):
                return False
        return True


class _StoodIn:
    """What _run_recorded returns for a call that raised and was stood in for: its value."""
    def __init__(self, value):
        self.value = value


def _module_stand_in(kind, module, arguments):
    """(return value, tensors) standing in for a known module's call PyTorch raised on, or None."""
    found = _stand_in.module_output(kind, module, arguments)
    if found is None:
        return None
    shapes, like = found
    tensors = [_stand_in.make(shape, like) if shape is not None else None for shape in shapes]
    returned = tuple(tensors) if kind == "MultiheadAttention" else tensors[0]
    return returned, tuple(t for t in tensors if t is not None)


def _padded_and_span(conv, d, length):
    """A convolution's padded input length along spatial dim d, and the length its kernel spans."""
    span = conv.dilation[d] * (conv.kernel_size[d] - 1) + 1
    if conv.padding == "same":
        return length + span - 1, span
    if conv.padding == "valid":
        return length, span
    return length + 2 * conv.padding[d], span


def _refuse_short_input_on_meta(conv, tensor):
    """PyTorch 1.13's meta convolution does not check that the kernel fits the padded input (the
    CPU one does): raise what the CPU raises, so that a trace on the meta device fails where one
    on the CPU would, and is retried with larger probes."""
    if not isinstance(tensor, torch.Tensor) or tensor.device.type != "meta":
        return
    spatial = len(conv.kernel_size)
    lengths = [int(s) for s in tensor.shape[tensor.dim() - spatial:]] if tensor.dim() >= spatial else []
    sizes = [_padded_and_span(conv, d, length) for d, length in enumerate(lengths)]
    if any(padded < span for padded, span in sizes):
        raise RuntimeError("Calculated padded input size per channel: ({}). Kernel size: ({}). Kernel size can't be greater "
                           "than actual input size".format(" x ".join(str(p) for p, _ in sizes),
                                                           " x ".join(str(k) for k in conv.kernel_size)))


# Modules whose parameters are exactly `weight` and `bias`.
_WEIGHT_AND_BIAS = ("Linear", "Conv1d", "Conv2d", "LayerNorm", "Embedding")


def _weights_as_used(module, kind, prefix):
    """The tensors the module's forward reads, keyed as its state_dict keys them. For a module
    with a weight and a bias these are the attributes the forward sees, not the state_dict: a
    weight_norm hook (wav2vec2's positional convolution) stores weight_g and weight_v and makes
    `weight` from them just before each call."""
    if kind not in _WEIGHT_AND_BIAS:
        return module.state_dict(prefix=prefix)
    used = {}
    for name in ("weight", "bias"):
        value = getattr(module, name, None)
        if isinstance(value, torch.Tensor):
            used[prefix + name] = value.detach()
    return used


def _module_names(model):
    if not isinstance(model, torch.nn.Module):
        return []
    return [(name, module) for name, module in model.named_modules()]


def _constants(model, inputs):
    constants = set()
    if isinstance(model, torch.nn.Module):
        for tensor in list(model.parameters()) + list(model.buffers()):
            constants.update(int(s) for s in tensor.shape)
        constants.update(_modules.integer_attributes(model))
    fixed = set()
    for value in inputs:
        if isinstance(value, Shape):
            fixed.update(d for d in value.dims if isinstance(d, int))
        elif isinstance(value, torch.Tensor):
            fixed.update(int(s) for s in value.shape)
    constants.update(fixed)
    if isinstance(model, torch.nn.Module):
        constants.update(_convolved(model, fixed))
    # Sizes the model derives from those: head_dim = embed_dim // num_heads, patches per side;
    # and powers of two, which models use everywhere.
    base = [c for c in constants if c >= 2]
    constants.update(a // b for a in base for b in base if a > b and a % b == 0)
    constants.update(2 ** k for k in range(1, 17))
    return constants


def _convolved(model, lengths):
    """The lengths the model's convolutions, in order, make of fixed input lengths (175 -> 88 ->
    44 in a CNN on 175x175 images): constants, so that no probe is read from one (44 as B+1)."""
    lengths = set(lengths)
    for conv in model.modules():
        if not isinstance(conv, torch.nn.modules.conv._ConvNd) or conv.transposed:
            continue
        for d in range(len(conv.kernel_size)):
            for length in list(lengths):
                padded, span = _padded_and_span(conv, d, length)
                if padded >= span:
                    lengths.add((padded - span) // conv.stride[d] + 1)
    return lengths


def _device(model):
    if isinstance(model, torch.nn.Module):
        for tensor in list(model.parameters()) + list(model.buffers()):
            return tensor.device
    return torch.device("cpu")


def _make(shape, sizes, device):
    dims = [sizes[d] if isinstance(d, str) else d for d in shape.dims]
    if shape.dtype.is_floating_point:
        return torch.randn(dims, dtype=shape.dtype, device=device)
    return torch.zeros(dims, dtype=shape.dtype, device=device)


# A probe for a symbol the model needs large (audio samples through a convolution front end).
_LARGE_PROBE = 1000


def trace(model, args=(), kwargs=None, *, dims=None, values=False):
    """Calls `model(*args, **kwargs)` once and returns the calls mhacheck knows as a Spec.

    `shape(...)` inputs are created here, each symbol at a probe size (or at `dims[symbol]`);
    a callable input is called with the dict of sizes (symbol -> size) and must return a tensor.
    With `values=True` the tensors are kept so that `Spec.save` writes them.

    A recorded call PyTorch raises on is kept, and the run goes on past it with a stand-in output
    where a shape rule gives one (_stand_in.py); Spec.error is then PyTorch's first error.
    When the model raises (a convolution's kernel longer than a 53-sample waveform), the probes
    may be too small rather than the model wrong: the model is called again with one symbol at a
    time at a probe of at least 1000, each from the model's state before the first (_ModelState).
    The first run that goes through is kept; otherwise the run that got furthest (recorded the
    most calls before it failed, preferring a failure in a recorded call, which mhacheck
    explains), the first one on a tie."""
    kwargs = dict(kwargs or {})
    args = tuple(args)
    fixed = dict(dims or {})
    all_inputs = list(args) + list(kwargs.values())
    symbols = []
    for value in all_inputs:
        if isinstance(value, Shape):
            symbols.extend(d for d in value.dims if isinstance(d, str) and d not in symbols)
    constants = _constants(model, all_inputs)
    sizes = choose_probes(symbols, constants, fixed)
    device = _device(model)
    if values and device.type == "meta":
        raise ValueError("values=True needs real tensors; the model is on the meta device")
    before = _ModelState(model)
    spec, tracer = _trace_checked(model, args, kwargs, sizes, fixed, constants, device, values)
    if spec.error is None:
        return spec

    # Only the progress of a run is kept, not its tracer, which holds every tensor the run made.
    best, best_progress = spec, (tracer.error_recorded, len(spec.calls))
    del tracer
    for symbol in [name for name in symbols if name not in fixed]:
        others = {k: v for k, v in sizes.items() if k != symbol}
        larger = choose_probes([symbol], constants, others, start=_LARGE_PROBE)
        before.restore()  # each retry sees the model as the caller left it, not as the failed run did
        retried, retried_tracer = _trace_checked(model, args, kwargs, larger, fixed, constants, device, values)
        if retried.error is None:
            return retried
        retried_progress = (retried_tracer.error_recorded, len(retried.calls))
        del retried_tracer
        if retried_progress > best_progress:
            best, best_progress = retried, retried_progress
    return best


class _SecondRun:
    """What the model's run at the second probes saw: every size (of the tensors its calls took
    and returned, of their integer arguments, of the sizes the model read), and each call's tensor
    shapes and integer arguments by (op or module name, occurrence)."""
    def __init__(self, probes):
        self.probes = probes
        self.seen = set()
        self.shapes = {}


def _dim_terms(dim):
    """A dim as the check's DimExpr: (coefficient, sorted symbol factors, offset); (0, (), n) for
    the integer n."""
    if isinstance(dim, int):
        return 0, (), dim
    text, offset = dim, 0
    for sign in ("+", "-"):
        if sign in text:
            text, _, number = text.partition(sign)
            offset = int(number) if sign == "+" else -int(number)
    coefficient, factors = 1, []
    for factor in text.split("*"):
        if factor.isdigit():
            coefficient *= int(factor)
        else:
            factors.append(factor)
    return coefficient, tuple(sorted(factors)), offset


def _reshape_derivable(dims, named):
    """Whether the check can derive the reshape of `dims` to `named` (src/ops/reshape.cpp): after
    cancelling the symbolic sizes written on both sides (that cannot be 0), each side's count must
    be an integer times a product of symbols, and a -1 their exact quotient. Otherwise the check
    reports MHA303 on code PyTorch runs (x[1:].view(-1): 4*T*(B-1) is no dim): such a reshape
    stays a traced tensor."""
    rest = [_dim_terms(d) for d in dims]
    known = []
    for size in (_dim_terms(d) for d in named if d != -1):
        if size[1] and size[0] + size[2] >= 1 and size in rest:
            rest.remove(size)
        else:
            known.append(size)
    if any(factors and offset for _, factors, offset in rest + known):
        return False

    def product(sizes):
        constant, powers = 1, collections.Counter()
        for coefficient, factors, offset in sizes:
            constant *= coefficient if factors else offset
            powers.update(factors)
        return constant, powers

    if -1 not in named:
        return True
    (count, count_powers), (written, written_powers) = product(rest), product(known)
    return written == 0 or (count % written == 0 and not written_powers - count_powers)


class _ModelState:
    """What a run of the model changes, as it is now, to be restored: the CPU random generator,
    every submodule's attributes (a shallow copy of each module's __dict__, and of every dict and
    set it holds: _parameters, _buffers and _modules, the hooks (_forward_hooks,
    _forward_pre_hooks, ...: a forward that registers a hook on its first call registers it once)
    and the non-persistent buffers' names; a counter or a size cached by forward is as before;
    objects are kept by identity, not copied), the global module hooks
    (`register_module_forward_hook`) and the buffers' values (batch norm's running statistics in
    training mode)."""
    def __init__(self, model):
        modules = list(model.modules()) if isinstance(model, torch.nn.Module) else []
        self.attributes = [(vars(module), dict(vars(module))) for module in modules]
        # the dicts and sets themselves stay (PyTorch and the user may hold them, a hook's handle
        # does): their entries are restored
        tables = [value for module in modules for value in vars(module).values() if isinstance(value, (dict, set))]
        tables += [value for name, value in vars(torch.nn.modules.module).items()
                   if name.startswith("_global_") and isinstance(value, dict)]
        self.members = [(table, copy.copy(table)) for table in tables]
        self.buffers = [(b, b.detach().clone()) for b in model.buffers()] if modules else []
        self.random = torch.random.get_rng_state()

    def restore(self):
        for table, saved in self.attributes + self.members:
            table.clear()
            table.update(saved)
        with torch.no_grad():
            for buffer, saved in self.buffers:
                buffer.copy_(saved)
        torch.random.set_rng_state(self.random)


@contextlib.contextmanager
def _state_kept(model):
    """A run of the model that leaves no trace (_ModelState)."""
    state = _ModelState(model)
    try:
        yield
    finally:
        state.restore()


def _trace_checked(model, args, kwargs, sizes, fixed, constants, device, values):
    """_trace_at, after a first run of the model at second probes (without values, leaving the
    model as it was: _state_kept): a size is read as a symbol expression only
    when that expression's value at the second probes is a size the second run saw, and a size
    that changed there without a reading keeps its call traced (_Tracer._unread)."""
    probes = {k: v for k, v in sizes.items() if k not in fixed}
    if not probes:
        return _trace_at(model, args, kwargs, sizes, fixed, constants, device, values)
    other = second_probes(probes, constants, fixed)
    recording = _SecondRun(other)
    with _state_kept(model):
        _trace_at(model, args, kwargs, dict(sizes, **other), fixed, constants, device, False, recording=recording)
    return _trace_at(model, args, kwargs, sizes, fixed, constants, device, values, second=recording)


def _trace_at(model, args, kwargs, sizes, fixed, constants, device, values, second=None, recording=None):
    """One traced call of the model with the symbols at `sizes`: (Spec, the tracer). `second`
    and `recording`: see _Tracer."""
    probes = {k: v for k, v in sizes.items() if k not in fixed}
    namer = DimNamer(probes, constants, (second.probes, second.seen) if second is not None else None)

    def materialise(value):
        if isinstance(value, Shape):
            return _make(value, sizes, device)
        if callable(value) and not isinstance(value, (torch.Tensor, torch.nn.Module)):
            return value(dict(sizes))
        return value

    real_args = [materialise(v) for v in args]
    real_kwargs = {k: materialise(v) for k, v in kwargs.items()}

    parameter_names = {}
    if isinstance(model, torch.nn.Module):
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            parameter_names[id(tensor)] = name
    tracer = _Tracer(namer, values, parameter_names, second, recording)

    # The inputs, named after the parameters of the model's forward they are passed as.
    forward = model.forward if isinstance(model, torch.nn.Module) else model
    try:
        bound = inspect.signature(forward).bind(*real_args, **real_kwargs).arguments
    except (TypeError, ValueError):
        bound = {f"input{i}": v for i, v in enumerate(real_args)}
        bound.update(real_kwargs)
    for name, value in bound.items():
        for i, tensor in enumerate(_tensors_in(value)):
            if id(tensor) not in tracer.refs:
                tracer.declare(tensor, name if i == 0 else f"{name}_{i}", None)
    # Declared inputs keep the symbols they were given, not a reading of their probe sizes.
    for value, real in zip(list(args) + list(kwargs.values()), real_args + list(real_kwargs.values())):
        if isinstance(value, Shape):
            entry = tracer.tensors[tracer.refs[id(real)]]
            entry["shape"] = list(value.dims)
            entry.pop("note", None)

    wrapped = []
    error = None
    result = None
    try:  # the modules wrapped so far are restored whatever raises, here or in the model
        for name, module in _module_names(model):
            kind = _modules.module_type(module)
            if kind is None:
                continue
            try:
                options = _modules.options(module)
            except _modules.Unsupported:
                continue
            spec_name = name or type(module).__name__.lower()
            tracer.wrap(module, spec_name, kind, options, name + "." if name else "")
            wrapped.append(module)
            if kind == "Linear":
                tracer.linear_weights[id(module.weight)] = module
        try:
            with tracer:
                result = model(*real_args, **real_kwargs)
        except Exception as caught:  # the bug being hunted: keep what was traced up to it
            error = caught
    finally:
        for module in wrapped:
            if vars(module).get("forward") is tracer.wrappers[id(module)]:
                del module.forward

    document = {"version": 1}
    if tracer.raised is not None:
        # PyTorch's error is the first one, which a stand-in stepped over (the model may have run
        # through after it, or raised again on the stand-in's meaningless values)
        error = tracer.raised
    # With values the tensors come from files at the traced sizes. When PyTorch raised at a recorded
    # call, the spec binds the probes, the sizes PyTorch raised at (symbols could make the error only
    # a condition, or nothing: a kernel longer than T), and that call's note says so; the calls a
    # stand-in took the trace on to are in the spec for the check's fixes to be verified through.
    # After an error in an operation mhacheck does not model no recorded call needs the sizes: the
    # symbols stay.
    bound_dims = dict(fixed)
    if values or tracer.first_raised_at is not None:
        bound_dims.update(probes)
        if not values and probes:
            tracer.calls[tracer.first_raised_at]["note"] += ('; the spec binds those probe sizes under "dims", so that the '
                                                            'check sees the sizes PyTorch raised at')
    if bound_dims:
        document["dims"] = bound_dims
    document["modules"] = tracer.modules
    document["tensors"] = tracer.tensors
    document["calls"] = tracer.calls
    return Spec(document, sizes=sizes, error=error, values=values, arrays=tracer.arrays,
                expected=tracer.expected, result=result), tracer
