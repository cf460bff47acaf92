#!/usr/bin/python3
"""Run the corpus (tests/corpus/silent.json, correct.json) in real PyTorch; write pytorch_verdicts.json.

For every case this records, with real tensors:
  - whether PyTorch raises on the spec as written (unbound symbols get distinct small sizes, listed
    in "symbols", so a call valid only if B == T is run with B != T);
  - for a silent case (primary diagnostic a warning), how it misbehaves: "leaks" (an output element
    depends on two batch entries: perturbing batch entry 0 and batch entry 1 each change it), and,
    when the case gives the program it was meant to be ("intended": a spec, by default the case's
    own, and expressions over the case's inputs for some of its inputs), whether the outputs differ from that program's on the same weights and inputs;
  - for mhacheck's first fix of the case (read from `mhacheck check --format json` on the case's
    spec, so the fixture goes stale when the fix changes: corpus_test.cpp compares the patch), the
    fix applied for real: the patch for module options and shapes, and the Python expression its
    text gives (`~pad`, `attn_mask[:, None, None, :]`, `.transpose(0, 1)`, ...) evaluated on the
    original tensors, which must give the shape the patch declares ("expression" records which).
    Then whether PyTorch raises, each output's shape, whether it leaks across the batch, and, for
    a case with an intended program, whether it computes the same outputs ("matches_intended").
  - for a correct configuration: that PyTorch accepts it and it does not leak.

PyTorch 1.13 (Debian's python3-torch) has no F.scaled_dot_product_attention: SDPA calls run 2.x's
math path as replayed by gen_sdpa_cases.py (math_path_2x, with 2.x's input validation: equal q/k/v
dtypes, a bool or query-dtype mask). Modules run in eval mode (no dropout).

Usage: python3 tests/corpus/gen_pytorch_verdicts.py [--mhacheck build/mhacheck] [--dir tests/corpus/heldout3]
(--dir: a held-out set's directory; its pytorch_verdicts.json is written there, and a case this
script cannot run, such as a pasted class, is recorded as "unsupported" with the reason)
"""

import argparse
import ast
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pytorch"))
from gen_sdpa_cases import math_path_2x  # noqa: E402

SEED = 11
# Call keys that are no arguments of the PyTorch call: the spec's metadata, among them the tracer's
# `note` on a call PyTorch raised on (spec-format.md: "a string, ignored by the checks").
NOT_ARGUMENTS = {"module", "op", "dims", "tensors", "version", "mhacheck", "id", "outputs", "source", "note"}
TENSOR_ARGUMENTS = {"query", "key", "value", "key_padding_mask", "attn_mask", "input", "other", "src", "tgt",
                    "memory", "src_mask", "tgt_mask", "memory_mask", "src_key_padding_mask",
                    "tgt_key_padding_mask", "memory_key_padding_mask", "mask"}
BATCH_NAMES = {"b", "n", "bs", "bsz", "batch", "batch_size"}


class Unsupported(Exception):
    pass


# ---- reading a spec -------------------------------------------------------------------------

def inline_call(spec):
    """The single call of the inline form, its module (a constructor) named "m"."""
    call = {k: v for k, v in spec.items() if k not in ("dims", "tensors", "version", "mhacheck")}
    call.setdefault("id", "call")
    modules = {}
    if "module" in call:
        modules["m"] = call["module"]
        call["module"] = "m"
    return call, modules


def normalise(spec):
    """(modules, tensor declarations, calls) of either spec form; inline tensor arguments get names."""
    if "calls" in spec:
        modules, calls = spec.get("modules", {}), [dict(c) for c in spec["calls"]]
    else:
        call, modules = inline_call(spec)
        calls = [call]
    tensors = dict(spec.get("tensors", {}))
    for call in calls:
        for arg in list(call):
            if arg in TENSOR_ARGUMENTS and isinstance(call[arg], (list, dict)):  # not a name, None or a Python number
                name = arg if arg not in tensors else call["id"] + "." + arg
                tensors[name] = call[arg]
                call[arg] = name
    return modules, tensors, calls


def declaration(decl):
    if isinstance(decl, list):
        return decl, "float32"
    if "causal" in decl:  # mhacheck's generated causal mask: nn.Transformer.generate_square_subsequent_mask
        return decl["causal"], "causal"
    return decl["shape"], decl.get("dtype", "float32")


def symbols_of(spec, tensors):
    values = dict(spec.get("dims", {}))
    free = [3, 5, 7, 11, 13, 17]
    for decl in tensors.values():
        for dim in declaration(decl)[0]:
            if isinstance(dim, str) and re.fullmatch(r"[A-Za-z_]\w*", dim) and dim not in values:
                values[dim] = free[len([v for v in values if v not in spec.get("dims", {})])]
    return values


def size(dim, symbols):
    return dim if isinstance(dim, int) else int(eval(dim, {"__builtins__": {}}, dict(symbols)))


def build_module(decl, names=None):
    """`names`: the spec's "dims", which bind the names a constructor uses (d_model, dropout)."""
    if isinstance(decl, str):
        try:
            ast.parse(decl, mode="eval")
        except SyntaxError:
            # mhacheck reads pasted Python (a class's __init__, several assignments); this script
            # builds modules from one constructor expression only.
            raise Unsupported("a module written as pasted Python statements: " + decl.splitlines()[0][:80])
        return eval(decl, {"nn": nn, "torch": torch, **(names or {})})
    kind = decl["type"].split(".")[-1]
    args = {k: build_module(v, names) if isinstance(v, dict) and "type" in v else v for k, v in decl.items() if k != "type"}
    return construct(getattr(nn, kind), args)


def construct(module_class, args):
    """module_class(**args) with the options a traced spec writes as PyTorch 2.x has them, on the
    installed PyTorch: `dtype` named ("float32") is passed as the torch.dtype; an option the installed
    constructor does not take is dropped (LayerNorm's `bias` is 2.1's, `dtype` older than 1.9's), and
    `bias: false` so dropped leaves the module without its bias, as 2.x builds it. `note` (the
    tracer's metadata) is never an option."""
    accepted = inspect.signature(module_class.__init__).parameters
    takes_any = any(p.kind == p.VAR_KEYWORD for p in accepted.values())
    args = {k: v for k, v in args.items() if k != "note"}
    if isinstance(args.get("dtype"), str):
        args["dtype"] = getattr(torch, args["dtype"])
    dropped = {k: args.pop(k) for k in list(args) if not takes_any and k not in accepted}
    module = module_class(**args)
    if dropped.get("bias") is False and isinstance(getattr(module, "bias", None), nn.Parameter):
        module.register_parameter("bias", None)
    return module


def mask_keeps_true(name, consumer_is_sdpa):
    lowered = name.lower()
    if "pad" in lowered:
        return False
    if "attention_mask" in lowered or "keep" in lowered or "valid" in lowered:
        return True
    return consumer_is_sdpa


def causal_mask(dims):
    """mhacheck's {"causal": [L, S]}: 0 on and below the diagonal, -inf above (for L == S,
    nn.Transformer.generate_square_subsequent_mask)."""
    return torch.full(dims, float("-inf")).triu(1)


def named_value(name):
    """The value a tensor is named after, as a spec states it (mhacheck's src/check/mask_pattern.cpp):
    ones, zeros, neg_inf / minus_inf / ninf; None for any other name."""
    lowered = name.lower()
    letters = "".join(c for c in lowered if c.isalpha())
    if any(word in letters for word in ("neginf", "minusinf", "ninf")):
        return float("-inf")
    words = "".join(c if c.isalpha() else " " for c in lowered).split()
    if "ones" in words or "one" in words:
        return 1.0
    if "zeros" in words or "zero" in words:
        return 0.0
    return None


def make_values(tensors, symbols, calls, generator):
    """Random inputs. Bool/int masks, and float masks named like a 1 = keep mask, keep the first
    position and mask the last one of every row, so no row is fully masked whichever convention
    the consumer reads."""
    sdpa_inputs = {c[a] for c in calls if c.get("op") == "F.scaled_dot_product_attention" for a in c if a in TENSOR_ARGUMENTS}
    values = {}
    for name, decl in tensors.items():
        shape, dtype = declaration(decl)
        dims = [size(d, symbols) for d in shape]
        if dtype == "causal":
            values[name] = causal_mask(dims)
        elif isinstance(decl, dict) and "fill" in decl:
            # docs/spec-format.md: every element holds "fill", as torch.full(shape, fill); it is read
            # before the name, as mhacheck's declared_value does. float() reads every form it takes:
            # a number, true/false, "-inf", "inf", "nan".
            values[name] = torch.full(dims, float(decl["fill"])).to(getattr(torch, dtype))
        elif named_value(name) is not None:
            values[name] = torch.full(dims, named_value(name)).to(getattr(torch, dtype))
        elif dtype in ("bool", "int64", "int32", "uint8"):
            if "mask" in name or "pad" in name or dtype == "bool":
                keep = torch.rand(dims, generator=generator) < 0.6
                if dims and dims[-1] >= 2:
                    keep[..., 0] = True
                    keep[..., -1] = False
                stored = keep if mask_keeps_true(name, name in sdpa_inputs) else ~keep
                values[name] = stored.to(getattr(torch, dtype))
            else:
                values[name] = torch.randint(0, 100, dims, generator=generator, dtype=getattr(torch, dtype))
        elif "mask" in name and mask_keeps_true(name, False):
            # A float mask named like Hugging Face's attention_mask holds 1 = keep, 0 = padding.
            keep = torch.rand(dims, generator=generator) < 0.6
            if dims and dims[-1] >= 2:
                keep[..., 0] = True
                keep[..., -1] = False
            values[name] = keep.to(getattr(torch, dtype))
        else:
            values[name] = torch.randn(dims, generator=generator, dtype=getattr(torch, dtype))
    return values


# ---- running a spec -------------------------------------------------------------------------

def sdpa(query, key, value, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError("Expected query, key, and value to have the same dtype")
    if attn_mask is not None:
        if not (attn_mask.dtype == torch.bool or attn_mask.dtype == query.dtype):
            raise RuntimeError("Expected attn_mask dtype to be bool or float or to match query dtype")
        if attn_mask.dtype == torch.bool:
            attn_mask = torch.zeros(attn_mask.shape, dtype=query.dtype).masked_fill(~attn_mask, float("-inf"))
    return math_path_2x(query, key, value, attn_mask, is_causal, scale, enable_gqa, torch.matmul)


def number_or_tensor(other, env):
    """An operand: a tensor's name, a number, or "inf", "-inf", "nan" as the spec writes them."""
    if other in ("inf", "-inf", "nan"):
        return float(other)
    return env[other] if isinstance(other, str) else other


def run_call(call, modules, built, env, symbols):
    def tensor(arg):
        name = call.get(arg)
        return None if name is None else env[name]

    if "module" in call:
        module = built[call["module"]]
        if isinstance(module, nn.Embedding):  # random ids are drawn from 0..99: fold them into the table
            return [module(tensor("input") % module.num_embeddings)]
        if isinstance(module, (nn.Linear, nn.LayerNorm)):
            return [module(tensor("input"))]
        kwargs = {a: tensor(a) for a in call if a in TENSOR_ARGUMENTS}
        kwargs.update({a: call[a] for a in call if a not in TENSOR_ARGUMENTS and a not in NOT_ARGUMENTS})
        result = module(**kwargs)
        return list(result) if isinstance(result, tuple) else [result]
    op = call["op"]
    if op in ("view", "reshape"):
        return [getattr(tensor("input"), op)(*[size(d, symbols) for d in call["shape"]])]
    if op == "transpose":
        return [tensor("input").transpose(call["dim0"], call["dim1"])]
    if op == "permute":
        return [tensor("input").permute(*call["dims"])]
    if op == "getitem":  # the index as Python writes it: "[:, None, None, :]"
        return [eval("x" + call["index"], {"__builtins__": {}}, {**dict(symbols), "x": tensor("input")})]
    if op == "repeat":
        return [tensor("input").repeat(*[size(d, symbols) for d in call["repeats"]])]
    if op == "expand":
        return [tensor("input").expand(*[size(d, symbols) for d in call["size"]])]
    if op == "narrow":
        return [tensor("input").narrow(call["dim"], call["start"], size(call["length"], symbols))]
    if op == "contiguous":
        return [tensor("input").contiguous()]
    if op == "flatten":
        return [tensor("input").flatten(call.get("start_dim", 0), call.get("end_dim", -1))]
    if op == "chunk":
        return list(tensor("input").chunk(call["chunks"], call.get("dim", 0)))
    if op == "unbind":
        return list(tensor("input").unbind(call.get("dim", 0)))
    if op == "repeat_interleave":
        return [tensor("input").repeat_interleave(call["repeats"], dim=call.get("dim"))]
    if op == "add":
        return [tensor("input") + number_or_tensor(call["other"], env)]
    if op in ("eq", "ne", "gt", "ge", "lt", "le"):  # `mask == 0`, `pos < lengths`: other a number or a tensor
        other = tensor("other") if isinstance(call["other"], str) else call["other"]
        return [getattr(torch, op)(tensor("input"), other)]
    if op == "bitwise_not":
        return [~tensor("input")]
    if op == "logical_not":
        return [tensor("input").logical_not()]
    if op in ("matmul", "mul", "sub"):
        other = number_or_tensor(call["other"], env)
        return [{"matmul": torch.matmul, "mul": torch.mul, "sub": torch.sub}[op](tensor("input"), other)]
    if op == "bmm":
        return [torch.bmm(tensor("input"), tensor("mat2"))]
    if op == "softmax":
        return [torch.softmax(tensor("input"), call["dim"])]
    if op == "log_softmax":
        return [torch.log_softmax(tensor("input"), call["dim"])]
    if op == "normalize":  # F.normalize: p=2, default dim=1
        return [torch.nn.functional.normalize(tensor("input"), dim=call.get("dim", 1))]
    if op in ("tril", "triu"):
        return [getattr(torch, op)(tensor("input"), call.get("diagonal", 0))]
    if op in ("gelu", "tanh", "relu"):
        return [getattr(torch.nn.functional, op)(tensor("input"))]
    if op == "div":
        return [torch.div(tensor("input"), number_or_tensor(call["other"], env), rounding_mode=call.get("rounding_mode"))]
    if op == "pad":
        value = call.get("value")
        return [torch.nn.functional.pad(tensor("input"), call["pad"], value=0 if value is None else value)]
    if op == "squeeze":
        return [tensor("input").squeeze() if call.get("dim") is None else tensor("input").squeeze(call["dim"])]
    if op in ("sum", "mean"):
        if call.get("dim") in (None, []):  # every dim
            return [getattr(tensor("input"), op)()]
        return [getattr(tensor("input"), op)(call["dim"], keepdim=call.get("keepdim", False))]
    if op == "split_with_sizes":
        return list(tensor("input").split(call["split_sizes"], call.get("dim", 0)))
    if op == "masked_fill":
        value = call["value"]
        # 2.x refuses a mask that is not bool; 1.13 accepted a 0/1 one (deprecated).
        if tensor("mask").dtype != torch.bool:
            raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype {}".format(tensor("mask").dtype))
        return [tensor("input").masked_fill(tensor("mask"), float(value) if isinstance(value, str) else value)]
    if op == "select":
        return [tensor("input").select(call["dim"], call["index"])]
    if op == "unsqueeze":
        return [tensor("input").unsqueeze(call["dim"])]
    if op in ("bitwise_and", "bitwise_or", "logical_and", "logical_or"):  # `a & b`, `a | b`: other a tensor or a number
        other = tensor("other") if isinstance(call["other"], str) else call["other"]
        return [getattr(torch, op)(tensor("input"), other)]
    if op in ("float", "double", "half", "bfloat16", "bool", "long", "int"):  # Tensor.float() and its like
        return [getattr(tensor("input"), op)()]
    if op == "cat":
        return [torch.cat([env[n] for n in call["tensors"]], call.get("dim", 0))]
    if op == "einsum":
        return [torch.einsum(call["equation"], *[env[n] for n in call["operands"]])]
    if op == "normalize":  # F.normalize, PyTorch's defaults p=2.0, dim=1
        return [torch.nn.functional.normalize(tensor("input"), p=call.get("p", 2.0), dim=call.get("dim", 1))]
    if op == "F.scaled_dot_product_attention":
        options = {a: call[a] for a in ("is_causal", "scale", "enable_gqa") if a in call}
        return [sdpa(tensor("query"), tensor("key"), tensor("value"), tensor("attn_mask"), **options)]
    raise Unsupported(op)


def run_spec(modules, calls, built, values, symbols):
    """Every call's outputs as "<id>.<index>" (later calls read them by the names the call gives)."""
    env = dict(values)
    outputs = {}
    with torch.no_grad():
        for call in calls:
            results = run_call(call, modules, built, env, symbols)
            names = call.get("outputs") or []
            for i, result in enumerate(results):
                if result is None:
                    continue
                if i < len(names):
                    env[names[i]] = result
                outputs["{}.{}".format(call["id"], i)] = result
    return outputs


def build_modules(modules, names=None):
    torch.manual_seed(SEED)
    built = {}
    for name, decl in modules.items():
        built[name] = build_module(decl, names).eval()
    return built


def outcome(modules, calls, built, values, symbols):
    try:
        return run_spec(modules, calls, built, values, symbols), None
    except Unsupported:
        raise
    except Exception as e:  # noqa: BLE001  (PyTorch's verdict, recorded)
        return None, "{}: {}".format(type(e).__name__, str(e).splitlines()[0][:200])


# ---- misbehaviour ---------------------------------------------------------------------------

def batch_dim(decl):
    """The dim the spec names as a batch; None for a shape whose named dims name no batch (a
    per-head bias ("H", "T", "T") is shared by every batch entry); UNKNOWN for a shape of numbers
    only, which says nothing of its dims' roles (a positional table, ALiBi's slopes, a seq-first
    query). "N" is a batch only when no other dim is named as one: timm's and DETR's (B, N, C)
    write N for the tokens (mhacheck's roles read it so too)."""
    shape = declaration(decl)[0]
    names = [dim.lower() if isinstance(dim, str) else None for dim in shape]
    batches = [i for i, name in enumerate(names) if name in BATCH_NAMES or (name is not None and "batch" in name)]
    if len(batches) > 1:
        batches = [i for i in batches if names[i] != "n"]
    if batches:
        return batches[0]
    return None if any(name is not None for name in names) else UNKNOWN


UNKNOWN = "unknown"


def is_mask(name, calls):
    """Passed as a mask, or turned into one by a comparison or an inversion (an inserted fix)."""
    return any(call.get(a) == name and ("mask" in a or call.get("op") in MASK_MAKERS and any(is_mask(o, calls) for o in call.get("outputs", [])))
               for call in calls for a in call)


MASK_MAKERS = {"eq", "ne", "gt", "ge", "lt", "le", "bitwise_not", "logical_not"}


def leaks(modules, calls, built, values, tensors, symbols, generator):
    """An output element that changes both when batch entry 0 and when batch entry 1 of the data
    inputs change: the computation mixes batch entries. None when there are not two entries;
    "unknown" when no data input names its batch dim and some are written as numbers only (which
    dim is a batch there, if any, the spec does not say). Inputs of numbers only beside named ones
    are left unperturbed, as tables shared by the batch."""
    base, error = outcome(modules, calls, built, values, symbols)
    if error:
        return None
    data = [name for name in values if not is_mask(name, calls)]
    axes = {name: batch_dim(tensors[name]) for name in data}
    if not any(isinstance(axis, int) for axis in axes.values()) and UNKNOWN in axes.values():
        return UNKNOWN
    changed = []
    for entry in (0, 1):
        perturbed = dict(values)
        for name in data:
            value, axis = values[name], axes[name]
            if not isinstance(axis, int) or value.dim() <= axis or value.shape[axis] < 2:
                continue  # broadcast over the batch (a positional embedding): not one entry's data
            new = value.clone()
            index = [slice(None)] * value.dim()
            index[axis] = entry
            if value.is_floating_point():
                new[tuple(index)] += torch.randn(new[tuple(index)].shape, generator=generator)
            else:
                new[tuple(index)] = torch.randint(0, 100, new[tuple(index)].shape, generator=generator)
            perturbed[name] = new
        if all(perturbed[name] is values[name] for name in values):
            return None
        out, _ = outcome(modules, calls, built, perturbed, symbols)
        changed.append({k: ~torch.isclose(out[k], base[k], atol=1e-6, equal_nan=True) for k in base if base[k].is_floating_point()})
    return any(bool((changed[0][k] & changed[1][k]).any()) for k in changed[0])


# ---- fixes ----------------------------------------------------------------------------------

def apply_patch(document, patch):
    document = json.loads(json.dumps(document))
    for op in patch:
        if op["op"] == "move":  # RFC 6902: remove at "from", then add at "path"
            parts = [p.replace("~1", "/").replace("~0", "~") for p in op["from"].split("/")[1:]]
            parent = document
            for part in parts[:-1]:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            key = int(parts[-1]) if isinstance(parent, list) else parts[-1]
            moved = parent[key]
            del parent[key]
            op = {"op": "add", "path": op["path"], "value": moved}
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = document
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        if op["op"] == "add" and isinstance(parent, list):  # RFC 6902: inserts before the index
            parent.insert(len(parent) if parts[-1] == "-" else int(parts[-1]), op["value"])
        elif op["op"] in ("replace", "add"):
            if isinstance(parent, list):
                parent[int(parts[-1])] = op["value"]
            else:
                parent[parts[-1]] = op["value"]
        elif op["op"] == "remove":
            del parent[int(parts[-1]) if isinstance(parent, list) else parts[-1]]
        else:
            raise Unsupported(op["op"])
    return document


EXPRESSION = re.compile(r"\([^()]*\)(?:\.\w+(?:\([^()]*\))?|\[[^\]]*\])+|~?[A-Za-z_]\w*(?:\.\w+(?:\([^()]*\))?|\[[^\]]*\])+(?: == 0)?|~?[A-Za-z_]\w* == 0|~[A-Za-z_]\w*|\.\w+\([^()]*\)|\.T\b")


def derive_values(text, old_tensors, new_tensors, old_values, symbols, old_calls, calls):
    """The patched spec's inputs: unchanged declarations keep their values; a changed one is the
    fix's expression evaluated on the original tensor the same argument got (by the argument's
    name or the tensor's)."""
    values, used = {}, []
    argument_of = {call[a]: (call["id"], a) for call in calls for a in call if a in TENSOR_ARGUMENTS and isinstance(call[a], str)}
    given = {(call["id"], a): call[a] for call in old_calls for a in call if a in TENSOR_ARGUMENTS and isinstance(call[a], str)}
    for name, decl in new_tensors.items():
        if name in old_tensors and old_tensors[name] == decl:
            values[name] = old_values[name]
            continue
        shape, dtype = declaration(decl)
        if dtype == "causal":  # generated from its declaration: no user data to carry over
            values[name] = causal_mask([size(d, symbols) for d in shape])
            continue
        want = [size(d, symbols) for d in shape]
        call_argument = argument_of.get(name, (None, name))
        old_name = given.get(call_argument, name)
        original = old_values.get(old_name)
        found = None
        if original is not None:
            # A fix's text may name the spec's dims (q.view(B, H, T, D)): their sizes are in scope.
            scope = dict(symbols, **{name: original, old_name: original, call_argument[1]: original, "torch": torch})
            for candidate in EXPRESSION.findall(text):
                source = ("x" + candidate) if candidate.startswith(".") else candidate
                local = dict(scope, x=original)
                try:
                    result = eval(source, {"__builtins__": {}}, local)
                except Exception:  # noqa: BLE001  (not an expression of this tensor)
                    continue
                if isinstance(result, torch.Tensor) and list(result.shape) == want and result.dtype == getattr(torch, dtype):
                    found = (candidate, result)
                    break
        if found is None:
            found = moved_argument(name, want, dtype, text, old_values, symbols)
        if found is None:
            return None, None
        values[name] = found[1]
        used.append(found[0])
    return values, sorted(set(used))


def moved_argument(name, want, dtype, text, old_values, symbols):
    """A tensor the fix passes under a new name ("tgt_mask=memory_mask",
    "key_padding_mask=~attention_mask[:, 0, 0, :]" at the end of its text): the expression
    evaluated on the original tensors and the spec's dims (mask.view(B, 1, 1, S)), which must give
    the declared shape and dtype."""
    match = re.search(r"\b{}=(.+)$".format(re.escape(name)), text)
    if not match:
        return None
    scope = dict(symbols, **old_values, torch=torch)
    try:
        result = eval(match.group(1), {"__builtins__": {}}, scope)
    except Exception:  # noqa: BLE001  (not an expression of the original tensors)
        return None
    if isinstance(result, torch.Tensor) and list(result.shape) == want and result.dtype == getattr(torch, dtype):
        return match.group(0), result
    return None


def mhacheck_first_fix(binary, spec):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        result = subprocess.run([binary, "check", "--format", "json", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    report = json.loads(result.stdout)
    for severity in ("error", "warning"):
        for diagnostic in report["diagnostics"]:
            if diagnostic["severity"] == severity:
                fixes = diagnostic.get("fixes", [])
                return (diagnostic["code"], fixes[0]) if fixes else (diagnostic["code"], None)
    return None, None


def operator(call):
    return call.get("op") or call.get("module")


def same_operator_pairs(f_calls, f_outputs, i_calls, i_outputs, done):
    """A fixed program's outputs that no intended output of the same id matches, paired with the
    output of the intended program's only call of the same operator, when the shapes agree (a fix
    that inserts a transpose before SDPA gives SDPA's output as the intended program's SDPA call)."""
    pairs = []
    for call in f_calls:
        same = [c for c in i_calls if operator(c) == operator(call)]
        if len(same) != 1:
            continue
        for index in range(len(call.get("outputs") or [None])):
            f_key, i_key = "{}.{}".format(call["id"], index), "{}.{}".format(same[0]["id"], index)
            if f_key in done or f_key not in f_outputs or i_key not in i_outputs:
                continue
            if f_outputs[f_key].shape == i_outputs[i_key].shape:
                pairs.append((f_key, i_key))
    return pairs


def shapes(outputs):
    return {k: list(v.shape) for k, v in outputs.items()}


def verdict(entry, binary, silent):
    spec = entry["spec"]
    modules, tensors, calls = normalise(spec)
    symbols = symbols_of(spec, tensors)
    generator = torch.Generator().manual_seed(SEED)
    values = make_values(tensors, symbols, calls, generator)
    built = build_modules(modules, spec.get("dims"))
    outputs, error = outcome(modules, calls, built, values, symbols)
    record = {"name": entry["name"], "symbols": symbols, "pytorch_raises": error is not None}
    if error:
        record["error"] = error
    else:
        record["outputs"] = shapes(outputs)
        record["leaks"] = leaks(modules, calls, built, values, tensors, symbols, generator)
    i_outputs = None
    # The intended program runs on the same inputs even where the case raises, so that the first
    # fix of a raising case is compared with it too (a (T, T, H) bias permuted, not transposed).
    if "intended" in entry:
        intended = entry["intended"]
        i_modules, i_tensors, i_calls = normalise(intended.get("spec", spec))
        i_values = dict(values)
        for name, expression in intended.get("values", {}).items():
            i_values[name] = eval(expression, {"__builtins__": {}, "torch": torch}, dict(values))
        i_outputs, i_error = outcome(i_modules, i_calls, build_modules(i_modules, spec.get("dims")), i_values, symbols)
        if i_error:
            raise RuntimeError("{}: the intended program fails: {}".format(entry["name"], i_error))
    if i_outputs is not None and outputs is not None:
        compared = [k for k in outputs if k in i_outputs and outputs[k].shape == i_outputs[k].shape]
        if not compared:
            raise RuntimeError("{}: no output of the intended program to compare".format(entry["name"]))
        # A call that gives another shape than the intended one (scores (B, T, H, H) for (B, H, T, T)) differs too.
        reshaped = [k for k in outputs if k in i_outputs and outputs[k].shape != i_outputs[k].shape]
        record["differs_from_intended"] = bool(reshaped) or any(
            not torch.allclose(outputs[k], i_outputs[k], atol=1e-5, equal_nan=True) for k in compared)
    if not silent:
        return record
    code, fix = mhacheck_first_fix(binary, spec)
    if fix is None:
        return record
    patched = apply_patch(spec, fix["patch"])
    f_modules, f_tensors, f_calls = normalise(patched)
    f_values, expressions = derive_values(fix["description"], tensors, f_tensors, values, symbols, calls, f_calls)
    fixed = {"description": fix["description"], "patch": fix["patch"]}
    if f_values is None:
        fixed["expression"] = None  # the text gives no expression that yields the patched tensors
        f_values = make_values(f_tensors, symbols, f_calls, generator)
    else:
        fixed["expression"] = expressions
    f_built = build_modules(f_modules, spec.get("dims"))
    for name, module in f_built.items():  # a fix that only changes options keeps the weights
        if name in built:
            try:
                module.load_state_dict(built[name].state_dict())
            except RuntimeError:
                pass
    f_outputs, f_error = outcome(f_modules, f_calls, f_built, f_values, symbols)
    fixed["pytorch_raises"] = f_error is not None
    if f_error:
        fixed["error"] = f_error
    else:
        fixed["outputs"] = shapes(f_outputs)
        fixed["leaks"] = leaks(f_modules, f_calls, f_built, f_values, f_tensors, symbols, generator)
        if i_outputs is not None:  # the fix computes what the case was meant to compute
            pairs = [(k, k) for k in i_outputs if k in f_outputs and f_outputs[k].shape == i_outputs[k].shape]
            pairs += same_operator_pairs(f_calls, f_outputs, i_calls, i_outputs, {k for k, _ in pairs})
            # None: the fix leaves its outputs in another layout than the intended program's.
            fixed["matches_intended"] = all(
                torch.allclose(f_outputs[f], i_outputs[i], atol=1e-5, equal_nan=True) for f, i in pairs) if pairs else None
            fixed["compared"] = ["{}={}".format(f, i) if f != i else f for f, i in pairs]
    record["first_fix"] = fixed
    return record


def held_out_verdict(entry, binary, silent):
    """A held-out set is scored, not fixture-checked: a case this script cannot run is recorded.
    Anything else (a KeyError, a NameError, ...) is a bug of this script or of the case, and fails."""
    try:
        return verdict(entry, binary, silent)
    except Unsupported as e:
        return {"name": entry["name"], "unsupported": str(e)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mhacheck", default=os.path.join(HERE, "..", "..", "build", "mhacheck"))
    parser.add_argument("--dir", default=HERE, help="the directory holding silent.json and correct.json")
    parser.add_argument("--out", default=None, help="default: DIR/pytorch_verdicts.json")
    args = parser.parse_args()
    out = args.out or os.path.join(args.dir, "pytorch_verdicts.json")
    held_out = os.path.abspath(args.dir) != HERE
    result = {"generator": "tests/corpus/gen_pytorch_verdicts.py", "torch_version": torch.__version__}
    for kind, silent in (("silent", True), ("correct", False)):
        with open(os.path.join(args.dir, kind + ".json")) as f:
            cases = json.load(f)
        result[kind] = [held_out_verdict(entry, args.mhacheck, silent) if held_out else verdict(entry, args.mhacheck, silent)
                        for entry in cases]
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
