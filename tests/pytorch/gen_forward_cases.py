#!/usr/bin/python3
"""Generate PyTorch golden fixtures for mhacheck's reference forward pass of nn.MultiheadAttention.

Writes, under tests/pytorch/forward/, for every case NAME:
  NAME.npz   inputs ("query", "key", "value", "key_padding_mask", "attn_mask" when used; bool masks
             as numpy bool, float masks in their dtype), the module's state_dict under PyTorch's
             names (exactly the keys module.state_dict() has for the configuration) and PyTorch's
             outputs ("expected.attn_output", and "expected.attn_output_weights" when need_weights)
  NAME.json  the flat mhacheck spec of the call, with the module's weights and the tensors given
             by file and key
and index.json listing the cases.

Every case is run for real on the installed PyTorch (1.13 from Debian's python3-torch): the module
is constructed with the case's options, its biases (zero-initialised by PyTorch) are overwritten
with random values so that they matter, it is put in eval mode (dropout off) and called with grad
enabled (so 1.13's fast path is not taken).

mhacheck follows PyTorch 2.x.  The only case family where 2.x computes something else than 1.13 is a
float key_padding_mask combined with a float attn_mask: 2.x adds the two masks, 1.13 masked_fill's
with the float key_padding_mask (RuntimeError "Mask tensor can take 0 and 1 values only" unless
its values are all 0 or 1).  For those cases the expected outputs come from the 1.13
call with ONE float attn_mask of shape (N*num_heads, L, S) = attn_mask + key_padding_mask broadcast,
which is what 2.x computes; the case carries a "note_2x".  A float key_padding_mask with a bool
attn_mask (1.13 and 2.x differ; no 1.13 fixture possible) is not generated.

Fully masked rows: with need_weights=True both 1.13 and every 2.x release compute the softmax
explicitly, so a row whose scores are all -inf gives NaN.  With need_weights=False 2.x goes through
F.scaled_dot_product_attention, which since 2.5 returns 0 for fully masked rows (_safe_softmax)
while 1.13 and 2.0-2.4 give NaN: the NaN cases therefore all use need_weights=True.

Every expectation is also checked against an independent re-implementation of 2.x's
F.multi_head_attention_forward (`reference_2x`, masks canonicalised to float and added); the script
fails if they disagree.

Usage:  /usr/bin/python3 tests/pytorch/gen_forward_cases.py [--out DIR]

Deterministic: each case seeds torch with a hash of its name, and the .npz files are written with
a fixed zip timestamp, so the output only changes when this script or the installed PyTorch
changes.  Only stdlib, torch and numpy are used (numpy only for saving).
"""

import argparse
import json
import math
import os
import sys
import zipfile
from collections import Counter, OrderedDict

import numpy as np
import torch

from fixture_common import remove_stale, save_npz, write_index
import torch.nn as nn
import torch.nn.functional as F

GENERATOR = "tests/pytorch/gen_forward_cases.py"

DTYPES = {"float32": torch.float32, "float64": torch.float64}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}

# notes that hold for every case, stated once
GLOBAL_NOTES_2X = [
    "need_weights=True with average_attn_weights=True: 2.x averages the per-head weights with "
    "mean(dim=1), 1.13 with sum(dim=1) / num_heads; numerically equivalent (within 1e-6 for "
    "float32).",
    "2.x scales q by sqrt(1/head_dim) (q * math.sqrt(1.0 / E)) where 1.13 divides by sqrt(head_dim), "
    "and 2.x computes need_weights=False through F.scaled_dot_product_attention; both only change "
    "rounding (within float32 tolerance).",
    "2.x canonicalises bool masks to float (0 / -inf) and adds key_padding_mask to attn_mask; 1.13 "
    "logical_or's / masked_fill's. Same result for every case here except float key_padding_mask "
    "with float attn_mask, whose cases carry their own note_2x.",
    "Fully masked rows are only generated with need_weights=True: with need_weights=False, 2.x >= 2.5 "
    "(scaled_dot_product_attention's _safe_softmax) returns 0 attention for such rows instead of NaN.",
]

NOTE_FLOAT_KPM_FLOAT_AM = (
    "2.x adds a float key_padding_mask to a float attn_mask (attn_mask + key_padding_mask viewed as "
    "(N*num_heads, 1, S)); 1.13 masked_fill's attn_mask with the float key_padding_mask instead, which "
    "raises 'RuntimeError: Mask tensor can take 0 and 1 values only' for this mask. Expected "
    "outputs come from the 1.13 call with that single additive float attn_mask of shape "
    "(N*num_heads, L, S) and no key_padding_mask.")
NOTE_MISMATCHED_MASKS = (
    "outputs identical; 2.x additionally emits UserWarning 'Support for mismatched key_padding_mask "
    "and attn_mask is deprecated. Use same type for both instead.' (bool key_padding_mask with a "
    "float attn_mask); 1.13 does not warn.")


def hash_name(s):
    h = 0
    for ch in s:
        h = (h * 131 + ord(ch)) % 2147483647
    return h


# ---------------------------------------------------------------------------------------------
# Case table
# ---------------------------------------------------------------------------------------------

class Case:
    """One configuration. Sizes: E embed_dim, H num_heads, L target, S source length, N batch."""

    def __init__(self, name, E=8, H=2, L=3, S=4, N=2, *, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, dropout=0.0,
                 dtype="float32", batched=True, ident="none", kpm=None, am=None,
                 need_weights=True, average_attn_weights=True, blank=None, nan=False):
        self.name = name
        self.E, self.H, self.L, self.S, self.N = E, H, L, S, N
        self.bias, self.add_bias_kv, self.add_zero_attn = bias, add_bias_kv, add_zero_attn
        self.kdim, self.vdim = kdim, vdim
        self.batch_first, self.dropout, self.dtype = batch_first, dropout, dtype
        self.batched = batched
        self.ident = ident            # "none": q, k, v distinct; "kv": k is v; "qkv": q is k is v
        self.kpm = kpm                # None, "bool", "float"
        self.am = am                  # None or (dtype "bool"/"float", "2d"/"3d")
        self.need_weights, self.average_attn_weights = need_weights, average_attn_weights
        self.blank = blank            # fully masked rows: "kpm", "am2d", "am3d"
        self.nan = nan                # whether the outputs must contain NaN
        if ident == "qkv":
            assert L == S and kdim in (None, E) and vdim in (None, E)
        if ident in ("kv", "qkv"):
            assert (kdim or E) == (vdim or E)
        assert E <= 32 and L <= 7 and S <= 7 and N <= 3 and E % H == 0

    def module_kwargs(self):
        kw = OrderedDict()
        if self.dropout:
            kw["dropout"] = self.dropout
        if not self.bias:
            kw["bias"] = False
        if self.add_bias_kv:
            kw["add_bias_kv"] = True
        if self.add_zero_attn:
            kw["add_zero_attn"] = True
        if self.kdim is not None:
            kw["kdim"] = self.kdim
        if self.vdim is not None:
            kw["vdim"] = self.vdim
        if self.batch_first:
            kw["batch_first"] = True
        if self.dtype != "float32":
            kw["dtype"] = self.dtype
        return kw


def build_cases():
    C = Case
    cases = [
        # --- projections, heads, sizes ------------------------------------------------------
        C("basic-e8h2"),
        C("heads1-e4", E=4, H=1, L=2, S=5, N=3),
        C("heads4-e16", E=16, H=4, L=4, S=6),
        C("heads8-e32", E=32, H=8, L=5, S=7, N=2),
        C("heads8-e16-headdim2", E=16, H=8, L=3, S=3, N=1),
        C("batch1", E=8, H=2, L=3, S=4, N=1),
        C("query-len1", E=8, H=4, L=1, S=7),
        C("source-len1", E=8, H=2, L=6, S=1, N=3),
        C("no-bias", bias=False),
        C("kdim-vdim", E=8, H=2, kdim=6, vdim=10),
        C("kdim-only", E=12, H=3, kdim=5),
        C("vdim-only", E=12, H=2, vdim=7, L=4, S=3),
        C("kdim-vdim-no-bias", E=16, H=4, kdim=10, vdim=6, bias=False),
        C("dropout-ignored-in-eval", E=8, H=2, dropout=0.5),
        # --- tensor identity --------------------------------------------------------------------
        C("self-attn-qkv-same", E=8, H=2, L=5, S=5, ident="qkv"),
        C("self-attn-qkv-same-no-bias-h4", E=16, H=4, L=4, S=4, ident="qkv", bias=False),
        C("kv-same", E=16, H=4, L=3, S=5, ident="kv"),
        C("kv-same-kdim-vdim", E=8, H=2, L=3, S=5, kdim=6, vdim=6, ident="kv"),
        # --- bias_k / bias_v, zero attention ----------------------------------------------------
        C("add-bias-kv", E=8, H=2, add_bias_kv=True),
        C("add-zero-attn", E=8, H=2, add_zero_attn=True),
        C("add-bias-kv-add-zero-attn", E=16, H=4, add_bias_kv=True, add_zero_attn=True),
        C("add-bias-kv-no-bias", E=8, H=1, add_bias_kv=True, bias=False),
        C("add-bias-kv-kdim-vdim-masks", E=12, H=3, kdim=4, vdim=9, add_bias_kv=True,
          kpm="bool", am=("bool", "2d")),
        C("add-zero-attn-masks-float", E=8, H=2, add_zero_attn=True, am=("float", "3d")),
        # --- masks ----------------------------------------------------------------------------
        C("attn-mask-bool-2d", am=("bool", "2d")),
        C("attn-mask-bool-3d", E=16, H=4, am=("bool", "3d")),
        C("attn-mask-float-2d", L=5, S=6, am=("float", "2d")),
        C("attn-mask-float-3d", E=8, H=2, N=3, am=("float", "3d")),
        C("kpm-bool", N=3, S=6, kpm="bool"),
        C("kpm-bool-attn-mask-bool-2d", kpm="bool", am=("bool", "2d")),
        C("kpm-bool-attn-mask-bool-3d", E=16, H=8, kpm="bool", am=("bool", "3d")),
        C("kpm-bool-attn-mask-float-2d", kpm="bool", am=("float", "2d")),
        C("kpm-bool-attn-mask-float-3d-nw", E=16, H=4, kpm="bool", am=("float", "3d"),
          need_weights=False),
        C("kpm-float", E=8, H=2, S=5, kpm="float"),
        C("kpm-float-nw", E=8, H=4, S=5, kpm="float", need_weights=False),
        C("kpm-float-attn-mask-float-2d", E=8, H=2, kpm="float", am=("float", "2d")),
        C("kpm-float-attn-mask-float-3d-nw", E=16, H=4, L=4, S=5, kpm="float", am=("float", "3d"),
          need_weights=False),
        C("kpm-float-attn-mask-float-3d-avg-off-bias-kv", E=8, H=2, kpm="float", am=("float", "3d"),
          add_bias_kv=True, average_attn_weights=False),
        # --- batch_first ------------------------------------------------------------------------
        C("batch-first", batch_first=True, L=4, S=6, N=3),
        C("batch-first-qkv-same", E=16, H=4, L=5, S=5, batch_first=True, ident="qkv"),
        C("batch-first-kv-same-masks", E=8, H=2, batch_first=True, ident="kv", kpm="bool",
          am=("bool", "3d")),
        C("batch-first-kdim-vdim-float-masks", E=16, H=2, kdim=8, vdim=12, batch_first=True,
          kpm="float", am=("float", "2d")),
        # --- unbatched ------------------------------------------------------------------------
        C("unbatched", batched=False, L=3, S=5),
        C("unbatched-batch-first-module", batched=False, batch_first=True, L=4, S=2),
        C("unbatched-qkv-same-attn-mask-2d", E=8, H=2, L=4, S=4, batched=False, ident="qkv",
          am=("bool", "2d")),
        C("unbatched-kpm-bool-attn-mask-3d", E=16, H=4, batched=False, kpm="bool", am=("float", "3d")),
        C("unbatched-kpm-float-attn-mask-float-2d", E=8, H=2, batched=False, kpm="float",
          am=("float", "2d")),
        C("unbatched-avg-off", E=16, H=4, batched=False, average_attn_weights=False,
          am=("bool", "3d")),
        # --- need_weights / average_attn_weights ------------------------------------------------
        C("need-weights-off", need_weights=False),
        C("need-weights-off-masks", E=16, H=4, kpm="bool", am=("bool", "2d"), need_weights=False),
        C("need-weights-off-avg-off", need_weights=False, average_attn_weights=False),
        C("avg-off", E=16, H=4, average_attn_weights=False),
        C("avg-off-add-zero-attn-kpm", E=8, H=2, add_zero_attn=True, kpm="bool",
          average_attn_weights=False),
        # --- float64 --------------------------------------------------------------------------
        C("f64-basic", dtype="float64"),
        C("f64-qkv-same-masks", E=16, H=4, L=5, S=5, ident="qkv", kpm="bool", am=("bool", "2d"),
          dtype="float64"),
        C("f64-kdim-vdim-bias-kv-zero-attn-batch-first", E=12, H=3, kdim=7, vdim=5,
          add_bias_kv=True, add_zero_attn=True, batch_first=True, dtype="float64"),
        C("f64-attn-mask-float-3d-avg-off", E=8, H=2, am=("float", "3d"), average_attn_weights=False,
          dtype="float64"),
        C("f64-kpm-float-attn-mask-float-3d", E=8, H=4, kpm="float", am=("float", "3d"),
          dtype="float64"),
        C("f64-unbatched-nw", E=8, H=2, batched=False, kpm="bool", need_weights=False,
          dtype="float64"),
        # --- fully masked rows (NaN) ----------------------------------------------------------
        C("nan-kpm-bool-row-all-true", N=3, kpm="bool", blank="kpm", nan=True),
        C("nan-attn-mask-bool-2d-row-all-true", am=("bool", "2d"), blank="am2d", nan=True),
        C("nan-attn-mask-float-2d-row-all-neg-inf", E=16, H=4, am=("float", "2d"), blank="am2d",
          nan=True),
        C("nan-attn-mask-bool-3d-one-head-row", E=8, H=2, am=("bool", "3d"), blank="am3d", nan=True),
        C("nan-kpm-float-row-all-neg-inf", kpm="float", blank="kpm", nan=True,
          average_attn_weights=False),
        C("nan-f64-kpm-bool-batch-first", E=8, H=2, batch_first=True, kpm="bool",
          am=("bool", "2d"), blank="kpm", nan=True, dtype="float64"),
        C("nan-unbatched-kpm-all-true", batched=False, kpm="bool", blank="kpm", nan=True),
        # --- fully masked rows rescued by the extra key position (no NaN) ----------------------
        C("masked-row-add-zero-attn-no-nan", add_zero_attn=True, kpm="bool", blank="kpm"),
        C("masked-row-add-bias-kv-no-nan", add_bias_kv=True, am=("bool", "2d"), blank="am2d"),
    ]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases


# ---------------------------------------------------------------------------------------------
# Building inputs
# ---------------------------------------------------------------------------------------------

def shape3(c, length, dim):
    if not c.batched:
        return (length, dim)
    return (c.N, length, dim) if c.batch_first else (length, c.N, dim)


def random_bool(shape, safe_col, p=0.3):
    m = torch.rand(shape) < p
    m[..., safe_col] = False  # never blank a row by accident
    return m


def random_float_mask(shape, safe_col, dtype, p=0.25):
    m = torch.randn(shape, dtype=dtype) * 0.5
    inf = torch.rand(shape) < p
    inf[..., safe_col] = False
    return m.masked_fill(inf, float("-inf"))


def make_module(c):
    dt = DTYPES[c.dtype]
    kw = dict(c.module_kwargs())
    if "dtype" in kw:
        kw["dtype"] = dt
    m = nn.MultiheadAttention(c.E, c.H, **kw)
    with torch.no_grad():
        if m.in_proj_bias is not None:
            m.in_proj_bias.copy_(torch.randn_like(m.in_proj_bias) * 0.5)
        if m.out_proj.bias is not None:
            m.out_proj.bias.copy_(torch.randn_like(m.out_proj.bias) * 0.5)
    m.eval()
    return m


def make_inputs(c):
    dt = DTYPES[c.dtype]
    kdim, vdim = c.kdim or c.E, c.vdim or c.E
    q = torch.randn(shape3(c, c.L, c.E), dtype=dt)
    if c.ident == "qkv":
        k = v = q
    elif c.ident == "kv":
        k = v = torch.randn(shape3(c, c.S, kdim), dtype=dt)
    else:
        k = torch.randn(shape3(c, c.S, kdim), dtype=dt)
        v = torch.randn(shape3(c, c.S, vdim), dtype=dt)

    safe = int(torch.randint(0, c.S, (1,)))
    kpm = am = None
    kpm_shape = (c.N, c.S) if c.batched else (c.S,)
    if c.kpm == "bool":
        kpm = random_bool(kpm_shape, safe)
    elif c.kpm == "float":
        kpm = random_float_mask(kpm_shape, safe, dt)
    if c.am is not None:
        kind, form = c.am
        nb = c.N if c.batched else 1
        am_shape = (c.L, c.S) if form == "2d" else (nb * c.H, c.L, c.S)
        am = random_bool(am_shape, safe) if kind == "bool" else random_float_mask(am_shape, safe, dt)

    # controlled fully masked rows
    if c.blank == "kpm":
        fill = True if kpm.dtype == torch.bool else float("-inf")
        if c.batched:
            kpm[-1, :] = fill           # every query row of the last batch element
        else:
            kpm[:] = fill
    elif c.blank == "am2d":
        am[min(1, c.L - 1), :] = True if am.dtype == torch.bool else float("-inf")
    elif c.blank == "am3d":
        am[min(1, am.shape[0] - 1), 0, :] = True if am.dtype == torch.bool else float("-inf")
    elif c.blank is not None:
        raise ValueError(c.blank)
    return q, k, v, kpm, am


def additive_mask_2x(c, kpm, am):
    """2.x's merged mask for a float key_padding_mask and a float attn_mask: (N*H, L, S)."""
    n = c.N if c.batched else 1
    kpm2 = kpm if c.batched else kpm.unsqueeze(0)
    am3 = am.unsqueeze(0) if am.dim() == 2 else am
    kpm3 = kpm2.view(n, 1, 1, c.S).expand(-1, c.H, -1, -1).reshape(n * c.H, 1, c.S)
    return am3 + kpm3


# ---------------------------------------------------------------------------------------------
# Independent check: 2.x's F.multi_head_attention_forward, masks canonicalised and added
# ---------------------------------------------------------------------------------------------

def reference_2x(m, q, k, v, kpm, am, need_weights, average):
    E, H = m.embed_dim, m.num_heads
    hd = E // H
    batched = q.dim() == 3
    if batched and m.batch_first:
        q, k, v = (t.transpose(0, 1) for t in (q, k, v))
    if not batched:
        q, k, v = q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)
        if kpm is not None:
            kpm = kpm.unsqueeze(0)
    L, N, _ = q.shape
    dt = q.dtype

    def canon(mask):
        if mask is None or mask.dtype != torch.bool:
            return mask
        return torch.zeros(mask.shape, dtype=dt).masked_fill(mask, float("-inf"))

    kpm, am = canon(kpm), canon(am)
    if am is not None and am.dim() == 2:
        am = am.unsqueeze(0)
    if m._qkv_same_embed_dim:
        wq, wk, wv = m.in_proj_weight.chunk(3)
    else:
        wq, wk, wv = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
    bq = bk = bv = None
    if m.in_proj_bias is not None:
        bq, bk, bv = m.in_proj_bias.chunk(3)
    qp, kp, vp = F.linear(q, wq, bq), F.linear(k, wk, bk), F.linear(v, wv, bv)
    if m.bias_k is not None:
        kp = torch.cat([kp, m.bias_k.repeat(1, N, 1)])
        vp = torch.cat([vp, m.bias_v.repeat(1, N, 1)])
        am = F.pad(am, (0, 1)) if am is not None else None
        kpm = F.pad(kpm, (0, 1)) if kpm is not None else None
    qh = qp.reshape(L, N * H, hd).transpose(0, 1)
    kh = kp.reshape(kp.shape[0], N * H, hd).transpose(0, 1)
    vh = vp.reshape(vp.shape[0], N * H, hd).transpose(0, 1)
    if m.add_zero_attn:
        kh = torch.cat([kh, torch.zeros(N * H, 1, hd, dtype=dt)], dim=1)
        vh = torch.cat([vh, torch.zeros(N * H, 1, hd, dtype=dt)], dim=1)
        am = F.pad(am, (0, 1)) if am is not None else None
        kpm = F.pad(kpm, (0, 1)) if kpm is not None else None
    S = kh.shape[1]
    mask = am
    if kpm is not None:
        kpm3 = kpm.view(N, 1, 1, S).expand(-1, H, -1, -1).reshape(N * H, 1, S)
        mask = kpm3 if mask is None else mask + kpm3
    scores = torch.bmm(qh * math.sqrt(1.0 / hd), kh.transpose(1, 2))
    if mask is not None:
        scores = scores + mask
    w = torch.softmax(scores, dim=-1)
    o = torch.bmm(w, vh).transpose(0, 1).reshape(L, N, E)
    out = F.linear(o, m.out_proj.weight, m.out_proj.bias)
    w = w.view(N, H, L, S)
    if average:
        w = w.mean(dim=1)
    if not batched:
        out, w = out.squeeze(1), w.squeeze(0)
    elif m.batch_first:
        out = out.transpose(0, 1)
    return out, (w if need_weights else None)


# ---------------------------------------------------------------------------------------------
# Running and writing
# ---------------------------------------------------------------------------------------------

def run_case(c):
    torch.manual_seed(hash_name(c.name))
    m = make_module(c)
    q, k, v, kpm, am = make_inputs(c)
    note = None
    call_kpm, call_am = kpm, am
    if kpm is not None and am is not None and kpm.dtype != torch.bool:
        assert am.dtype != torch.bool, "float key_padding_mask with bool attn_mask: not generated"
        try:  # what 1.13 does with the two masks as given
            m(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=c.need_weights)
            raise AssertionError("{}: 1.13 accepted float key_padding_mask + float attn_mask".format(c.name))
        except RuntimeError as e:
            assert str(e) == "Mask tensor can take 0 and 1 values only", str(e)
        call_kpm, call_am = None, additive_mask_2x(c, kpm, am)
        note = NOTE_FLOAT_KPM_FLOAT_AM
    elif kpm is not None and am is not None and kpm.dtype != am.dtype:
        note = NOTE_MISMATCHED_MASKS
    assert torch.is_grad_enabled()
    out, weights = m(q, k, v, key_padding_mask=call_kpm, attn_mask=call_am,
                     need_weights=c.need_weights, average_attn_weights=c.average_attn_weights)
    assert (weights is None) == (not c.need_weights)

    ref_out, ref_w = reference_2x(m, q, k, v, kpm, am, c.need_weights, c.average_attn_weights)
    tol = dict(rtol=1e-5, atol=1e-6) if c.dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(out.detach(), ref_out.detach(), equal_nan=True, **tol)
    if c.need_weights:
        torch.testing.assert_close(weights.detach(), ref_w.detach(), equal_nan=True, **tol)

    arrays = OrderedDict()
    arrays["query"] = q.numpy()
    arrays["key"] = k.numpy()
    arrays["value"] = v.numpy()
    if kpm is not None:
        arrays["key_padding_mask"] = kpm.numpy()
    if am is not None:
        arrays["attn_mask"] = am.numpy()
    sd = m.state_dict()
    for name, t in sd.items():
        arrays[name] = t.detach().numpy()
    arrays["expected.attn_output"] = out.detach().numpy()
    if c.need_weights:
        arrays["expected.attn_output_weights"] = weights.detach().numpy()

    nan_rows = bool(torch.isnan(out).any()) or (weights is not None and bool(torch.isnan(weights).any()))
    assert nan_rows == c.nan, "{}: nan_rows={} but the case expects {}".format(c.name, nan_rows, c.nan)
    return m, arrays, list(sd.keys()), nan_rows, note


def make_spec(c, npz):
    mod = OrderedDict([("type", "MultiheadAttention"), ("embed_dim", c.E), ("num_heads", c.H)])
    mod.update(c.module_kwargs())
    mod["weights"] = npz
    spec = OrderedDict([("module", mod)])

    def ref(key):
        return OrderedDict([("file", npz), ("key", key)])

    if c.ident == "qkv":
        spec["tensors"] = OrderedDict([("x", ref("query"))])
        spec["query"] = spec["key"] = spec["value"] = "x"
    elif c.ident == "kv":
        spec["tensors"] = OrderedDict([("kv", ref("key"))])
        spec["query"] = ref("query")
        spec["key"] = spec["value"] = "kv"
    else:
        spec["query"], spec["key"], spec["value"] = ref("query"), ref("key"), ref("value")
    if c.kpm is not None:
        spec["key_padding_mask"] = ref("key_padding_mask")
    if c.am is not None:
        spec["attn_mask"] = ref("attn_mask")
    if not c.need_weights:
        spec["need_weights"] = False
    if not c.average_attn_weights:
        spec["average_attn_weights"] = False
    return spec


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "forward"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    cases = build_cases()
    index_cases = []
    written = set()
    coverage = Counter()
    for c in cases:
        npz = c.name + ".npz"
        m, arrays, sd_keys, nan_rows, note = run_case(c)
        save_npz(os.path.join(args.out, npz), arrays)
        spec = make_spec(c, npz)
        with open(os.path.join(args.out, c.name + ".json"), "w") as fh:
            fh.write(json.dumps(spec, indent=2) + "\n")
        written.update((npz, c.name + ".json"))
        entry = OrderedDict([("name", c.name), ("dtype", c.dtype), ("nan_rows", nan_rows)])
        if note:
            entry["note_2x"] = note
        index_cases.append(entry)

        coverage["packed in_proj" if m._qkv_same_embed_dim else "separate q/k/v_proj"] += 1
        coverage["bias" if c.bias else "no bias"] += 1
        for flag in ("add_bias_kv", "add_zero_attn", "batch_first"):
            if getattr(c, flag):
                coverage[flag] += 1
        if c.add_bias_kv and c.add_zero_attn:
            coverage["add_bias_kv + add_zero_attn"] += 1
        if c.am:
            coverage["attn_mask {} {}".format(*c.am)] += 1
        if c.kpm:
            coverage["key_padding_mask {}".format(c.kpm)] += 1
        if c.kpm and c.am:
            coverage["kpm {} + attn_mask {}".format(c.kpm, c.am[0])] += 1
        coverage["batched" if c.batched else "unbatched"] += 1
        coverage["need_weights" if c.need_weights else "need_weights=False"] += 1
        if c.need_weights and not c.average_attn_weights:
            coverage["average_attn_weights=False (per-head weights)"] += 1
        coverage[c.dtype] += 1
        coverage["identity q is k is v" if c.ident == "qkv" else
                  "identity k is v" if c.ident == "kv" else "distinct q, k, v"] += 1
        coverage["num_heads={}".format(c.H)] += 1
        if c.L != c.S:
            coverage["L != S"] += 1
        if nan_rows:
            coverage["NaN outputs (fully masked rows)"] += 1
        if c.blank and not nan_rows:
            coverage["fully masked row rescued by the extra key position"] += 1
        if note:
            coverage["note_2x"] += 1

    write_index(args.out, OrderedDict([("generator", GENERATOR), ("torch_version", torch.__version__),
                                       ("note_2x", GLOBAL_NOTES_2X)]), index_cases)
    written.add("index.json")
    remove_stale(args.out, written)

    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in written)
    print("wrote {} cases ({} files, {} bytes) to {}".format(len(cases), len(written), total, args.out))
    for k, v in sorted(coverage.items()):
        print("  {:55s} {}".format(k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
