#!/usr/bin/python3
"""Generate PyTorch ground-truth fixtures for mhacheck's F.scaled_dot_product_attention shape rules.

Writes tests/pytorch/sdpa_cases.json (one case per line).

mhacheck follows PyTorch 2.x, whose F.scaled_dot_product_attention does not exist in the installed
PyTorch 1.13 (Debian's python3-torch).  `expect_sdpa_2x` replays 2.x's CPU code path
(aten/src/ATen/native/transformers/attention.cpp) in the order the checks happen:

  1. validate_sdpa_input: q/k/v dtypes equal; q/k/v at least 2-D; attn_mask dtype is bool, float32
     or query's dtype.  These three messages are synthesized here ("synthesized": true).
  2. The math path (_scaled_dot_product_attention_math), which is what runs for every malformed
     input (flash on CPU is only chosen for well-formed 4-D inputs and gives the same shapes):
     half/bfloat16 q/k/v are upcast to float32, a bool mask becomes a float mask of query's dtype,
     q is scaled by sqrt(scale); is_causal with an explicit mask is an error (synthesized), else the
     mask is ones(L, S).tril(); enable_gqa reads size(-3) of q, k, v (a real 1.13 IndexError for
     2-D inputs), checks the head counts (synthesized message) and repeat_interleaves k and v;
     attn = matmul(q, k.transpose(-2, -1) * sqrt(scale)); attn.add_(mask) (in place); softmax;
     out = matmul(attn, v).
     These steps run for real on 1.13 tensors, so every matmul / broadcast / in-place message is
     PyTorch's own.

One 1.13 / 2.x difference matters for messages: 1.13's torch.matmul folds a 2-D @ N-D product into
one mm when the N-D operand's batch dims are contiguous, while 2.x (should_fold returns false when
tensor1 is 2-D) takes the broadcast + bmm route.  `matmul_2x` therefore replays 2.x's _matmul_impl
dispatch (mm / folded mm / infer_size + expand + bmm) with 1.13's own mm, bmm and _infer_size, whose
messages are unchanged in 2.x.  For N-D @ 2-D and N-D @ N-D it is checked against torch.matmul on
every call.  Every case whose expectation differs from what plain 1.13 torch.matmul would give
carries a "pytorch_2x" note quoting the 1.13 text.

Usage:  /usr/bin/python3 tests/pytorch/gen_sdpa_cases.py [--out PATH]

Deterministic: a fixed seed drives every random choice; the file only changes when this script or
the installed PyTorch changes.  Only stdlib, torch and numpy are used.
"""

import argparse
import json
import math
import os
import random
import sys
from collections import Counter, OrderedDict

import numpy as np
import torch

from fixture_common import seed_everything, DTYPES, DTYPE_NAMES, FLOAT_NAMES, TYPEMETA_NAMES

SEED = 20240917
GENERATOR = "tests/pytorch/gen_sdpa_cases.py"


ROLES = ("query", "key", "value")


# ---------------------------------------------------------------------------------------------
# Spec construction
# ---------------------------------------------------------------------------------------------

def tspec(shape, dtype="float32"):
    return OrderedDict([("shape", list(shape)), ("dtype", dtype)])


def make_spec(q, k, v, mask=None, is_causal=False, scale=None, enable_gqa=False,
              dtype="float32", kdtype=None, vdtype=None, mask_dtype="bool"):
    spec = OrderedDict()
    spec["op"] = "scaled_dot_product_attention"
    spec["query"] = tspec(q, dtype)
    spec["key"] = tspec(k, kdtype or dtype)
    spec["value"] = tspec(v, vdtype or dtype)
    if mask is not None:
        spec["attn_mask"] = tspec(mask, mask_dtype)
    if is_causal:
        spec["is_causal"] = True
    if scale is not None:
        spec["scale"] = scale
    if enable_gqa:
        spec["enable_gqa"] = True
    return spec


def hash_name(s):
    h = 0
    for ch in s:
        h = (h * 131 + ord(ch)) % 2147483647
    return h


def make_tensor(ts, is_mask=False):
    dt = DTYPES[ts["dtype"]]
    shape = tuple(ts["shape"])
    if is_mask:
        if dt == torch.bool:
            return torch.rand(shape) > 0.3
        return torch.zeros(shape, dtype=dt)
    if dt.is_floating_point:
        return torch.randn(shape, dtype=torch.float32).to(dt)
    return torch.zeros(shape, dtype=dt)


# ---------------------------------------------------------------------------------------------
# 2.x at::matmul dispatch, replayed with 1.13 primitives
# ---------------------------------------------------------------------------------------------

def _should_fold_2x(t1, t2):
    """2.x should_fold(tensor1, tensor2, has_out=False), no tensor requires grad."""
    larger = t1.dim() >= t2.dim()
    big = t1 if larger else t2.mT
    dim_big = big.dim()
    dim_small = t2.dim() if larger else t1.dim()
    if not (dim_big >= 3 and dim_small <= 2):
        return False
    if t1.dim() == 2:
        return False
    if big.numel() == 0:
        return True
    shape, strides = big.shape, big.stride()
    for i in range(dim_big - 2):
        if strides[i] != strides[i + 1] * shape[i + 1]:
            return False
    return True


def _matmul_2x_impl(t1, t2):
    d1, d2 = t1.dim(), t2.dim()
    if d1 == 0 or d2 == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           "{}D and {}D".format(d1, d2))
    if d1 <= 2 and d2 <= 2:
        return torch.matmul(t1, t2)  # dot / mv / mm: identical dispatch in 1.13 and 2.x
    if _should_fold_2x(t1, t2):
        transpose = d2 > d1
        a = t2.mT if transpose else t1
        b = t2 if not transpose else (t1.t() if d1 == 2 else t1)
        sizes = list(a.shape)
        out_shape = sizes[:-1]
        folded = 1
        for s in out_shape:
            folded *= s
        if b.dim() == 2:
            out_shape.append(b.shape[1])
            out = a.reshape(folded, sizes[-1]).mm(b).view(out_shape)
            return out.mT.contiguous() if transpose else out
        return a.reshape(folded, sizes[-1]).mv(b).view(out_shape)
    # broadcast + bmm
    n = t1.shape[-2] if d1 > 1 else 1
    m1 = t1.shape[-1]
    batch1 = list(t1.shape[:max(d1 - 2, 0)])
    m2 = t2.shape[-2] if d2 > 1 else t2.shape[0]
    p = t2.shape[-1] if d2 > 1 else 1
    batch2 = list(t2.shape[:max(d2 - 2, 0)])
    out_batch = list(torch._C._infer_size(torch.Size(batch1), torch.Size(batch2)))
    prod = 1
    for s in out_batch:
        prod *= s
    a = t1.expand(out_batch + [n, m1]).reshape(prod, n, m1)
    vector_rhs = d2 == 1
    if vector_rhs:
        b = t2.expand(out_batch + [m2]).reshape(prod, m2).unsqueeze(2)
    else:
        b = t2.expand(out_batch + [m2, p]).reshape(prod, m2, p)
    out_shape = list(out_batch)
    if d1 > 1:
        out_shape.append(n)
    if d2 > 1:
        out_shape.append(p)
    r = a.bmm(b)
    if vector_rhs:
        r = r.squeeze(-1)
    return r.view(out_shape)


def _outcome(fn, *args):
    try:
        return ("ok", tuple(fn(*args).shape))
    except Exception as e:  # noqa: BLE001 - we record whatever PyTorch raises
        return (type(e).__name__, str(e))


class MatmulLog:
    """2.x's matmul; checks that it agrees with plain 1.13 torch.matmul unless tensor1 is 2-D."""

    def __call__(self, t1, t2):
        mine = _outcome(_matmul_2x_impl, t1, t2)
        plain = _outcome(torch.matmul, t1, t2)
        if mine != plain and t1.dim() != 2:
            raise AssertionError("matmul_2x disagrees with torch.matmul for {} @ {}: {} vs {}".format(
                list(t1.shape), list(t2.shape), mine, plain))
        return _matmul_2x_impl(t1, t2)


# ---------------------------------------------------------------------------------------------
# 2.x F.scaled_dot_product_attention on CPU
# ---------------------------------------------------------------------------------------------

def err(exc_type, message):
    return {"ok": False, "error": OrderedDict([("type", exc_type), ("message", message)])}


def expect_sdpa_2x(spec):
    """Returns (expect, synthesized, note)."""
    q_s, k_s, v_s = spec["query"], spec["key"], spec["value"]
    m_s = spec.get("attn_mask")
    is_causal = spec.get("is_causal", False)
    scale = spec.get("scale")
    enable_gqa = spec.get("enable_gqa", False)
    qd, kd, vd = q_s["dtype"], k_s["dtype"], v_s["dtype"]

    # --- validate_sdpa_input (synthesized) ---
    if not (qd == kd == vd):
        return err("RuntimeError",
                   "Expected query, key, and value to have the same dtype, but got query.dtype: {} "
                   "key.dtype: {} and value.dtype: {} instead.".format(
                       TYPEMETA_NAMES[qd], TYPEMETA_NAMES[kd], TYPEMETA_NAMES[vd])), True, None
    qn, kn, vn = len(q_s["shape"]), len(k_s["shape"]), len(v_s["shape"])
    if not (qn >= 2 and kn >= 2 and vn >= 2):
        return err("RuntimeError",
                   "Expected query, key, and value to all be  at least 2 dimensional, but got "
                   "query.dim: {} key.dim: {} and value.dim: {} instead.".format(qn, kn, vn)), True, None
    if m_s is not None:
        md = m_s["dtype"]
        if not (md == "bool" or md == "float32" or md == qd):
            return err("RuntimeError",
                       "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                       "attn_mask.dtype: {} and  query.dtype: {} instead.".format(
                           TYPEMETA_NAMES[md], TYPEMETA_NAMES[qd])), True, None

    torch.manual_seed(hash_name(json.dumps(spec, sort_keys=True)))
    query_, key, value = (make_tensor(s) for s in (q_s, k_s, v_s))
    attn_mask = make_tensor(m_s, True) if m_s is not None else None
    # convert_boolean_attn_mask(attn_mask, query_.dtype()) before the backend runs
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        attn_mask = torch.zeros(attn_mask.shape, dtype=query_.dtype).masked_fill(
            attn_mask.logical_not(), float("-inf"))

    expect, synthesized = _run_math(query_, key, value, attn_mask, is_causal, scale, enable_gqa,
                                    MatmulLog())
    if synthesized:
        return expect, True, None
    # the same with plain 1.13 torch.matmul: note the cases where 2.x's dispatch changes the outcome
    plain, _ = _run_math(query_, key, value, attn_mask, is_causal, scale, enable_gqa, torch.matmul)
    note = None
    if plain != expect:
        plain_txt = ("no error, output {}".format(plain["outputs"]["output"]["shape"]) if plain["ok"]
                     else "{}: {}".format(plain["error"]["type"], plain["error"]["message"]))
        note = ("2.x's matmul does not fold a 2-D @ N-D product into one mm (should_fold is false "
                "when tensor1 is 2-D) and broadcasts + bmm instead; plain 1.13 torch.matmul gives: "
                + plain_txt)
    return expect, False, note


def _run_math(query_, key, value, attn_mask, is_causal, scale, enable_gqa, matmul):
    try:
        out = math_path_2x(query_, key, value, attn_mask, is_causal, scale, enable_gqa, matmul)
    except SynthesizedError as e:
        return err(e.exc_type, e.message), True
    except AssertionError:
        raise
    except Exception as e:  # noqa: BLE001
        return err(type(e).__name__, str(e)), False
    outputs = OrderedDict()
    outputs["output"] = tspec(out.shape, DTYPE_NAMES[out.dtype])
    return {"ok": True, "outputs": outputs}, False


class SynthesizedError(Exception):
    def __init__(self, exc_type, message):
        Exception.__init__(self, message)
        self.exc_type = exc_type
        self.message = message


def math_path_2x(query_, key, value, attn_mask, is_causal, scale, enable_gqa, matmul):
    origin_dtype = query_.dtype
    up = (torch.float16, torch.bfloat16)
    query_acc = query_.float() if query_.dtype in up else query_
    key_acc = key.float() if key.dtype in up else key
    value_acc = value.float() if value.dtype in up else value

    is_negative_scaling = scale is not None and scale < 0.0
    if scale is None:
        softmax_scale = 1.0 / math.sqrt(query_acc.size(-1))
    else:
        softmax_scale = abs(scale) if is_negative_scaling else scale
    scaling_factor = math.sqrt(softmax_scale)
    query = query_acc * ((0.0 - scaling_factor) if is_negative_scaling else scaling_factor)

    if is_causal:
        if attn_mask is not None:
            raise SynthesizedError(
                "RuntimeError",
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
        L, S = query.size(-2), key_acc.size(-2)
        causal = torch.ones(L, S, dtype=torch.bool).tril()
        attn_mask = torch.zeros(L, S, dtype=query.dtype).masked_fill(causal.logical_not(), float("-inf"))

    # pre_process_group_query_attention_input
    if enable_gqa:
        hq = query.size(-3)
        hk = key_acc.size(-3)
        hv = value_acc.size(-3)
        all_equal = hq == hk and hk == hv
        if not (all_equal or (hq % hk == 0 and hq % hv == 0)):
            raise SynthesizedError("RuntimeError",
                                   "Number of heads in key and value must divide the number of heads in ")
        if not all_equal:
            key_acc = key_acc.repeat_interleave(hq // hk, -3)
            value_acc = value_acc.repeat_interleave(hq // hv, -3)

    attn = matmul(query, key_acc.transpose(-2, -1) * scaling_factor)
    if attn_mask is not None:
        attn.add_(attn_mask)
    attn = torch.softmax(attn, -1)
    return matmul(attn, value_acc).to(origin_dtype)


# ---------------------------------------------------------------------------------------------
# Case collection
# ---------------------------------------------------------------------------------------------

class Cases:
    def __init__(self):
        self.items = []
        self.names = set()
        self.specs = set()

    def add(self, name, spec):
        key = json.dumps(spec, sort_keys=True)
        if key in self.specs:
            return
        base, i = name, 2
        while name in self.names:
            name = "{}-{}".format(base, i)
            i += 1
        expect, synthesized, note = expect_sdpa_2x(spec)
        case = OrderedDict()
        case["name"] = name
        case["spec"] = spec
        case["expect"] = expect
        case["synthesized"] = synthesized
        if note:
            case["pytorch_2x"] = note
        self.items.append(case)
        self.names.add(name)
        self.specs.add(key)


def sh(shape):
    return "x".join(str(s) for s in shape) if shape else "scalar"


def auto_name(prefix, spec):
    parts = [prefix, "q" + sh(spec["query"]["shape"]), "k" + sh(spec["key"]["shape"]),
             "v" + sh(spec["value"]["shape"])]
    if "attn_mask" in spec:
        parts.append("m" + sh(spec["attn_mask"]["shape"]) + "-" + spec["attn_mask"]["dtype"])
    if spec.get("is_causal"):
        parts.append("causal")
    if spec.get("scale") is not None:
        parts.append("s{}".format(spec["scale"]))
    if spec.get("enable_gqa"):
        parts.append("gqa")
    dts = {spec[r]["dtype"] for r in ROLES}
    if dts != {"float32"}:
        parts.append("-".join(spec[r]["dtype"] for r in ROLES) if len(dts) > 1 else dts.pop())
    return "-".join(parts)


def add(cases, prefix, *args, **kw):
    spec = make_spec(*args, **kw)
    cases.add(auto_name(prefix, spec), spec)


# --- handpicked -------------------------------------------------------------------------------

def valid_basic(cases):
    # same rank q/k/v, ranks 2-5, L != S, Ev != E
    for dtype in FLOAT_NAMES:
        add(cases, "basic", (3, 4), (5, 4), (5, 6), dtype=dtype)
        add(cases, "basic", (2, 3, 4), (2, 5, 4), (2, 5, 6), dtype=dtype)
        add(cases, "basic", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6), dtype=dtype)
        add(cases, "basic", (1, 2, 2, 3, 4), (1, 2, 2, 5, 4), (1, 2, 2, 5, 3), dtype=dtype)
    add(cases, "basic", (4, 4), (4, 4), (4, 4))
    add(cases, "basic", (1, 1), (1, 1), (1, 1))
    add(cases, "basic", (2, 6, 6), (2, 6, 6), (2, 6, 6))
    add(cases, "basic", (2, 3, 1, 2), (2, 3, 6, 2), (2, 3, 6, 1))
    add(cases, "basic", (2, 3, 6, 1), (2, 3, 1, 1), (2, 3, 1, 5))
    add(cases, "basic", (2, 2, 2, 2, 2), (2, 2, 2, 4, 2), (2, 2, 2, 4, 2))


def rank_mixes(cases):
    # different ranks that broadcast (and where the broadcast fails)
    q4 = (2, 3, 4, 5)
    add(cases, "rank", q4, (3, 6, 5), (3, 6, 2))
    add(cases, "rank", q4, (1, 6, 5), (1, 6, 2))
    add(cases, "rank", q4, (6, 5), (6, 2))
    add(cases, "rank", q4, (6, 5), (3, 6, 2))
    add(cases, "rank", q4, (3, 6, 5), (6, 2))
    add(cases, "rank", q4, (2, 1, 6, 5), (6, 2))
    add(cases, "rank", q4, (2, 6, 5), (2, 6, 2))   # batch 2 vs heads 3: no broadcast
    add(cases, "rank", q4, (4, 6, 5), (4, 6, 2))
    add(cases, "rank", q4, (1, 2, 3, 6, 5), (1, 2, 3, 6, 5))
    add(cases, "rank", q4, (2, 2, 3, 6, 5), (2, 3, 6, 5))
    add(cases, "rank", q4, (3, 1, 3, 6, 5), (6, 5))
    add(cases, "rank", (3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2))
    add(cases, "rank", (3, 4, 5), (6, 5), (6, 2))
    add(cases, "rank", (1, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2))
    add(cases, "rank", (4, 5), (2, 3, 6, 5), (2, 3, 6, 2))
    add(cases, "rank", (4, 5), (3, 6, 5), (3, 6, 2))
    add(cases, "rank", (4, 5), (6, 5), (3, 6, 2))
    add(cases, "rank", (4, 5), (6, 5), (2, 3, 6, 2))
    add(cases, "rank", (4, 5), (3, 6, 5), (6, 2))
    add(cases, "rank", (4, 5), (6, 5), (6, 2))
    add(cases, "rank", (2, 4, 5), (2, 6, 5), (6, 2))
    add(cases, "rank", (2, 4, 5), (6, 5), (2, 6, 2))
    add(cases, "rank", (2, 4, 5), (1, 6, 5), (3, 6, 2))   # attn batch 2 vs value batch 3
    add(cases, "rank", (1, 4, 5), (1, 6, 5), (3, 6, 2))
    add(cases, "rank", (2, 1, 4, 5), (3, 6, 5), (2, 3, 6, 2))
    add(cases, "rank", (2, 1, 4, 5), (1, 3, 6, 5), (2, 1, 6, 2))
    add(cases, "rank", (2, 1, 1, 4, 5), (3, 6, 5), (2, 6, 2))
    add(cases, "rank", (2, 3, 1, 4, 5), (3, 4, 6, 5), (2, 3, 4, 6, 2))
    add(cases, "rank", (5, 4, 5), (2, 1, 6, 5), (1, 5, 6, 2))
    add(cases, "rank", (4, 5), (1, 1, 1, 6, 5), (6, 2))


def batch_broadcast(cases):
    for qb, kb, vb in [((1,), (3,), (3,)), ((3,), (1,), (1,)), ((3,), (1,), (3,)), ((3,), (3,), (1,)),
                       ((2,), (3,), (3,)), ((2,), (2,), (3,)), ((3,), (2,), (3,)), ((1,), (2,), (3,)),
                       ((2, 1), (1, 3), (2, 3)), ((2, 1), (1, 3), (1, 1)), ((2, 3), (2, 2), (2, 3)),
                       ((2, 3), (1, 3), (2, 2)), ((1, 1), (4, 2), (4, 2)), ((4, 2), (4, 2), (2, 2)),
                       ((2, 1, 3), (1, 2, 3), (2, 2, 1)), ((2, 1, 3), (1, 2, 3), (2, 3, 3))]:
        add(cases, "batch", qb + (3, 4), kb + (5, 4), vb + (5, 2))


def feature_mismatch(cases):
    # q/k feature (E) mismatch across ranks
    add(cases, "qk-feature", (2, 3, 4, 5), (2, 3, 6, 7), (2, 3, 6, 5))
    add(cases, "qk-feature", (2, 3, 4, 5), (2, 3, 1, 7), (2, 3, 1, 5))
    add(cases, "qk-feature", (2, 4, 5), (2, 6, 7), (2, 6, 5))
    add(cases, "qk-feature", (2, 4, 5), (2, 1, 7), (2, 1, 5))
    add(cases, "qk-feature", (4, 5), (6, 7), (6, 5))
    add(cases, "qk-feature", (4, 5), (1, 7), (1, 5))
    add(cases, "qk-feature", (2, 3, 4, 5), (6, 7), (6, 5))
    add(cases, "qk-feature", (2, 4, 5), (6, 7), (6, 5))
    add(cases, "qk-feature", (2, 3, 4, 5), (3, 6, 7), (3, 6, 5))
    add(cases, "qk-feature", (4, 5), (2, 6, 7), (2, 6, 5))
    add(cases, "qk-feature", (4, 5), (2, 1, 7), (2, 1, 5))
    add(cases, "qk-feature", (4, 5), (2, 3, 6, 7), (2, 3, 6, 5))
    add(cases, "qk-feature", (1, 2, 2, 4, 5), (1, 2, 2, 6, 4), (1, 2, 2, 6, 5))
    add(cases, "qk-feature", (2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 5), dtype="float64", scale=0.5)
    add(cases, "qk-feature", (2, 2, 4, 4), (2, 2, 6, 5), (2, 2, 6, 4), dtype="float16")
    add(cases, "qk-feature", (2, 4, 4), (2, 6, 5), (2, 6, 4), dtype="bfloat16")
    add(cases, "qk-feature", (2, 3, 4, 5), (1, 3, 6, 7), (2, 1, 6, 5))
    add(cases, "qk-feature", (2, 3, 4, 5), (2, 3, 6, 7), (2, 3, 6, 5), mask=(4, 6))
    add(cases, "qk-feature", (2, 3, 4, 5), (2, 3, 6, 7), (2, 3, 6, 5), is_causal=True)
    # ...and batch mismatch + feature mismatch together: which is reported first
    add(cases, "qk-feature", (2, 3, 4, 5), (4, 3, 6, 7), (4, 3, 6, 5))
    add(cases, "qk-feature", (2, 4, 5), (3, 6, 7), (3, 6, 5))


def kv_mismatch(cases):
    # k/v length (S) mismatch
    add(cases, "kv-len", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 7, 5))
    add(cases, "kv-len", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 1, 5))
    add(cases, "kv-len", (2, 4, 5), (2, 6, 5), (2, 3, 5))
    add(cases, "kv-len", (4, 5), (6, 5), (3, 5))
    add(cases, "kv-len", (4, 5), (6, 5), (1, 5))
    add(cases, "kv-len", (4, 5), (6, 5), (2, 3, 5))
    add(cases, "kv-len", (4, 5), (6, 5), (2, 2, 3, 5))
    add(cases, "kv-len", (4, 5), (2, 6, 5), (2, 3, 5))
    add(cases, "kv-len", (4, 5), (2, 6, 5), (3, 5))
    add(cases, "kv-len", (2, 4, 5), (6, 5), (2, 3, 5))
    add(cases, "kv-len", (2, 4, 5), (6, 5), (3, 5))
    add(cases, "kv-len", (2, 3, 4, 5), (6, 5), (3, 5))
    add(cases, "kv-len", (2, 3, 4, 5), (3, 6, 5), (3, 3, 5))
    add(cases, "kv-len", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 3, 5), mask=(4, 6))
    add(cases, "kv-len", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 3, 5), is_causal=True)
    add(cases, "kv-len", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 3, 5), mask=(4, 3))
    add(cases, "kv-len", (2, 3, 4, 5), (2, 3, 6, 5), (2, 2, 3, 5))
    add(cases, "kv-len", (2, 3, 4, 5), (2, 3, 6, 5), (3, 2, 3, 5))
    add(cases, "kv-len", (1, 2, 3, 4, 5), (1, 2, 3, 6, 5), (1, 2, 3, 4, 5))
    # k/v batch / head mismatch only
    add(cases, "kv-batch", (2, 3, 4, 5), (2, 3, 6, 5), (2, 2, 6, 5))
    add(cases, "kv-batch", (2, 3, 4, 5), (2, 3, 6, 5), (3, 3, 6, 5))
    add(cases, "kv-batch", (2, 4, 5), (2, 6, 5), (3, 6, 5))


def gqa_cases(cases):
    B, L, S, E = 2, 3, 4, 2
    for hq, hk, hv in [(4, 4, 4), (4, 2, 2), (4, 1, 1), (4, 2, 1), (4, 1, 2), (6, 3, 2), (6, 2, 3),
                       (4, 3, 3), (6, 4, 4), (4, 2, 3), (2, 4, 4), (3, 3, 1), (1, 2, 2), (6, 6, 3),
                       (6, 6, 4), (4, 4, 2)]:
        for gqa in (True, False):
            add(cases, "heads", (B, hq, L, E), (B, hk, S, E), (B, hv, S, 5), enable_gqa=gqa)
    # 3-D inputs: the head dim is dim 0
    for hq, hk, hv in [(4, 2, 2), (4, 3, 3), (4, 4, 4), (4, 1, 2)]:
        for gqa in (True, False):
            add(cases, "heads3d", (hq, L, E), (hk, S, E), (hv, S, E), enable_gqa=gqa)
    # 5-D inputs
    add(cases, "heads5d", (1, 2, 4, L, E), (1, 2, 2, S, E), (1, 2, 2, S, E), enable_gqa=True)
    add(cases, "heads5d", (1, 2, 4, L, E), (1, 2, 3, S, E), (1, 2, 3, S, E), enable_gqa=True)
    # 2-D inputs: size(-3) does not exist
    add(cases, "heads2d", (L, E), (S, E), (S, E), enable_gqa=True)
    add(cases, "heads2d", (2, L, E), (S, E), (S, E), enable_gqa=True)
    add(cases, "heads2d", (2, L, E), (2, S, E), (S, E), enable_gqa=True)
    add(cases, "heads2d", (2, 2, L, E), (2, S, E), (S, E), enable_gqa=True)
    # GQA with masks, causal, and other errors
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, E), (B, 2, S, E), enable_gqa=True, mask=(B, 4, L, S))
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, E), (B, 2, S, E), enable_gqa=True, mask=(B, 2, L, S))
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, E), (B, 2, S, E), enable_gqa=True, mask=(1, 1, L, S))
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, E), (B, 2, S, E), enable_gqa=True, is_causal=True)
    add(cases, "gqa", (B, 4, L, E), (B, 3, S, E), (B, 3, S, E), enable_gqa=True, is_causal=True)
    add(cases, "gqa", (B, 4, L, E), (B, 3, S, E), (B, 3, S, E), enable_gqa=True, is_causal=True,
        mask=(L, S))
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, 3), (B, 2, S, E), enable_gqa=True)
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, E), (B, 2, 5, E), enable_gqa=True)
    add(cases, "gqa", (B, 4, L, E), (3, 2, S, E), (3, 2, S, E), enable_gqa=True)
    add(cases, "gqa", (B, 4, L, E), (1, 2, S, E), (B, 1, S, E), enable_gqa=True)
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, E), (B, 2, S, E), enable_gqa=True, dtype="float16")
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, E), (B, 2, S, E), enable_gqa=True, dtype="float32",
        kdtype="float64")
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, E), (B, 2, S, E), enable_gqa=True, scale=0.25)
    add(cases, "gqa", (B, 4, L, E), (B, 2, S, E), (2, S, E), enable_gqa=True)
    add(cases, "gqa", (4, L, E), (B, 2, S, E), (B, 2, S, E), enable_gqa=True)


def mask_cases(cases):
    B, H, L, S, E = 2, 3, 4, 5, 2
    q, k, v = (B, H, L, E), (B, H, S, E), (B, H, S, 3)
    for m in [(L, S), (1, S), (L, 1), (1, 1), (1, 1, L, S), (B, 1, L, S), (1, H, L, S), (B, H, L, S),
              (H, L, S), (1, L, S), (H, 1, S), (B, 1, 1, S), (1, 1, 1, 1),
              # do not broadcast
              (L, S + 1), (L + 1, S), (S, L), (B, L, S), (2, H, L, S) if B != 2 else (4, H, L, S),
              (B, 2, L, S), (H + 1, L, S),
              # would need to grow attn (in-place add_)
              (2, B, H, L, S), (1, B, H, L, S), (1, 1, 1, L, S), (B, H, L, 1, S) if L != 1 else (3, 1),
              (L, S, 1), (B, H, L, S, 1)]:
        add(cases, "mask", q, k, v, mask=m)
    # masks against lower-rank q/k/v: mask rank > attn rank grows attn
    add(cases, "mask", (L, E), (S, E), (S, 3), mask=(L, S))
    add(cases, "mask", (L, E), (S, E), (S, 3), mask=(1, L, S))
    add(cases, "mask", (L, E), (S, E), (S, 3), mask=(B, H, L, S))
    add(cases, "mask", (L, E), (S, E), (B, S, 3), mask=(B, L, S))
    add(cases, "mask", (B, L, E), (B, S, E), (B, S, 3), mask=(B, L, S))
    add(cases, "mask", (B, L, E), (B, S, E), (B, S, 3), mask=(1, L, S))
    add(cases, "mask", (B, L, E), (B, S, E), (B, S, 3), mask=(1, B, L, S))
    add(cases, "mask", (B, L, E), (B, S, E), (B, S, 3), mask=(B, 1, L, S))
    add(cases, "mask", (B, L, E), (B, S, E), (B, S, 3), mask=(3, L, S))
    add(cases, "mask", (L, E), (B, S, E), (B, S, 3), mask=(B, L, S))
    add(cases, "mask", (L, E), (B, S, E), (B, S, 3), mask=(1, B, L, S))
    add(cases, "mask", (B, 1, L, E), (H, S, E), (H, S, 3), mask=(B, H, L, S))
    add(cases, "mask", (B, 1, L, E), (1, S, E), (1, S, 3), mask=(B, H, L, S))
    add(cases, "mask", (1, 2, B, H, L, E), (B, H, S, E), (B, H, S, 3), mask=(1, 1, 1, 1, L, S))
    # mask dtypes with float32 / float64 / float16 / bfloat16 queries
    for qd in FLOAT_NAMES:
        for md in ("bool", "float32", "float64", "float16", "bfloat16", "int64", "uint8", "int32", "int8"):
            add(cases, "mask-dtype", q, k, v, mask=(L, S), dtype=qd, mask_dtype=md)
    # wrong dtype and wrong shape: the dtype is reported
    add(cases, "mask-dtype", q, k, v, mask=(L, S + 1), mask_dtype="int64")
    add(cases, "mask-dtype", q, k, v, mask=(2, B, H, L, S), mask_dtype="float64")
    add(cases, "mask-dtype", q, k, v, mask=(2, B, H, L, S), mask_dtype="float64", dtype="float64")
    add(cases, "mask-dtype", (L, E), (S, 3), (S, 3), mask=(L, S), mask_dtype="uint8")
    add(cases, "mask-dtype", (L,), (S, E), (S, 3), mask=(L, S), mask_dtype="uint8")
    # float masks of several shapes
    for m in [(L, S), (B, 1, L, S), (2, B, H, L, S), (L, S + 1)]:
        add(cases, "mask-f32", q, k, v, mask=m, mask_dtype="float32")
        add(cases, "mask-f64", q, k, v, mask=m, mask_dtype="float64", dtype="float64")
        add(cases, "mask-f16", q, k, v, mask=m, mask_dtype="float16", dtype="float16")


def causal_cases(cases):
    for L, S in [(3, 3), (3, 5), (5, 3), (1, 4), (4, 1)]:
        add(cases, "causal", (2, 2, L, 4), (2, 2, S, 4), (2, 2, S, 3), is_causal=True)
        add(cases, "causal", (L, 4), (S, 4), (S, 3), is_causal=True)
        add(cases, "causal", (2, L, 4), (2, S, 4), (2, S, 3), is_causal=True)
        add(cases, "causal", (2, 2, L, 4), (2, 2, S, 4), (2, 2, S, 3), is_causal=True, mask=(L, S))
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4), is_causal=True, mask=(3, 3),
        mask_dtype="float32")
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4), is_causal=True, mask=(3, 3),
        mask_dtype="int64")   # mask dtype check comes first
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4), is_causal=True, mask=(2, 2, 3, 3))
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4), is_causal=True, mask=(7, 7))
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4), is_causal=True, scale=0.125)
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4), is_causal=True, dtype="float16")
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4), is_causal=True, dtype="bfloat16")
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 3, 5), (2, 2, 3, 4), is_causal=True)
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 5, 4), is_causal=True)
    add(cases, "causal", (2, 2, 3, 4), (3, 2, 3, 4), (3, 2, 3, 4), is_causal=True)
    add(cases, "causal", (2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4), is_causal=True)
    add(cases, "causal", (3, 4), (2, 2, 5, 4), (2, 2, 5, 4), is_causal=True)
    add(cases, "causal", (2, 2, 3, 4), (5, 4), (5, 4), is_causal=True)
    add(cases, "causal", (4,), (5, 4), (5, 4), is_causal=True, mask=(1, 5))
    add(cases, "causal", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4), is_causal=True, kdtype="float64")


def scale_cases(cases):
    for s in (0.5, 2.0, 1.0, 0.0, -0.25, 1e-3, 0.125, 3.0):
        add(cases, "scale", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6), scale=s)
    add(cases, "scale", (3, 4), (5, 4), (5, 6), scale=0.5)
    add(cases, "scale", (2, 3, 4), (2, 5, 3), (2, 5, 6), scale=0.5)
    add(cases, "scale", (2, 3, 4), (2, 5, 4), (2, 5, 6), scale=-1.0, mask=(3, 5))
    add(cases, "scale", (2, 3, 4), (2, 5, 4), (2, 5, 6), scale=2.0, is_causal=True)


def dtype_cases(cases):
    q, k, v = (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4)
    mixes = [("float32", "float64", "float32"), ("float32", "float32", "float64"),
             ("float64", "float32", "float32"), ("float16", "float32", "float32"),
             ("float32", "float16", "float16"), ("bfloat16", "float16", "bfloat16"),
             ("float32", "bfloat16", "float16"), ("float64", "float64", "float16"),
             ("float16", "float16", "bfloat16")]
    for qd, kd, vd in mixes:
        add(cases, "dtype-mix", q, k, v, dtype=qd, kdtype=kd, vdtype=vd)
    # dtype mismatch is reported before dim / shape errors
    add(cases, "dtype-mix", (4,), (5, 4), (5, 4), dtype="float32", kdtype="float64")
    add(cases, "dtype-mix", q, (2, 2, 5, 3), (2, 2, 7, 4), dtype="float32", vdtype="float64")
    add(cases, "dtype-mix", q, k, v, dtype="float32", kdtype="float64", mask=(3, 5), mask_dtype="int64")
    add(cases, "dtype-mix", q, k, v, dtype="float32", kdtype="float64", is_causal=True, mask=(3, 5))


def low_rank_cases(cases):
    add(cases, "rank1", (4,), (5, 4), (5, 4))
    add(cases, "rank1", (3, 4), (4,), (5, 4))
    add(cases, "rank1", (3, 4), (5, 4), (4,))
    add(cases, "rank1", (4,), (4,), (4,))
    add(cases, "rank1", (2, 2, 3, 4), (2, 2, 5, 4), (4,))
    add(cases, "rank1", (4,), (2, 2, 5, 4), (2, 2, 5, 4))
    add(cases, "rank1", (4,), (4,), (2, 2, 5, 4), mask=(1, 4))
    add(cases, "rank1", (4,), (5, 4), (5, 4), is_causal=True)
    add(cases, "rank1", (4,), (5, 4), (5, 4), enable_gqa=True)
    add(cases, "rank1", (4,), (5, 4), (5, 4), mask=(1, 5), mask_dtype="float64")
    add(cases, "rank0", (), (5, 4), (5, 4))
    add(cases, "rank0", (3, 4), (), (5, 4))
    add(cases, "rank0", (), (), ())


# --- random -----------------------------------------------------------------------------------

def random_valid(rng):
    """A random well-formed configuration: dict of the pieces."""
    rank = rng.choice([2, 3, 3, 4, 4, 4, 5])
    batch = [rng.randint(1, 3) for _ in range(rank - 2)]
    L, S = rng.randint(1, 6), rng.randint(1, 6)
    E, Ev = rng.randint(1, 6), rng.choice([None, rng.randint(1, 6)])
    Ev = Ev or E
    cfg = {"qb": list(batch), "kb": list(batch), "vb": list(batch), "L": L, "S": S, "Sv": S,
           "E": E, "Ek": E, "Ev": Ev, "dtype": rng.choice(["float32"] * 4 + ["float64", "float16", "bfloat16"]),
           "mask": None, "mask_dtype": "bool", "is_causal": False, "scale": None, "gqa": False}
    # broadcastable batch variations
    r = rng.random()
    if r < 0.25 and batch:
        i = rng.randrange(len(batch))
        cfg[rng.choice(["qb", "kb", "vb"])][i] = 1
    elif r < 0.4 and batch:
        drop = rng.randint(1, len(batch))
        for role in rng.sample(["kb", "vb"], rng.randint(1, 2)):
            cfg[role] = cfg[role][drop:]
    elif r < 0.5 and len(batch) >= 1:
        role = rng.choice(["qb", "kb", "vb"])
        cfg[role] = [1] + cfg[role] if rank < 5 else cfg[role]
    m = rng.random()
    if m < 0.45:
        out_b = list(torch._C._infer_size(torch.Size(cfg["qb"]), torch.Size(cfg["kb"])))
        choice = rng.choice(["2d", "full", "ones", "rowcol", "partial"])
        if choice == "2d" or not out_b:
            shape = [L, S]
        elif choice == "full":
            shape = out_b + [L, S]
        elif choice == "ones":
            shape = [1] * len(out_b) + [L, S]
        elif choice == "rowcol":
            shape = rng.choice([[1, S], [L, 1]])
        else:
            k = rng.randint(1, len(out_b))
            shape = [rng.choice([1, d]) for d in out_b[-k:]] + [L, S]
        cfg["mask"] = shape
        cfg["mask_dtype"] = rng.choice(["bool", "bool", "float32", cfg["dtype"]])
    elif m < 0.6:
        cfg["is_causal"] = True
    if rng.random() < 0.2:
        cfg["scale"] = rng.choice([0.5, 0.25, 1.0, 2.0, 0.1])
    return cfg


def cfg_spec(cfg):
    q = cfg["qb"] + [cfg["L"], cfg["E"]]
    k = cfg["kb"] + [cfg["S"], cfg["Ek"]]
    v = cfg["vb"] + [cfg["Sv"], cfg["Ev"]]
    return make_spec(q, k, v, mask=cfg["mask"], is_causal=cfg["is_causal"], scale=cfg["scale"],
                     enable_gqa=cfg["gqa"], dtype=cfg["dtype"], kdtype=cfg.get("kdtype"),
                     vdtype=cfg.get("vdtype"), mask_dtype=cfg["mask_dtype"])


def _bump(rng, n):
    return rng.choice([x for x in range(1, 7) if x != n])


def mutate(rng, cfg):
    kind = rng.choice(["qk_feature", "kv_len", "batch", "mask_shape", "mask_grow", "mask_dtype",
                       "causal_mask", "dtype_mix", "low_rank", "gqa"])
    if kind == "qk_feature":
        cfg["Ek"] = _bump(rng, cfg["E"])
    elif kind == "kv_len":
        cfg["Sv"] = _bump(rng, cfg["S"])
    elif kind == "batch":
        roles = [r for r in ("qb", "kb", "vb") if cfg[r]]
        if not roles:
            cfg["kb"] = [2]
            cfg["vb"] = [2]
            cfg["qb"] = [3]
        else:
            role = rng.choice(roles)
            i = rng.randrange(len(cfg[role]))
            cfg[role][i] = rng.choice([x for x in (2, 3, 4) if x != cfg[role][i]])
    elif kind == "mask_shape":
        base = cfg["mask"] or [cfg["L"], cfg["S"]]
        base = list(base)
        i = rng.randrange(len(base))
        base[i] = base[i] + rng.randint(1, 2)
        cfg["mask"] = base
        cfg["is_causal"] = False
    elif kind == "mask_grow":
        base = list(cfg["mask"] or [cfg["L"], cfg["S"]])
        cfg["mask"] = [rng.randint(2, 3)] + [rng.choice([1, 2])] * max(0, len(cfg["qb"]) - len(base) + 2) + base
        cfg["mask"] = cfg["mask"][:6]
        cfg["is_causal"] = False
    elif kind == "mask_dtype":
        cfg["mask"] = cfg["mask"] or [cfg["L"], cfg["S"]]
        cfg["mask_dtype"] = rng.choice(["int64", "uint8", "float64", "float16", "int32"])
        cfg["is_causal"] = False
    elif kind == "causal_mask":
        cfg["mask"] = cfg["mask"] or [cfg["L"], cfg["S"]]
        cfg["is_causal"] = True
    elif kind == "dtype_mix":
        role = rng.choice(["kdtype", "vdtype"])
        cfg[role] = rng.choice([d for d in FLOAT_NAMES if d != cfg["dtype"]])
    elif kind == "low_rank":
        role = rng.choice(["q", "k", "v"])
        if role == "q":
            cfg["qb"], cfg["L"] = [], None
        elif role == "k":
            cfg["kb"], cfg["S"] = [], None
        else:
            cfg["vb"], cfg["Sv"] = [], None
    elif kind == "gqa":
        cfg["gqa"] = True
        if len(cfg["qb"]) >= 1 and len(cfg["kb"]) >= 1 and len(cfg["vb"]) >= 1:
            cfg["qb"][-1] = rng.choice([2, 4, 6])
            cfg["kb"][-1] = rng.choice([1, 2, 3, 4])
            cfg["vb"][-1] = rng.choice([cfg["kb"][-1], 1, 2, 3])
    return kind


def cfg_spec_lowrank(cfg):
    def shape(b, n, e):
        return b + ([n] if n is not None else []) + [e]
    q = shape(cfg["qb"], cfg["L"], cfg["E"])
    k = shape(cfg["kb"], cfg["S"], cfg["Ek"])
    v = shape(cfg["vb"], cfg["Sv"], cfg["Ev"])
    return make_spec(q, k, v, mask=cfg["mask"], is_causal=cfg["is_causal"], scale=cfg["scale"],
                     enable_gqa=cfg["gqa"], dtype=cfg["dtype"], kdtype=cfg.get("kdtype"),
                     vdtype=cfg.get("vdtype"), mask_dtype=cfg["mask_dtype"])


def random_cases(cases, rng, n_valid, n_invalid):
    for i in range(n_valid):
        cfg = random_valid(rng)
        spec = cfg_spec(cfg)
        cases.add("random-{:03d}-{}".format(i, auto_name("", spec)[1:]), spec)
    for i in range(n_invalid):
        cfg = random_valid(rng)
        kinds = [mutate(rng, cfg) for _ in range(rng.choice([1, 1, 1, 2]))]
        spec = cfg_spec_lowrank(cfg)
        if "attn_mask" in spec and len(spec["attn_mask"]["shape"]) < 2:
            continue  # see note in main(): 0-/1-D masks are left out
        cases.add("mut-{:03d}-{}-{}".format(i, "+".join(kinds), auto_name("", spec)[1:]), spec)


# ---------------------------------------------------------------------------------------------

MESSAGE_KINDS = [
    ("Expected query, key, and value to have the same dtype", "q/k/v dtype mismatch (synthesized)"),
    ("Expected query, key, and value to all be", "q/k/v dim < 2 (synthesized)"),
    ("Expected attn_mask dtype", "attn_mask dtype (synthesized)"),
    ("_scaled_dot_product_attention: Explicit attn_mask", "is_causal with attn_mask (synthesized)"),
    ("Number of heads in key and value", "GQA head counts (synthesized)"),
    ("Dimension out of range", "GQA size(-3) of a 2-D input"),
    ("mat1 and mat2 shapes cannot be multiplied", "mm shape mismatch"),
    ("Expected size for first two dimensions of batch2", "bmm shape mismatch"),
    ("The size of tensor a", "broadcast mismatch"),
    ("doesn't match the broadcast shape", "in-place add_ of the mask would grow attn"),
]


def message_kind(message):
    for prefix, kind in MESSAGE_KINDS:
        if prefix in message:
            return kind
    return message[:60]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdpa_cases.json"))
    args = ap.parse_args()

    rng = seed_everything(SEED)

    # Masks are always at least 2-D here: with 4-D q/k/v, 2.x's CPU flash gate
    # (check_attn_mask_shape) reads attn_mask.size(-2), which a 0-D/1-D mask does not have.
    cases = Cases()
    valid_basic(cases)
    rank_mixes(cases)
    batch_broadcast(cases)
    feature_mismatch(cases)
    kv_mismatch(cases)
    gqa_cases(cases)
    mask_cases(cases)
    causal_cases(cases)
    scale_cases(cases)
    dtype_cases(cases)
    low_rank_cases(cases)
    random_cases(cases, rng, 90, 110)

    lines = ['{{"generator": {}, "torch_version": {}, "cases": ['.format(
        json.dumps(GENERATOR), json.dumps(torch.__version__))]
    for i, case in enumerate(cases.items):
        sep = "," if i + 1 < len(cases.items) else ""
        lines.append(json.dumps(case, separators=(",", ":")) + sep)
    lines.append("]}")
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")

    kinds = Counter()
    msgs = Counter()
    synthesized = 0
    notes = 0
    for case in cases.items:
        e = case["expect"]
        kinds["ok" if e["ok"] else e["error"]["type"] + (" (synthesized)" if case["synthesized"] else "")] += 1
        if not e["ok"]:
            msgs[message_kind(e["error"]["message"])] += 1
        synthesized += case["synthesized"]
        notes += "pytorch_2x" in case
    print("wrote {} cases to {} ({} bytes)".format(len(cases.items), args.out, os.path.getsize(args.out)))
    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print("  {:40s} {}".format(k, v))
    print("  synthesized messages: {}".format(synthesized))
    print("  cases with pytorch_2x notes (1.13 matmul would differ): {}".format(notes))
    print("error messages by kind:")
    for k, v in msgs.most_common():
        print("  {:4d}  {}".format(v, k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
