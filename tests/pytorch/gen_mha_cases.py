#!/usr/bin/python3
"""Generate PyTorch ground-truth fixtures for mhacheck's nn.MultiheadAttention shape rules.

Writes tests/pytorch/mha_cases.json (one case per line).

Every case is run for real on the installed PyTorch (1.13 from Debian's python3-torch), with the
module in training mode as constructed, grad enabled (no fast path).  mhacheck follows PyTorch 2.x,
so the places where 2.x behaves differently from 1.13 are applied on top of the 1.13 run by ONE
function, `expect_pytorch2x`, which replays 2.x's order of checks; every case whose expectation
differs from what 1.13 did carries a "pytorch_2x" note saying why.

The 2.x rules follow recent 2.x source (about 2.8/2.9). Two messages differ between 2.x releases:
the key_padding_mask shape assert (recent: "Expected key_padded_mask.shape[i] to be ..."; 1.13
and early 2.x: "expecting key_padding_mask shape of ...") and the F.linear dtype-mismatch text.
Each affected case's "pytorch_2x" note quotes the older text.

Usage:  /usr/bin/python3 tests/pytorch/gen_mha_cases.py [--out PATH]

Deterministic: a fixed seed drives every random choice; the file only changes when this script or
the installed PyTorch changes.  Only stdlib, torch and numpy are used.
"""

import argparse
import copy
import json
import os
import random
import re
import sys
import warnings
from collections import Counter, OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from fixture_common import seed_everything, DTYPES, DTYPE_NAMES, FLOAT_NAMES, TYPEMETA_NAMES

SEED = 20240601
GENERATOR = "tests/pytorch/gen_mha_cases.py"

MODULE_DEFAULTS = OrderedDict([
    ("dropout", 0.0),
    ("bias", True),
    ("add_bias_kv", False),
    ("add_zero_attn", False),
    ("kdim", None),
    ("vdim", None),
    ("batch_first", False),
    ("dtype", "float32"),
])

ROLES = ("query", "key", "value")
MASKS = ("key_padding_mask", "attn_mask")


class Skip(Exception):
    """The 2.x behaviour of this case is not known for sure: leave the case out."""


# ---------------------------------------------------------------------------------------------
# Running a flat spec on the installed PyTorch
# ---------------------------------------------------------------------------------------------

def tensor_spec(spec, role):
    """The inline tensor spec of a role, resolving a shared tensor's name."""
    t = spec.get(role)
    if isinstance(t, str):
        return spec["tensors"][t]
    return t


def make_tensor(ts, is_mask):
    dt = DTYPES[ts["dtype"]]
    shape = tuple(ts["shape"])
    if is_mask or dt in (torch.bool, torch.uint8, torch.int8, torch.int32, torch.int64):
        return torch.zeros(shape, dtype=dt)  # bool: all False; float: zeros (nothing masked)
    return torch.randn(shape, dtype=dt)


def build_inputs(spec):
    """Tensors for query/key/value/masks; a name shared by roles gives the SAME tensor object."""
    shared = {name: make_tensor(ts, False) for name, ts in spec.get("tensors", {}).items()}
    out = {}
    for role in ROLES:
        t = spec[role]
        out[role] = shared[t] if isinstance(t, str) else make_tensor(t, False)
    for mask in MASKS:
        out[mask] = make_tensor(spec[mask], True) if mask in spec else None
    return out


def module_kwargs(mod):
    kw = {}
    for k in MODULE_DEFAULTS:
        if k in mod:
            kw[k] = DTYPES[mod[k]] if k == "dtype" else mod[k]
    return kw


def call_kwargs(spec, inputs):
    kw = {}
    if inputs["key_padding_mask"] is not None:
        kw["key_padding_mask"] = inputs["key_padding_mask"]
    if inputs["attn_mask"] is not None:
        kw["attn_mask"] = inputs["attn_mask"]
    kw["need_weights"] = spec.get("need_weights", True)
    kw["average_attn_weights"] = spec.get("average_attn_weights", True)
    return kw


def err(stage, exc_type, message):
    return {"ok": False, "stage": stage, "error": {"type": exc_type, "message": message}}


def run_113(spec):
    """Run the spec on the installed PyTorch. `is_causal` is not passed (1.13 has no such argument).

    Returns (expect, warnings) in the fixture's format."""
    mod = spec["module"]
    torch.manual_seed(hash_name(json.dumps(spec, sort_keys=True)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            m = nn.MultiheadAttention(mod["embed_dim"], mod["num_heads"], **module_kwargs(mod))
        except Exception as e:  # noqa: BLE001 - we record whatever PyTorch raises
            return err("constructor", type(e).__name__, str(e)), warning_texts(caught)
        inputs = build_inputs(spec)
        try:
            out, weights = m(inputs["query"], inputs["key"], inputs["value"], **call_kwargs(spec, inputs))
        except Exception as e:  # noqa: BLE001
            return err("forward", type(e).__name__, str(e)), warning_texts(caught)
    outputs = OrderedDict()
    outputs["attn_output"] = {"shape": list(out.shape), "dtype": DTYPE_NAMES[out.dtype]}
    if weights is not None:
        outputs["attn_output_weights"] = {"shape": list(weights.shape), "dtype": DTYPE_NAMES[weights.dtype]}
    return {"ok": True, "outputs": outputs}, warning_texts(caught)


def batch_first_transpose(query, key, value):
    """MultiheadAttention.forward's transpose(1, 0) for batch_first, keeping Python identity."""
    if key is value:
        if query is key:
            query = key = value = query.transpose(1, 0)
            return query, key, value
        query, key = [x.transpose(1, 0) for x in (query, key)]
        return query, key, key
    return tuple(x.transpose(1, 0) for x in (query, key, value))


def run_113_prefix(spec):
    """What 2.x does between mask canonicalisation and the is_causal check, with 1.13's own code:
    the module's batch_first transpose (identity-preserving) and F._mha_shape_check.
    Returns an error expect, or None when both pass."""
    mod = spec["module"]
    inputs = build_inputs(spec)
    query, key, value = inputs["query"], inputs["key"], inputs["value"]
    try:
        if mod.get("batch_first", False) and query.dim() == 3:
            query, key, value = batch_first_transpose(query, key, value)
        F._mha_shape_check(query, key, value, inputs["key_padding_mask"], inputs["attn_mask"],
                           mod["num_heads"])
    except Exception as e:  # noqa: BLE001
        return err("forward", type(e).__name__, str(e))
    return None


def warning_texts(caught):
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def hash_name(s):
    h = 0
    for ch in s:
        h = (h * 131 + ord(ch)) % 2147483647
    return h


# ---------------------------------------------------------------------------------------------
# PyTorch 2.x expectations: every deviation from 1.13, in one place, in 2.x's order of checks
# ---------------------------------------------------------------------------------------------

MISMATCH_WARNING = ("Support for mismatched key_padding_mask and attn_mask is deprecated. "
                    "Use same type for both instead.")
IS_CAUSAL_NEEDS_MASK = ("Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                        "module method `generate_square_subsequent_mask` to create this mask.")
# 1.13-only warnings that 2.x does not emit (uint8 attn_mask is an error in 2.x)
WARNINGS_113_ONLY = ("Byte tensor for attn_mask in nn.MultiheadAttention is deprecated. Use bool tensor instead.",)


def _is_float(dtype_name):
    return dtype_name in FLOAT_NAMES


def _canonical_dtype(mask_dtype, query_dtype):
    """dtype of a mask after 2.x's F._canonical_mask: bool -> query dtype, float kept."""
    return mask_dtype if _is_float(mask_dtype) else query_dtype


def _promote(a, b):
    return DTYPE_NAMES[torch.promote_types(DTYPES[a], DTYPES[b])]


# how 1.13 fails inside an in-projection F.linear (dtype: addmm / bmm paths; shape)
LINEAR_MESSAGES_113 = ("mat1 and mat2 must have the same dtype", "expected scalar type ",
                       "mat1 and mat2 shapes cannot be multiplied")
SCALARTYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16"}


def linear_dtype_error_2x(spec):
    """2.x's message when an in-projection F.linear gets an input of another dtype than the module's
    (None when the first failing linear fails on shape, or none fails on dtype).

    Replays the module: batch_first transpose (batched), unsqueeze(1) (unbatched), then the linear
    calls in F's order: packed weights split by identity (q is k is v: one linear on q; k is v:
    q then k; else q, k, v), separate weights q, k, v."""
    mod = spec["module"]
    mdt = mod.get("dtype", "float32")
    inputs = build_inputs(spec)
    query, key, value = inputs["query"], inputs["key"], inputs["value"]
    if query.dim() == 3:
        if mod.get("batch_first", False):
            query, key, value = batch_first_transpose(query, key, value)
    else:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
    e = mod["embed_dim"]
    kdim = mod.get("kdim") or e
    vdim = mod.get("vdim") or e
    packed = kdim == e and vdim == e
    if packed:
        if key is value:
            calls = [(query, e)] if query is key else [(query, e), (key, e)]
        else:
            calls = [(query, e), (key, e), (value, e)]
    else:
        calls = [(query, e), (key, kdim), (value, vdim)]
    for x, in_features in calls:
        xdt = DTYPE_NAMES[x.dtype]
        if xdt != mdt:
            if mod.get("bias", True) and x.is_contiguous() and x.dim() == 3:
                return "mat1 and mat2 must have the same dtype, but got {} and {}".format(
                    SCALARTYPE_NAMES[xdt], SCALARTYPE_NAMES[mdt])
            return "expected m1 and m2 to have the same dtype, but got: {} != {}".format(
                TYPEMETA_NAMES[xdt], TYPEMETA_NAMES[mdt])
        if x.shape[-1] != in_features:
            return None
    return None


def expect_pytorch2x(spec):
    """Expected 2.x outcome of a flat spec: returns (expect, warnings, note or None).

    2.x MultiheadAttention.__init__ / .forward and F.multi_head_attention_forward, step by step:
      C1  __init__: embed_dim <= 0 or num_heads <= 0 -> ValueError (before the divisibility assert).
      M1  forward: F._canonical_mask(key_padding_mask): dtype neither bool nor floating ->
          AssertionError; both masks given with different dtypes -> UserWarning (mismatch).
      M2  forward: F._canonical_mask(attn_mask): dtype neither bool nor floating (uint8 too) ->
          AssertionError.  Both happen before any shape check; bool masks become float masks of
          query's dtype (0 / -inf).
      M3  batch_first transpose + F._mha_shape_check: as 1.13 (run with 1.13's code).
      F1  F.multi_head_attention_forward canonicalises key_padding_mask again against the (already
          canonical) attn_mask: their dtypes still differing -> the mismatch warning again.
      F2  is_causal=True and attn_mask None -> RuntimeError (before the embed-dim check).
      F3  is_causal=True, key_padding_mask None and need_weights=False -> attn_mask is dropped:
          its shape is never checked (SDPA gets is_causal=True instead).
      F4  the rest of the shape checks are 1.13's; 2.x *adds* a float key_padding_mask to a float
          attn_mask where 1.13 masked_fill'ed with it (an error in 1.13): run 1.13 with a bool
          key_padding_mask of the same shape instead.
      F5  in-projection: an input whose dtype differs from the module's fails in F.linear with
          a message that depends on the ATen path (contiguous 3-D input with bias -> addmm,
          otherwise matmul -> mm); 2.x checks dtype before shape (1.13: shape first, and a bare
          "mat1 and mat2 must have the same dtype").
      F6  key_padding_mask shape: 2.x (_check_key_padding_mask) checks shape[0] then shape[1]
          with its own messages (1.13: one combined assert).
      F7  the merged float mask reaches torch.baddbmm (need_weights=True) or
          F.scaled_dot_product_attention (need_weights=False) with its own dtype: a dtype other
          than the query's fails there in 2.x (1.13 promoted silently); SDPA accepts any float32
          mask.
    """
    mod = spec["module"]
    notes = []

    # C1 -----------------------------------------------------------------------------------
    if mod["embed_dim"] <= 0 or mod["num_heads"] <= 0:
        msg = ("embed_dim and num_heads must be greater than 0, got embed_dim={} and num_heads={} instead"
               .format(mod["embed_dim"], mod["num_heads"]))
        return err("constructor", "ValueError", msg), [], \
            "2.x's constructor rejects embed_dim <= 0 or num_heads <= 0 with a ValueError up front"

    base, base_warnings = run_113(spec)
    if not base["ok"] and base["stage"] == "constructor":
        return base, base_warnings, None

    qdt = tensor_spec(spec, "query")["dtype"]
    kpm = spec.get("key_padding_mask")
    am = spec.get("attn_mask")
    is_causal = spec.get("is_causal", False)
    need_weights = spec.get("need_weights", True)
    w2x = []

    def done(expect, extra_warnings=(), note=None):
        ws = w2x + [w for w in extra_warnings if w not in WARNINGS_113_ONLY]
        if note:
            notes.append(note)
        if ws != base_warnings and MISMATCH_WARNING in ws:
            notes.append("2.x warns when key_padding_mask and attn_mask dtypes differ (in the module's "
                         "forward, and again in F.multi_head_attention_forward while their canonical "
                         "dtypes still differ); 1.13 has no such warning")
        if is_causal:
            notes.append("is_causal is absent from 1.13: expectation derived from the 1.13 call without it")
        changed = expect != base or ws != base_warnings or is_causal
        if changed and not notes:
            notes.append("2.x order of checks differs from 1.13")
        return expect, ws, ("; ".join(notes) if changed else None)

    # M1 -----------------------------------------------------------------------------------
    if kpm is not None:
        if kpm["dtype"] != "bool" and not _is_float(kpm["dtype"]):
            return done(err("forward", "AssertionError",
                            "only bool and floating types of key_padding_mask are supported"),
                        note="2.x checks the key_padding_mask dtype first of all")
        if am is not None and am["dtype"] != kpm["dtype"]:
            w2x.append(MISMATCH_WARNING)
    # M2 -----------------------------------------------------------------------------------
    if am is not None and am["dtype"] != "bool" and not _is_float(am["dtype"]):
        return done(err("forward", "AssertionError",
                        "only bool and floating types of attn_mask are supported"),
                    note="2.x canonicalises attn_mask before any shape check and refuses non-bool, "
                         "non-floating masks (uint8 included; 1.13 accepted uint8 with a warning)")
    # M3 -----------------------------------------------------------------------------------
    prefix = run_113_prefix(spec)
    if prefix is not None:
        if prefix != base:
            raise Skip("1.13 prefix error differs from the full 1.13 run")
        return done(base, base_warnings)
    # F1 -----------------------------------------------------------------------------------
    if kpm is not None and am is not None and \
            _canonical_dtype(kpm["dtype"], qdt) != _canonical_dtype(am["dtype"], qdt):
        w2x.append(MISMATCH_WARNING)
    # F2 -----------------------------------------------------------------------------------
    if is_causal and am is None:
        return done(err("forward", "RuntimeError", IS_CAUSAL_NEEDS_MASK),
                    note="is_causal=True without attn_mask raises in 2.x after the rank checks and "
                         "before the embed-dim check (1.13 has no is_causal)")
    effective = copy.deepcopy(spec)
    effective.pop("is_causal", None)
    eff_note = None
    # F3 -----------------------------------------------------------------------------------
    if is_causal and kpm is None and not need_weights:
        del effective["attn_mask"]
        am = None
        eff_note = ("is_causal=True with need_weights=False and no key_padding_mask: 2.x drops "
                    "attn_mask after the rank checks (its shape is never checked) and passes "
                    "is_causal to scaled_dot_product_attention")
    # F4 -----------------------------------------------------------------------------------
    if kpm is not None and am is not None and _is_float(kpm["dtype"]):
        if not _is_float(am["dtype"]):
            raise Skip("float key_padding_mask with bool attn_mask: 1.13 and 2.x combine them differently")
        effective["key_padding_mask"] = dict(kpm, dtype="bool")
        eff_note = ("2.x adds a float key_padding_mask to a float attn_mask (1.13 masked_fill'ed with it, "
                    "other semantics); expectation from the 1.13 call with a bool key_padding_mask of the same shape")
    if effective != spec or is_causal:
        res, res_warnings = run_113(effective)
    else:
        res, res_warnings = base, base_warnings
    # F5 -----------------------------------------------------------------------------------
    if not res["ok"] and res["error"]["message"].startswith(LINEAR_MESSAGES_113):
        lin = linear_dtype_error_2x(effective)
        if lin is not None:
            return done(err("forward", "RuntimeError", lin), note=(
                "2.x's F.linear checks dtypes before shapes and names them (addmm path for a contiguous "
                "3-D input with bias, matmul->mm path otherwise); 1.13 said '{}'".format(res["error"]["message"])))
        if not res["error"]["message"].startswith("mat1 and mat2 shapes cannot be multiplied"):
            raise Skip("1.13 dtype error at a linear that the 2.x replay does not find")
    # F6 -----------------------------------------------------------------------------------
    if not res["ok"] and res["error"]["message"].startswith("expecting key_padding_mask shape of"):
        m = re.match(r"expecting key_padding_mask shape of \((\d+), (\d+)\), but got torch\.Size\(\[(\d+), (\d+)\]\)$",
                     res["error"]["message"])
        if not m:
            raise Skip("unparsed key_padding_mask message")
        bsz, src_len, a, b = (int(x) for x in m.groups())
        if a != bsz:
            msg = "Expected key_padded_mask.shape[0] to be {}, but got {}".format(bsz, a)
        else:
            msg = "Expected key_padded_mask.shape[1] to be {}, but got {}".format(src_len, b)
        return done(err("forward", "AssertionError", msg), res_warnings, note=(
            "2.x (_check_key_padding_mask, recent 2.x releases) checks key_padding_mask.shape[0] then "
            "shape[1] with its own message; 1.13 and early 2.x said '{}'".format(res["error"]["message"])))
    # F7 -----------------------------------------------------------------------------------
    if res["ok"]:
        merged = None
        if am is not None:
            merged = _canonical_dtype(am["dtype"], qdt)
        if kpm is not None:
            k = _canonical_dtype(kpm["dtype"], qdt)
            merged = k if merged is None else _promote(merged, k)
        if merged is not None and merged != qdt:
            if need_weights:
                msg = ("Input dtypes must be the same, got: input {m}, batch1: {q}, batch2: {q}"
                       .format(m=TYPEMETA_NAMES[merged], q=TYPEMETA_NAMES[qdt]))
                return done(err("forward", "RuntimeError", msg), note=(
                    "2.x hands the float mask ({}) to torch.baddbmm with {} q/k, which requires equal "
                    "dtypes (1.13 promoted)".format(merged, qdt)))
            if merged == "float32":
                # validate_sdpa_input allows any float32 mask; the math / flash-CPU kernels add it
                return done(res, res_warnings, note=eff_note)
            msg = ("Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                   "attn_mask.dtype: {} and  query.dtype: {} instead.".format(
                       TYPEMETA_NAMES[merged], TYPEMETA_NAMES[qdt]))
            return done(err("forward", "RuntimeError", msg), note=(
                "need_weights=False: 2.x computes through F.scaled_dot_product_attention, which refuses "
                "a {} attn_mask with a {} query (1.13 promoted)".format(merged, qdt)))
    if eff_note and not is_causal and res == base:
        eff_note = None  # the substitution changed nothing 1.13 reported
    return done(res, res_warnings, note=eff_note)


# ---------------------------------------------------------------------------------------------
# Spec construction
# ---------------------------------------------------------------------------------------------

class Call:
    """A call under construction: module kwargs, tensors (name -> spec), roles (role -> name)."""

    def __init__(self, embed_dim, num_heads, **mod):
        self.mod = OrderedDict([("type", "MultiheadAttention"), ("embed_dim", embed_dim),
                                ("num_heads", num_heads)])
        for k, v in mod.items():
            if k not in MODULE_DEFAULTS:
                raise KeyError(k)
            if v != MODULE_DEFAULTS[k]:
                self.mod[k] = v
        self.tensors = OrderedDict()
        self.roles = {}
        self.masks = OrderedDict()
        self.flags = OrderedDict()

    @property
    def dtype(self):
        return self.mod.get("dtype", "float32")

    def set(self, roles, shape, dtype=None, name=None):
        """Give `roles` (e.g. "qkv", "kv", "q", "k", "v", "qk") one tensor of `shape`."""
        names = {"q": "query", "k": "key", "v": "value"}
        if name is None:
            name = {"qkv": "x", "kv": "kv", "qk": "qk", "q": "q", "k": "k", "v": "v"}.get(roles, roles)
        self.tensors[name] = {"shape": list(shape), "dtype": dtype or self.dtype}
        for r in roles:
            self.roles[names[r]] = name
        return self

    def mask(self, which, shape, dtype="bool"):
        self.masks[which] = {"shape": list(shape), "dtype": dtype}
        return self

    def flag(self, **kw):
        defaults = {"need_weights": True, "average_attn_weights": True, "is_causal": False}
        for k, v in kw.items():
            if v != defaults[k]:
                self.flags[k] = v
            else:
                self.flags.pop(k, None)
        return self

    def spec(self):
        used = Counter(self.roles[r] for r in ROLES)
        s = OrderedDict()
        s["module"] = dict(self.mod)
        shared = OrderedDict((n, dict(self.tensors[n])) for n in self.tensors if used.get(n, 0) > 1)
        if shared:
            s["tensors"] = shared
        for r in ROLES:
            n = self.roles[r]
            s[r] = n if n in shared else dict(self.tensors[n])
        for m in MASKS:
            if m in self.masks:
                s[m] = dict(self.masks[m])
        for k in ("need_weights", "average_attn_weights", "is_causal"):
            if k in self.flags:
                s[k] = self.flags[k]
        return s


def seq_batch(batch_first, batched, seq, n, e):
    if not batched:
        return (seq, e)
    return (n, seq, e) if batch_first else (seq, n, e)


# ---------------------------------------------------------------------------------------------
# Case families
# ---------------------------------------------------------------------------------------------

class Cases:
    def __init__(self):
        self.items = []
        self.names = set()
        self.skipped = []

    def add(self, name, call_or_spec):
        spec = call_or_spec.spec() if isinstance(call_or_spec, Call) else call_or_spec
        base = name
        i = 2
        while name in self.names:
            name = "{}-{}".format(base, i)
            i += 1
        try:
            expect, ws, note = expect_pytorch2x(spec)
        except Skip as e:
            self.skipped.append((name, str(e)))
            return
        case = OrderedDict([("name", name), ("spec", spec), ("expect", expect)])
        if ws:
            case["warnings"] = ws
        if note:
            case["pytorch_2x"] = note
        self.names.add(name)
        self.items.append(case)


def seed_examples(cases):
    # Example 1: MHA(512, 8), q (32, 1, 512), k and v distinct (32, 10, 512)
    for bf in (False, True):
        sfx = "-batch_first" if bf else ""
        c = Call(512, 8, batch_first=bf).set("q", (32, 1, 512)).set("k", (32, 10, 512)).set("v", (32, 10, 512))
        cases.add("seed-example-1" + sfx, c)
        # Example 2: key/value feature size 256
        c = Call(512, 8, batch_first=bf).set("q", (32, 1, 512)).set("k", (32, 10, 256)).set("v", (32, 10, 256))
        cases.add("seed-example-2" + sfx, c)
        c = Call(512, 8, kdim=256, vdim=256, batch_first=bf).set("q", (32, 1, 512)) \
            .set("k", (32, 10, 256)).set("v", (32, 10, 256))
        cases.add("seed-example-2-kdim-vdim" + sfx, c)
        c = Call(512, 8, kdim=256, batch_first=bf).set("q", (32, 1, 512)) \
            .set("k", (32, 10, 256)).set("v", (32, 10, 256))
        cases.add("seed-example-2-kdim-only" + sfx, c)
        c = Call(512, 8, vdim=256, batch_first=bf).set("q", (32, 1, 512)) \
            .set("k", (32, 10, 256)).set("v", (32, 10, 256))
        cases.add("seed-example-2-vdim-only" + sfx, c)
        # Example 3: all (32, 10, 512)
        c = Call(512, 8, batch_first=bf).set("q", (32, 10, 512)).set("k", (32, 10, 512)).set("v", (32, 10, 512))
        cases.add("seed-example-3" + sfx, c)
    # Example 1 with key is value (one tensor for both), and the transposed fix
    c = Call(512, 8).set("q", (32, 1, 512)).set("kv", (32, 10, 512))
    cases.add("seed-example-1-key-is-value", c)
    c = Call(512, 8).set("q", (1, 32, 512)).set("k", (10, 32, 512)).set("v", (10, 32, 512))
    cases.add("seed-example-1-transposed", c)
    c = Call(512, 8, batch_first=True).set("q", (32, 1, 512)).set("k", (32, 10, 256)).set("v", (32, 10, 256))
    cases.add("seed-example-2-batch_first-only", c)
    c = Call(512, 8, kdim=256, vdim=256).set("q", (32, 1, 512)).set("k", (32, 10, 256)).set("v", (32, 10, 256))
    cases.add("seed-example-2-kdim-vdim-only", c)
    c = Call(512, 8).set("qkv", (32, 10, 512))
    cases.add("seed-example-3-self-attention", c)
    c = Call(512, 8).set("q", (32, 10, 512)).set("kv", (32, 10, 512)).flag(need_weights=False)
    cases.add("seed-example-3-no-weights", c)


def constructor_cases(cases):
    bad = [
        (10, 3), (64, 5), (512, 7), (6, 4), (4, 8), (1, 2), (63, 8), (100, 3),
        (0, 8), (8, 0), (0, 0), (-8, 4), (16, -4), (-16, -4), (-3, 2), (64, -3), (0, 1), (1, 0),
    ]
    for e, h in bad:
        c = Call(e, h).set("qkv", (3, 2, max(e, 1)))
        cases.add("ctor-embed{}-heads{}".format(e, h), c)
    for kw, name in [({"kdim": -5}, "neg-kdim"), ({"vdim": -2}, "neg-vdim"),
                     ({"kdim": -5, "vdim": -2}, "neg-kdim-vdim"), ({"kdim": 8, "vdim": -1}, "neg-vdim-kdim-ok")]:
        c = Call(16, 4, **kw).set("qkv", (3, 2, 16))
        cases.add("ctor-" + name, c)
    c = Call(10, 3, kdim=-5).set("qkv", (3, 2, 10))
    cases.add("ctor-not-divisible-and-neg-kdim", c)
    c = Call(0, 4, kdim=-5).set("qkv", (3, 2, 1))
    cases.add("ctor-zero-embed-and-neg-kdim", c)
    for e, h in [(1, 1), (8, 8), (3, 1), (3, 3), (12, 6)]:
        c = Call(e, h).set("qkv", (2, 3, e))
        cases.add("ctor-ok-embed{}-heads{}".format(e, h), c)


E_CHOICES = [(8, 1), (8, 2), (8, 4), (8, 8), (12, 3), (12, 4), (12, 6), (16, 1), (16, 2), (16, 4),
             (16, 8), (24, 3), (24, 6), (32, 4), (32, 8), (48, 6), (64, 8), (64, 4), (6, 2), (1, 1),
             (2, 2), (20, 5), (40, 8), (64, 16)]


def random_config(rng):
    """A random valid call configuration (a dict, turned into a Call by `config_call`)."""
    e, h = rng.choice(E_CHOICES)
    cfg = {
        "E": e, "H": h,
        "bias": rng.random() < 0.8,
        "add_bias_kv": rng.random() < 0.25,
        "add_zero_attn": rng.random() < 0.25,
        "dropout": 0.1 if rng.random() < 0.1 else 0.0,
        "batch_first": rng.random() < 0.5,
        "batched": rng.random() < 0.75,
        "dtype": "float64" if rng.random() < 0.1 else "float32",
        "L": rng.choice([1, 1, 2, 3, 4, 5, 7]),
        "S": rng.choice([1, 2, 3, 4, 5, 6, 9]),
        "N": rng.choice([1, 1, 2, 3, 4]),
        "need_weights": rng.random() < 0.7,
        "avg": rng.random() < 0.7,
    }
    kv = rng.random()
    if kv < 0.55:
        cfg["kdim"] = cfg["vdim"] = None
    elif kv < 0.7:
        cfg["kdim"] = cfg["vdim"] = rng.choice([3, 5, 7, 10, 2 * e])
    elif kv < 0.8:
        cfg["kdim"] = cfg["vdim"] = e  # explicitly equal to embed_dim: packed weights
    elif kv < 0.9:
        cfg["kdim"], cfg["vdim"] = rng.choice([3, 5, 9]), None
    else:
        cfg["kdim"], cfg["vdim"] = None, rng.choice([3, 5, 9])
    kd = cfg["kdim"] if cfg["kdim"] is not None else e
    vd = cfg["vdim"] if cfg["vdim"] is not None else e
    cfg["Ek"], cfg["Ev"] = kd, vd
    # identity
    ident = rng.random()
    if ident < 0.25 and kd == e and vd == e:
        cfg["ident"] = "qkv"
        cfg["S"] = cfg["L"]
    elif ident < 0.55 and kd == vd:
        cfg["ident"] = "kv"
    elif ident < 0.6 and kd == e:
        cfg["ident"] = "qk"
        cfg["S"] = cfg["L"]
    else:
        cfg["ident"] = "none"
    # masks
    m = rng.random()
    cfg["am"] = None
    cfg["kpm"] = None
    amd = rng.choice(["bool", "bool", "float32"]) if cfg["dtype"] == "float32" else rng.choice(["bool", "float64"])
    if m < 0.2:
        cfg["am"] = ("2d", amd)
    elif m < 0.35:
        cfg["am"] = ("3d", amd)
    elif m < 0.5:
        cfg["kpm"] = rng.choice(["bool", "bool", "float32"]) if cfg["dtype"] == "float32" else "bool"
    elif m < 0.65:
        cfg["am"] = (rng.choice(["2d", "3d"]), amd)
        # float kpm never with a bool attn_mask; otherwise mostly the same dtype
        cfg["kpm"] = amd if (amd != "bool" and rng.random() < 0.5) else "bool"
    cfg["is_causal"] = False
    return cfg


def config_call(cfg):
    e, h = cfg["E"], cfg["H"]
    c = Call(e, h, dropout=cfg["dropout"], bias=cfg["bias"], add_bias_kv=cfg["add_bias_kv"],
             add_zero_attn=cfg["add_zero_attn"], kdim=cfg["kdim"], vdim=cfg["vdim"],
             batch_first=cfg["batch_first"], dtype=cfg["dtype"])
    bf, b = cfg["batch_first"], cfg["batched"]
    L, S, N = cfg["L"], cfg["S"], cfg["N"]
    q = cfg.get("q_shape") or seq_batch(bf, b, L, N, e)
    k = cfg.get("k_shape") or seq_batch(bf, b, S, cfg.get("Nk", N), cfg["Ek"])
    v = cfg.get("v_shape") or seq_batch(bf, b, cfg.get("Sv", S), cfg.get("Nv", cfg.get("Nk", N)), cfg["Ev"])
    ident = cfg["ident"]
    qd = cfg.get("q_dtype")
    if ident == "qkv":
        c.set("qkv", q, qd)
    elif ident == "qk":
        c.set("qk", q, qd).set("v", v)
    elif ident == "kv":
        c.set("q", q, qd).set("kv", k)
    else:
        c.set("q", q, qd).set("k", k).set("v", v)
    if cfg.get("am"):
        form, dt = cfg["am"]
        if form == "2d":
            shape = (L, S)
        elif form == "3d":
            shape = (N * h, L, S) if b else (h, L, S)
        else:
            shape = form  # explicit shape tuple
        c.mask("attn_mask", shape, dt)
    if cfg.get("kpm"):
        dt = cfg["kpm"]
        shape = cfg.get("kpm_shape") or ((N, S) if b else (S,))
        c.mask("key_padding_mask", shape, dt)
    c.flag(need_weights=cfg["need_weights"], average_attn_weights=cfg["avg"], is_causal=cfg["is_causal"])
    return c


def describe(cfg):
    parts = ["e{}h{}".format(cfg["E"], cfg["H"])]
    if cfg["kdim"] is not None or cfg["vdim"] is not None:
        parts.append("kd{}vd{}".format(cfg["kdim"], cfg["vdim"]))
    if not cfg["bias"]:
        parts.append("nobias")
    if cfg["add_bias_kv"]:
        parts.append("biaskv")
    if cfg["add_zero_attn"]:
        parts.append("zeroattn")
    if cfg["dropout"]:
        parts.append("drop")
    parts.append("bf" if cfg["batch_first"] else "sf")
    parts.append("b" if cfg["batched"] else "unb")
    if cfg["dtype"] != "float32":
        parts.append(cfg["dtype"])
    parts.append("L{}S{}".format(cfg["L"], cfg["S"]) + ("N{}".format(cfg["N"]) if cfg["batched"] else ""))
    parts.append(cfg["ident"])
    if cfg.get("am"):
        parts.append("am{}{}".format(cfg["am"][0] if isinstance(cfg["am"][0], str) else "x", cfg["am"][1]))
    if cfg.get("kpm"):
        parts.append("kpm" + cfg["kpm"])
    if not cfg["need_weights"]:
        parts.append("nw")
    elif not cfg["avg"]:
        parts.append("perhead")
    if cfg.get("is_causal"):
        parts.append("causal")
    return "-".join(parts)


def valid_cases(cases, rng, count):
    for i in range(count):
        cfg = random_config(rng)
        cases.add("valid-{:03d}-{}".format(i, describe(cfg)), config_call(cfg))


def handpicked_valid(cases):
    """Every mask form and option at least once, systematically."""
    i = 0
    for batched in (True, False):
        for bf in (False, True):
            for form in (None, "2d", "3d"):
                for kpm in (None, "bool", "float32"):
                    for dt in ("bool", "float32"):
                        if form is None and dt == "float32":
                            continue
                        if kpm == "float32" and dt == "bool" and form is not None:
                            continue  # float kpm + bool attn_mask: 1.13 and 2.x differ
                        for nw in (True, False):
                            cfg = {"E": 16, "H": 4, "bias": True, "add_bias_kv": False, "add_zero_attn": False,
                                   "dropout": 0.0, "batch_first": bf, "batched": batched, "dtype": "float32",
                                   "L": 3, "S": 5, "N": 2, "need_weights": nw, "avg": (i % 3 != 0),
                                   "kdim": None, "vdim": None, "Ek": 16, "Ev": 16, "ident": "kv",
                                   "am": (form, dt) if form else None, "kpm": kpm, "is_causal": False}
                            cases.add("masks-" + describe(cfg), config_call(cfg))
                            i += 1
    # add_bias_kv / add_zero_attn with every mask form
    for bkv, za in ((True, False), (False, True), (True, True)):
        for batched in (True, False):
            for form in ("2d", "3d"):
                for nw in (True, False):
                    cfg = {"E": 8, "H": 2, "bias": True, "add_bias_kv": bkv, "add_zero_attn": za,
                           "dropout": 0.0, "batch_first": False, "batched": batched, "dtype": "float32",
                           "L": 2, "S": 4, "N": 3, "need_weights": nw, "avg": False,
                           "kdim": None, "vdim": None, "Ek": 8, "Ev": 8, "ident": "none",
                           "am": (form, "bool"), "kpm": "bool", "is_causal": False}
                    cases.add("extra-kv-" + describe(cfg), config_call(cfg))
    # dims of size 1 everywhere
    for bf in (False, True):
        for ident in ("qkv", "kv", "none"):
            cfg = {"E": 1, "H": 1, "bias": True, "add_bias_kv": False, "add_zero_attn": False,
                   "dropout": 0.0, "batch_first": bf, "batched": True, "dtype": "float32",
                   "L": 1, "S": 1, "N": 1, "need_weights": True, "avg": True,
                   "kdim": None, "vdim": None, "Ek": 1, "Ev": 1, "ident": ident,
                   "am": ("3d", "bool"), "kpm": "bool", "is_causal": False}
            cases.add("ones-" + describe(cfg), config_call(cfg))
    # float64 module, float64 everything
    for form in (None, "2d", "3d"):
        for kpm in (None, "bool", "float64"):
            if kpm == "float64" and form is None:
                pass
            cfg = {"E": 12, "H": 3, "bias": True, "add_bias_kv": False, "add_zero_attn": False,
                   "dropout": 0.0, "batch_first": True, "batched": True, "dtype": "float64",
                   "L": 4, "S": 2, "N": 2, "need_weights": True, "avg": True,
                   "kdim": None, "vdim": None, "Ek": 12, "Ev": 12, "ident": "none",
                   "am": (form, "float64") if form else None, "kpm": kpm, "is_causal": False}
            cases.add("f64-" + describe(cfg), config_call(cfg))
    # explicit kdim == vdim == embed_dim behaves as packed; kdim != vdim with k is v impossible
    for kd, vd in ((16, 16), (16, None), (None, 16), (8, 16), (16, 8), (8, 8), (32, 24)):
        for ident in ("none", "kv"):
            if ident == "kv" and (kd or 16) != (vd or 16):
                continue
            cfg = {"E": 16, "H": 2, "bias": True, "add_bias_kv": False, "add_zero_attn": False,
                   "dropout": 0.0, "batch_first": False, "batched": True, "dtype": "float32",
                   "L": 3, "S": 4, "N": 2, "need_weights": True, "avg": True,
                   "kdim": kd, "vdim": vd, "Ek": kd or 16, "Ev": vd or 16, "ident": ident,
                   "am": None, "kpm": None, "is_causal": False}
            cases.add("kvdim-" + describe(cfg), config_call(cfg))


# Mutations: each takes a valid cfg, returns (tag, new cfg) or None when it does not apply.

def _shape(cfg, role):
    bf, b = cfg["batch_first"], cfg["batched"]
    if role == "q":
        return list(seq_batch(bf, b, cfg["L"], cfg["N"], cfg["E"]))
    if role == "k":
        return list(seq_batch(bf, b, cfg["S"], cfg["N"], cfg["Ek"]))
    return list(seq_batch(bf, b, cfg["S"], cfg["N"], cfg["Ev"]))


def _apply_shape(cfg, role, shape):
    """Set the shape of a role's tensor (which moves every role that shares it)."""
    sharing = {"qkv": "qkv", "kv": "kv", "qk": "qk"}.get(cfg["ident"], "")
    group = sharing if role in sharing else role
    for r in group:
        cfg[r + "_shape"] = list(shape)


def mut_query_rank(rng, cfg):
    n = rng.choice([1, 4])
    s = _shape(cfg, "q")
    shape = [cfg["E"]] if n == 1 else ([2] + s if len(s) == 3 else [2, 1] + s)
    _apply_shape(cfg, "q", shape)
    return "query-{}d".format(n)


def mut_key_rank(rng, cfg):
    role = rng.choice(["k", "v"])
    s = _shape(cfg, role)
    choices = [1, 4, 2 if len(s) == 3 else 3]
    n = rng.choice(choices)
    if n == 1:
        shape = [s[-1]]
    elif n == 2:
        shape = s[1:] if cfg["batch_first"] else [s[0], s[2]]
    elif n == 3:
        shape = [s[0], 1, s[1]]
    else:
        shape = [1] * (4 - len(s)) + s
    _apply_shape(cfg, role, shape)
    return "{}-{}d".format({"k": "key", "v": "value"}[role], n)


def mut_mask_rank(rng, cfg):
    which = rng.choice(["am", "kpm"])
    L, S, N, H = cfg["L"], cfg["S"], cfg["N"], cfg["H"]
    if which == "am":
        shape = rng.choice([(S,), (N, H, L, S), (1, 1, L, S)])
        cfg["am"] = (shape, "bool")
        return "attn_mask-{}d".format(len(shape))
    if cfg["batched"]:
        shape = rng.choice([(S,), (N, 1, S), (N * S,)])
    else:
        shape = rng.choice([(1, S), (S, 1), (1, 1, S)])
    cfg["kpm"] = "bool"
    cfg["kpm_shape"] = list(shape)
    return "kpm-{}d".format(len(shape))


def mut_query_dim(rng, cfg):
    s = _shape(cfg, "q")
    s[-1] = rng.choice([cfg["E"] * 2, cfg["E"] + 1, max(1, cfg["E"] // 2)])
    if s[-1] == cfg["E"]:
        s[-1] = cfg["E"] + 3
    _apply_shape(cfg, "q", s)
    return "query-lastdim"


def mut_kv_dim(rng, cfg):
    role = rng.choice(["k", "v", "kv"])
    new = rng.choice([cfg["Ek"] + 1, cfg["Ek"] * 2, 7])
    if role == "kv" or cfg["ident"] in ("kv", "qkv"):
        for r in "kv":
            s = _shape(cfg, r)
            s[-1] = new if new != cfg["E" + r] else new + 1
            _apply_shape(cfg, r, s)
        return "kv-lastdim"
    s = _shape(cfg, role)
    dim_name = "E" + role
    s[-1] = new if new != cfg[dim_name] else new + 1
    _apply_shape(cfg, role, s)
    return "{}-lastdim".format({"k": "key", "v": "value"}[role])


def mut_kv_mismatch(rng, cfg):
    if cfg["ident"] in ("kv", "qkv"):
        return None
    s = _shape(cfg, "v")
    what = rng.choice(["seq", "batch"] if cfg["batched"] else ["seq"])
    if what == "seq":
        i = 1 if (cfg["batched"] and cfg["batch_first"]) else 0
    else:
        i = 0 if cfg["batch_first"] else 1
    s[i] += rng.choice([1, 2])
    _apply_shape(cfg, "v", s)
    return "value-{}-vs-key".format(what)


def mut_kv_batch(rng, cfg):
    if not cfg["batched"] or cfg["ident"] in ("qkv", "qk"):
        return None
    i = 0 if cfg["batch_first"] else 1
    nk = cfg["N"] + rng.choice([1, 2, 3])
    for r in ("k", "v"):
        s = _shape(cfg, r)
        s[i] = nk
        _apply_shape(cfg, r, s)
    return "kv-batch-vs-query"


def mut_am_shape(rng, cfg):
    L, S, N, H = cfg["L"], cfg["S"], cfg["N"], cfg["H"]
    dt = rng.choice(["bool", "float32"]) if cfg["dtype"] == "float32" else "bool"
    opts = [("2d-wrong-L", (L + 1, S)), ("2d-wrong-S", (L, S + 1)), ("2d-swapped", (S, L))]
    if cfg["batched"]:
        opts += [("3d-N-not-NH", (N, L, S)), ("3d-H-not-NH", (H, L, S)), ("3d-wrong-L", (N * H, L + 2, S)),
                 ("3d-wrong-S", (N * H, L, S + 2)), ("3d-one", (1, L, S))]
    else:
        opts += [("3d-unbatched-wrong-H", (H + 1, L, S)), ("3d-unbatched-wrong-S", (H, L, S + 1)),
                 ("3d-unbatched-one", (1, L, S))]
    tag, shape = rng.choice(opts)
    if tuple(shape) in ((L, S), (N * H, L, S) if cfg["batched"] else (H, L, S)):
        return None
    cfg["am"] = (shape, dt)
    if cfg.get("kpm") and cfg["kpm"] != "bool" and dt == "bool":
        cfg["kpm"] = "bool"
    return "attn_mask-" + tag


def mut_kpm_shape(rng, cfg):
    N, S = cfg["N"], cfg["S"]
    if cfg["batched"]:
        tag, shape = rng.choice([("wrong-N", (N + 1, S)), ("wrong-S", (N, S + 1)), ("swapped", (S, N)),
                                 ("S-minus-1", (N, max(S - 1, 0)))])
        if tuple(shape) == (N, S):
            return None
    else:
        tag, shape = rng.choice([("wrong-S", (S + 1,)), ("S-minus-1", (max(S - 1, 0),))])
    cfg["kpm"] = cfg.get("kpm") or "bool"
    if cfg["kpm"] != "bool" and cfg.get("am") and cfg["am"][1] == "bool":
        cfg["kpm"] = "bool"
    cfg["kpm_shape"] = list(shape)
    return "kpm-" + tag


def mut_mask_extra_pos(rng, cfg):
    """Masks sized with the extra key position that add_bias_kv / add_zero_attn append."""
    if not (cfg["add_bias_kv"] or cfg["add_zero_attn"]):
        cfg[rng.choice(["add_bias_kv", "add_zero_attn"])] = True
    extra = int(cfg["add_bias_kv"]) + int(cfg["add_zero_attn"])
    L, S, N, H = cfg["L"], cfg["S"], cfg["N"], cfg["H"]
    which = rng.choice(["am2", "am3", "kpm"])
    if which == "am2":
        cfg["am"] = ((L, S + extra), "bool")
    elif which == "am3":
        cfg["am"] = (((N * H) if cfg["batched"] else H, L, S + extra), "bool")
    else:
        cfg["kpm"] = "bool"
        cfg["kpm_shape"] = [N, S + extra] if cfg["batched"] else [S + extra]
    return "{}-plus-extra".format(which)


def mut_mask_dtype(rng, cfg):
    dt = rng.choice(["int64", "int32", "uint8", "int8"])
    which = rng.choice(["am", "kpm", "both"])
    if which in ("am", "both"):
        form = cfg["am"][0] if cfg.get("am") else rng.choice(["2d", "3d"])
        cfg["am"] = (form, dt)
    if which in ("kpm", "both"):
        cfg["kpm"] = dt
    return "{}-{}".format(which if which != "am" else "attn_mask", dt).replace("kpm", "kpm")


def mut_input_dtype(rng, cfg):
    if cfg["dtype"] == "float32":
        cfg["q_dtype"] = "float64"
        # the shared tensor (if any) carries the dtype; distinct k/v stay float32 unless shared
        return "float64-query-float32-module"
    cfg["q_dtype"] = "float32"
    return "float32-query-float64-module"


def mut_mask_f64(rng, cfg):
    if cfg["dtype"] != "float32":
        return None
    form = cfg["am"][0] if cfg.get("am") else rng.choice(["2d", "3d"])
    cfg["am"] = (form, "float64")
    if cfg.get("kpm") and cfg["kpm"] != "bool":
        cfg["kpm"] = "float64"
    return "attn_mask-float64"


def mut_bf_low_rank_key(rng, cfg):
    cfg["batch_first"] = True
    cfg["batched"] = True
    cfg["ident"] = "none" if cfg["ident"] in ("qkv", "qk") else cfg["ident"]
    if cfg["ident"] == "qk":
        cfg["ident"] = "none"
    n = rng.choice([1, 2])
    for r in ("k", "v"):
        s = _shape(cfg, r)
        _apply_shape(cfg, r, [s[-1]] if n == 1 else [s[1], s[2]])
    cfg.pop("kpm_shape", None)
    return "batch_first-key-{}d".format(n)


MUTATIONS = [
    (mut_query_rank, 3), (mut_key_rank, 4), (mut_mask_rank, 3), (mut_query_dim, 4), (mut_kv_dim, 5),
    (mut_kv_mismatch, 4), (mut_kv_batch, 5), (mut_am_shape, 6), (mut_kpm_shape, 5), (mut_mask_extra_pos, 4),
    (mut_mask_dtype, 4), (mut_input_dtype, 2), (mut_mask_f64, 2), (mut_bf_low_rank_key, 2),
]


def pick_mutation(rng):
    total = sum(w for _, w in MUTATIONS)
    x = rng.random() * total
    for f, w in MUTATIONS:
        x -= w
        if x < 0:
            return f
    return MUTATIONS[-1][0]


def invalid_cases(cases, rng, count, max_mutations):
    made = 0
    attempts = 0
    while made < count and attempts < count * 20:
        attempts += 1
        cfg = random_config(rng)
        cfg["is_causal"] = False
        n = 1 if max_mutations == 1 else rng.randint(2, max_mutations)
        tags = []
        for _ in range(n):
            f = pick_mutation(rng)
            tag = f(rng, cfg)
            if tag is None or tag in tags:
                continue
            tags.append(tag)
        if len(tags) < min(n, 2 if max_mutations > 1 else 1):
            continue
        prefix = "invalid" if max_mutations == 1 else "combo"
        before = len(cases.items)
        cases.add("{}-{:03d}-{}--{}".format(prefix, made, "+".join(tags), describe(cfg)), config_call(cfg))
        if len(cases.items) > before:
            made += 1


def every_mutation_systematic(cases, rng):
    """Each mutation on a few fixed base configurations (both batch_first settings, batched or not)."""
    bases = []
    for bf in (False, True):
        for batched in (True, False):
            for ident in ("none", "kv", "qkv"):
                for kd in (None, 6):
                    if ident == "qkv" and kd:
                        continue
                    for bkv in (False, True):
                        bases.append({"E": 8, "H": 2, "bias": True, "add_bias_kv": bkv, "add_zero_attn": False,
                                      "dropout": 0.0, "batch_first": bf, "batched": batched, "dtype": "float32",
                                      "L": 3 if ident != "qkv" else 4, "S": 4, "N": 2, "need_weights": True,
                                      "avg": True, "kdim": kd, "vdim": kd, "Ek": kd or 8, "Ev": kd or 8,
                                      "ident": ident, "am": None, "kpm": None, "is_causal": False})
    for f, _ in MUTATIONS:
        for j, base in enumerate(bases):
            if j % 3 != MUTATIONS.index((f, _)) % 3:
                continue
            cfg = copy.deepcopy(base)
            tag = f(rng, cfg)
            if tag is None:
                continue
            cases.add("sys-{}--{}".format(tag, describe(cfg)), config_call(cfg))


def targeted_invalid(cases):
    """Hand-written invalid calls whose messages are worth pinning exactly."""
    # key/value batch != query batch, with and without add_bias_kv, both layouts, packed and separate
    for bf in (False, True):
        for bkv in (False, True):
            for kd in (None, 12):
                for ident in ("kv", "none"):
                    c = Call(16, 4, add_bias_kv=bkv, kdim=kd, vdim=kd, batch_first=bf)
                    c.set("q", (3, 2, 16) if not bf else (2, 3, 16))
                    kvshape = (5, 4, kd or 16) if not bf else (4, 5, kd or 16)
                    if ident == "kv":
                        c.set("kv", kvshape)
                    else:
                        c.set("k", kvshape).set("v", kvshape)
                    cases.add("kv-batch-mismatch-{}-{}-{}-{}".format(
                        "bf" if bf else "sf", "biaskv" if bkv else "nobiaskv", "kdim" if kd else "packed", ident), c)
    # add_zero_attn with a batch mismatch (cat along dim 1 after the view)
    c = Call(16, 4, add_zero_attn=True).set("q", (3, 2, 16)).set("kv", (5, 4, 16))
    cases.add("kv-batch-mismatch-zeroattn", c)
    # key.shape != value.shape in every dim, packed
    for name, vshape in (("seq", (6, 2, 16)), ("batch", (5, 3, 16)), ("feat", (5, 2, 8))):
        c = Call(16, 4).set("q", (3, 2, 16)).set("k", (5, 2, 16)).set("v", vshape)
        cases.add("packed-key-value-shape-differ-" + name, c)
        c = Call(16, 4, kdim=16, vdim=8).set("q", (3, 2, 16)).set("k", (5, 2, 16)).set("v", vshape)
        cases.add("separate-key-value-" + name, c)
    # query is key, value distinct (packed in-projection chunks three ways)
    c = Call(16, 4).set("qk", (3, 2, 16)).set("v", (3, 2, 16))
    cases.add("query-is-key-value-distinct", c)
    c = Call(16, 4).set("qk", (3, 2, 16)).set("v", (3, 2, 8))
    cases.add("query-is-key-value-bad-feat", c)
    # identity changes the in-projection error (k is v -> w_kv split)
    for ident in ("qkv", "kv", "none"):
        c = Call(16, 4)
        if ident == "qkv":
            c.set("qkv", (3, 2, 8))
        elif ident == "kv":
            c.set("q", (3, 2, 16)).set("kv", (5, 2, 8))
        else:
            c.set("q", (3, 2, 16)).set("k", (5, 2, 8)).set("v", (5, 2, 8))
        cases.add("identity-feat-mismatch-" + ident, c)
        c = Call(16, 4, kdim=10, vdim=10)
        if ident == "qkv":
            c.set("qkv", (3, 2, 16))
        elif ident == "kv":
            c.set("q", (3, 2, 16)).set("kv", (5, 2, 12))
        else:
            c.set("q", (3, 2, 16)).set("k", (5, 2, 12)).set("v", (5, 2, 10))
        cases.add("identity-kdim-wrong-" + ident, c)
        c = Call(16, 4, bias=False)
        if ident == "qkv":
            c.set("qkv", (3, 16))
        elif ident == "kv":
            c.set("q", (3, 16)).set("kv", (5, 8))
        else:
            c.set("q", (3, 16)).set("k", (5, 8)).set("v", (5, 8))
        cases.add("identity-unbatched-nobias-" + ident, c)
    # kdim set but key has embed_dim features, and vice versa
    c = Call(16, 4, kdim=8, vdim=8).set("q", (3, 2, 16)).set("kv", (5, 2, 16))
    cases.add("kdim-set-key-has-embed-dim", c)
    c = Call(16, 4, kdim=8).set("q", (3, 2, 16)).set("k", (5, 2, 8)).set("v", (5, 2, 8))
    cases.add("kdim-only-value-wrong", c)
    c = Call(16, 4, vdim=8).set("q", (3, 2, 16)).set("k", (5, 2, 8)).set("v", (5, 2, 8))
    cases.add("vdim-only-key-wrong", c)
    # masks sized without and with the extra position of add_bias_kv / add_zero_attn
    for bkv, za in ((True, False), (False, True), (True, True)):
        extra = int(bkv) + int(za)
        tag = ("biaskv" if bkv else "") + ("zeroattn" if za else "")
        for plus in (0, extra):
            for which in ("am2", "am3", "kpm"):
                c = Call(8, 2, add_bias_kv=bkv, add_zero_attn=za).set("q", (3, 2, 8)).set("kv", (4, 2, 8))
                if which == "am2":
                    c.mask("attn_mask", (3, 4 + plus))
                elif which == "am3":
                    c.mask("attn_mask", (4, 3, 4 + plus))
                else:
                    c.mask("key_padding_mask", (2, 4 + plus))
                cases.add("extra-pos-{}-{}-S{}".format(tag, which, "+{}".format(plus) if plus else ""), c)
    # mask dtypes, alone and together, plus an otherwise-broken call (dtype error comes first in 2.x)
    for dt in ("int64", "int32", "uint8", "int8"):
        for which in ("attn_mask", "key_padding_mask"):
            for broken in (False, True):
                c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8 if not broken else 6))
                c.mask(which, (3, 4) if which == "attn_mask" else (2, 4), dt)
                cases.add("mask-dtype-{}-{}{}".format(which, dt, "-and-bad-key" if broken else ""), c)
        c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8))
        c.mask("attn_mask", (3, 4), dt).mask("key_padding_mask", (2, 4), "bool")
        cases.add("mask-dtype-attn_mask-{}-with-bool-kpm".format(dt), c)
        c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8))
        c.mask("attn_mask", (3, 4), "bool").mask("key_padding_mask", (2, 4), dt)
        cases.add("mask-dtype-kpm-{}-with-bool-attn_mask".format(dt), c)
        c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8))
        c.mask("attn_mask", (9, 9, 9, 9), dt)
        cases.add("mask-dtype-attn_mask-{}-and-4d".format(dt), c)
    # mismatched (but allowed) mask dtypes: warnings
    for amd, kpmd, nw in (("float32", "bool", True), ("float32", "bool", False), ("bool", "bool", True),
                          ("float32", "float32", True), ("float32", "float32", False),
                          ("float64", "bool", True), ("float64", "float32", True), ("float64", "float64", False)):
        c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8))
        c.mask("attn_mask", (3, 4), amd).mask("key_padding_mask", (2, 4), kpmd).flag(need_weights=nw)
        cases.add("mask-pair-am-{}-kpm-{}{}".format(amd, kpmd, "-nw" if not nw else ""), c)
        c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8))
        c.mask("attn_mask", (3, 5), amd).mask("key_padding_mask", (2, 4), kpmd).flag(need_weights=nw)
        cases.add("mask-pair-am-{}-kpm-{}{}-bad-am".format(amd, kpmd, "-nw" if not nw else ""), c)
    # float64 module with float32 masks, float16 masks
    for amd in ("float32", "bool", "float64"):
        for nw in (True, False):
            c = Call(8, 2, dtype="float64").set("q", (3, 2, 8)).set("kv", (4, 2, 8))
            c.mask("attn_mask", (3, 4), amd).flag(need_weights=nw)
            cases.add("f64-module-attn_mask-{}{}".format(amd, "-nw" if not nw else ""), c)
            c = Call(8, 2, dtype="float64").set("q", (3, 2, 8)).set("kv", (4, 2, 8))
            c.mask("attn_mask", (3, 4), amd).mask("key_padding_mask", (2, 4), "bool").flag(need_weights=nw)
            cases.add("f64-module-attn_mask-{}-kpm-bool{}".format(amd, "-nw" if not nw else ""), c)
    # float64 / float32 inputs into the wrong module, by identity
    for mdt, idt in (("float32", "float64"), ("float64", "float32")):
        for ident in ("qkv", "kv", "none"):
            for bf in (False, True):
                c = Call(8, 2, dtype=mdt, batch_first=bf)
                if ident == "qkv":
                    c.set("qkv", (3, 2, 8), idt)
                elif ident == "kv":
                    c.set("q", (3, 2, 8), idt).set("kv", (4, 2, 8), idt)
                else:
                    c.set("q", (3, 2, 8), idt).set("k", (4, 2, 8), idt).set("v", (4, 2, 8), idt)
                cases.add("dtype-{}-inputs-{}-module-{}-{}".format(idt, mdt, ident, "bf" if bf else "sf"), c)
        c = Call(8, 2, dtype=mdt).set("q", (3, 2, 8), idt).set("kv", (4, 2, 8))
        cases.add("dtype-{}-query-only-{}-module".format(idt, mdt), c)
        c = Call(8, 2, dtype=mdt).set("q", (3, 2, 8)).set("kv", (4, 2, 8), idt)
        cases.add("dtype-{}-kv-only-{}-module".format(idt, mdt), c)
        c = Call(8, 2, dtype=mdt, kdim=6, vdim=6).set("q", (3, 2, 8)).set("kv", (4, 2, 6), idt)
        cases.add("dtype-{}-kv-only-{}-module-kdim".format(idt, mdt), c)
    # float64 attn_mask with float32 query
    for form in ("2d", "3d"):
        for nw in (True, False):
            for kpm in (None, "bool"):
                c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8))
                c.mask("attn_mask", (3, 4) if form == "2d" else (4, 3, 4), "float64").flag(need_weights=nw)
                if kpm:
                    c.mask("key_padding_mask", (2, 4), kpm)
                cases.add("attn_mask-float64-query-float32-{}{}{}".format(
                    form, "-kpm" if kpm else "", "-nw" if not nw else ""), c)
    # float64 key_padding_mask alone with a float32 module
    for nw in (True, False):
        c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8)).mask("key_padding_mask", (2, 4), "float64")
        c.flag(need_weights=nw)
        cases.add("kpm-float64-query-float32{}".format("-nw" if not nw else ""), c)
    # batch_first=True with a 1-D or 2-D key while query is 3-D
    for n in (1, 2):
        for ident in ("kv", "none"):
            for bf in (True, False):
                c = Call(8, 2, batch_first=bf).set("q", (2, 3, 8))
                kshape = (8,) if n == 1 else (4, 8)
                if ident == "kv":
                    c.set("kv", kshape)
                else:
                    c.set("k", kshape).set("v", (2, 4, 8) if n == 2 else kshape)
                cases.add("{}-query-3d-key-{}d-{}".format("batch_first" if bf else "seq_first", n, ident), c)
    c = Call(8, 2, batch_first=True).set("q", (2, 3, 8)).set("k", (2, 4, 8)).set("v", (8,))
    cases.add("batch_first-query-3d-value-1d", c)
    c = Call(8, 2, batch_first=True).set("q", (2, 3, 8)).set("k", (2, 4, 8)).set("v", (2, 2, 4, 8))
    cases.add("batch_first-query-3d-value-4d", c)
    # unbatched inputs with batched masks and vice versa
    c = Call(8, 2).set("q", (3, 8)).set("kv", (4, 8)).mask("key_padding_mask", (1, 4))
    cases.add("unbatched-kpm-2d", c)
    c = Call(8, 2).set("q", (3, 8)).set("kv", (4, 8)).mask("attn_mask", (2, 3, 4))
    cases.add("unbatched-attn_mask-3d-ok", c)
    c = Call(8, 2).set("q", (3, 8)).set("kv", (4, 8)).mask("attn_mask", (1, 3, 4))
    cases.add("unbatched-attn_mask-3d-one", c)
    c = Call(8, 2).set("q", (3, 8)).set("kv", (4, 8)).mask("attn_mask", (2, 4, 3))
    cases.add("unbatched-attn_mask-3d-swapped", c)
    c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8)).mask("key_padding_mask", (4,))
    cases.add("batched-kpm-1d", c)
    c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (4, 2, 8)).mask("attn_mask", (2, 2, 3, 4))
    cases.add("batched-attn_mask-4d", c)
    # empty sequences
    c = Call(8, 2).set("q", (3, 2, 8)).set("kv", (0, 2, 8))
    cases.add("empty-key-sequence", c)
    c = Call(8, 2).set("q", (0, 2, 8)).set("kv", (4, 2, 8))
    cases.add("empty-query-sequence", c)
    c = Call(8, 2).set("q", (3, 0, 8)).set("kv", (4, 0, 8))
    cases.add("empty-batch", c)


def causal_cases(cases, rng):
    """is_causal=True (2.x only). Derived from 1.13 runs per expect_pytorch2x's F2/F3."""
    def base(batched=True, bf=False, ident="kv", L=3, S=3):
        c = Call(8, 2, batch_first=bf)
        q = seq_batch(bf, batched, L, 2, 8)
        k = seq_batch(bf, batched, S, 2, 8)
        if ident == "qkv":
            c.set("qkv", q)
        elif ident == "kv":
            c.set("q", q).set("kv", k)
        else:
            c.set("q", q).set("k", k).set("v", k)
        return c

    for batched in (True, False):
        for bf in (False, True):
            for nw in (True, False):
                b = "b" if batched else "unb"
                lay = "bf" if bf else "sf"
                nwt = "-nw" if not nw else ""
                # no mask: error
                c = base(batched, bf, "qkv").flag(is_causal=True, need_weights=nw)
                cases.add("causal-no-mask-{}-{}{}".format(b, lay, nwt), c)
                c = base(batched, bf, "kv").flag(is_causal=True, need_weights=nw)
                c.mask("key_padding_mask", (2, 3) if batched else (3,))
                cases.add("causal-no-mask-with-kpm-{}-{}{}".format(b, lay, nwt), c)
                # correct causal mask
                c = base(batched, bf, "qkv").flag(is_causal=True, need_weights=nw).mask("attn_mask", (3, 3))
                cases.add("causal-mask-ok-{}-{}{}".format(b, lay, nwt), c)
                c = base(batched, bf, "kv", L=2, S=5).flag(is_causal=True, need_weights=nw).mask("attn_mask", (2, 5))
                cases.add("causal-mask-ok-L2S5-{}-{}{}".format(b, lay, nwt), c)
                c = base(batched, bf, "kv").flag(is_causal=True, need_weights=nw)
                c.mask("attn_mask", (3, 3), "float32").mask("key_padding_mask", (2, 3) if batched else (3,))
                cases.add("causal-mask-ok-with-kpm-{}-{}{}".format(b, lay, nwt), c)
                # wrong-shaped mask: checked unless dropped (need_weights=False, no kpm)
                for tag, shape in (("2d-wrong", (4, 3)), ("3d-wrong", (5, 3, 3)), ("2d-wrong-S", (3, 2))):
                    c = base(batched, bf, "kv").flag(is_causal=True, need_weights=nw).mask("attn_mask", shape)
                    cases.add("causal-mask-{}-{}-{}{}".format(tag, b, lay, nwt), c)
                    c = base(batched, bf, "kv").flag(is_causal=True, need_weights=nw).mask("attn_mask", shape)
                    c.mask("key_padding_mask", (2, 3) if batched else (3,))
                    cases.add("causal-mask-{}-with-kpm-{}-{}{}".format(tag, b, lay, nwt), c)
                # rank errors still come first
                c = base(batched, bf, "kv").flag(is_causal=True, need_weights=nw).mask("attn_mask", (1, 2, 3, 3))
                cases.add("causal-mask-4d-{}-{}{}".format(b, lay, nwt), c)
                # mask dtype errors come first
                c = base(batched, bf, "kv").flag(is_causal=True, need_weights=nw).mask("attn_mask", (3, 3), "uint8")
                cases.add("causal-mask-uint8-{}-{}{}".format(b, lay, nwt), c)
                # no mask + bad embed dim: the is_causal error comes before the embed-dim check
                c = Call(8, 2, batch_first=bf).set("qkv", seq_batch(bf, batched, 3, 2, 6))
                c.flag(is_causal=True, need_weights=nw)
                cases.add("causal-no-mask-bad-embed-{}-{}{}".format(b, lay, nwt), c)
                # no mask + key rank error: the rank check comes first
                c = Call(8, 2, batch_first=bf).set("q", seq_batch(bf, batched, 3, 2, 8))
                c.set("kv", (3, 2, 2, 8)).flag(is_causal=True, need_weights=nw)
                cases.add("causal-no-mask-key-4d-{}-{}{}".format(b, lay, nwt), c)
                # dropped mask + other errors after it (kv batch mismatch)
                if batched:
                    c = Call(8, 2, batch_first=bf).set("q", seq_batch(bf, True, 3, 2, 8))
                    c.set("kv", seq_batch(bf, True, 3, 3, 8)).flag(is_causal=True, need_weights=nw)
                    c.mask("attn_mask", (3, 3))
                    cases.add("causal-mask-kv-batch-mismatch-{}-{}{}".format(b, lay, nwt), c)
    # unbatched 3-D attn_mask of the wrong shape is checked by _mha_shape_check, before the drop
    for nw in (True, False):
        c = base(False, False, "kv").flag(is_causal=True, need_weights=nw).mask("attn_mask", (3, 3, 3))
        cases.add("causal-unbatched-3d-wrong{}".format("-nw" if not nw else ""), c)
        c = base(False, False, "kv").flag(is_causal=True, need_weights=nw).mask("attn_mask", (2, 3, 3))
        cases.add("causal-unbatched-3d-ok{}".format("-nw" if not nw else ""), c)
        # float64 mask with a float32 query: dropped when need_weights=False
        c = base(True, False, "kv").flag(is_causal=True, need_weights=nw).mask("attn_mask", (3, 3), "float64")
        cases.add("causal-mask-float64{}".format("-nw" if not nw else ""), c)
    # random valid configurations with is_causal=True and an (L, S) mask
    for i in range(24):
        cfg = random_config(rng)
        cfg["is_causal"] = True
        cfg["am"] = (rng.choice(["2d", "3d"]), "bool" if cfg["dtype"] == "float32" else "float64")
        if cfg.get("kpm") and cfg["kpm"] != "bool":
            cfg["kpm"] = "bool"
        cases.add("causal-{:02d}-{}".format(i, describe(cfg)), config_call(cfg))


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "mha_cases.json"))
    args = ap.parse_args()

    rng = seed_everything(SEED)

    cases = Cases()
    seed_examples(cases)
    constructor_cases(cases)
    handpicked_valid(cases)
    valid_cases(cases, rng, 260)
    targeted_invalid(cases)
    every_mutation_systematic(cases, rng)
    invalid_cases(cases, rng, 230, 1)
    invalid_cases(cases, rng, 90, 3)
    causal_cases(cases, rng)

    lines = ['{{"generator": {}, "torch_version": {}, "cases": ['.format(
        json.dumps(GENERATOR), json.dumps(torch.__version__))]
    for i, case in enumerate(cases.items):
        sep = "," if i + 1 < len(cases.items) else ""
        lines.append(json.dumps(case, separators=(",", ":")) + sep)
    lines.append("]}")
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")

    # summary
    kinds = Counter()
    overrides = 0
    warned = 0
    for case in cases.items:
        e = case["expect"]
        kinds["ok" if e["ok"] else "{} ({})".format(e["error"]["type"], e["stage"])] += 1
        overrides += "pytorch_2x" in case
        warned += "warnings" in case
    print("wrote {} cases to {} ({} bytes)".format(len(cases.items), args.out, os.path.getsize(args.out)))
    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print("  {:40s} {}".format(k, v))
    print("  cases with pytorch_2x overrides: {}".format(overrides))
    print("  cases with warnings: {}".format(warned))
    if cases.skipped:
        print("  left out (2.x behaviour not certain): {}".format(len(cases.skipped)))
        for reason, n in Counter(r for _, r in cases.skipped).most_common():
            print("    {:4d}  {}".format(n, reason))
    return 0


if __name__ == "__main__":
    sys.exit(main())
