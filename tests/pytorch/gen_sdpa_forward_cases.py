#!/usr/bin/python3
"""Generate golden fixtures for mhacheck's forward pass of F.scaled_dot_product_attention.

Writes, under tests/pytorch/forward_sdpa/, for every case NAME:
  NAME.npz   inputs ("query", "key", "value", and "attn_mask" when used; bool masks as numpy bool,
             float masks in their dtype) and the expected output ("expected.output")
  NAME.json  the flat mhacheck spec of the call, with the tensors given by file and key
and index.json listing the cases.

mhacheck follows PyTorch 2.x, whose F.scaled_dot_product_attention does not exist in the installed
PyTorch 1.13 (Debian's python3-torch).  `sdpa_math_2x` replays 2.x's CPU math path
(aten/src/ATen/native/transformers/attention.cpp, _scaled_dot_product_attention_math) on 1.13
tensors, in the input dtype (float32 / float64):

  s = scale if given else 1 / sqrt(E)
  q = q * sqrt(s); k = k * sqrt(s)     (negative scale, 2.x: q * -sqrt(|s|), k * sqrt(|s|))
  enable_gqa: k, v = k, v .repeat_interleave(Hq // H, dim=-3)
  bool mask  -> zeros(dtype of q).masked_fill(~mask, -inf)   (True = takes part)
  is_causal  -> ones(L, S, bool).tril() as that bool mask (top-left aligned)
  attn = q @ k.transpose(-2, -1); attn += mask (broadcast, in place)
  softmax over the last dim, a row that is all -inf giving 0 instead of NaN (2.5+'s _safe_softmax)
  out = attn @ v

Every expectation is checked against
  * an independent float64 numpy implementation (`reference_numpy`), agreement within 1e-6, and
  * where it applies (no custom scale, Ev == E), 1.13's own F.multi_head_attention_forward with
    identity projections and one head: the inputs are broadcast (GQA heads repeated), their batch
    dims flattened to MHA's batch, the mask turned into 1.13's (N*num_heads, L, S) attn_mask
    (bool inverted: True = masked there); fully masked rows, NaN in 1.13, must be 0 here.
The script fails if any of them disagree.

Usage:  /usr/bin/python3 tests/pytorch/gen_sdpa_forward_cases.py [--out DIR]

Deterministic: each case seeds torch with a hash of its name, and the .npz files are written with
a fixed zip timestamp, so the output only changes when this script or the installed PyTorch
changes.  Only stdlib, torch and numpy are used.
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
import torch.nn.functional as F

GENERATOR = "tests/pytorch/gen_sdpa_forward_cases.py"

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def hash_name(s):
    h = 0
    for ch in s:
        h = (h * 131 + ord(ch)) % 2147483647
    return h


# ---------------------------------------------------------------------------------------------
# Case table
# ---------------------------------------------------------------------------------------------

class Case:
    """q, k, v shapes; mask = None or (kind "bool"/"float", shape); blank: fully masked rows."""

    def __init__(self, name, q, k, v, *, mask=None, mask_dtype=None, is_causal=False, scale=None,
                 enable_gqa=False, dtype="float32", blank=None):
        self.name = name
        self.q, self.k, self.v = tuple(q), tuple(k), tuple(v)
        self.mask = mask
        self.mask_dtype = mask_dtype      # float masks: dtype, default the inputs' dtype
        self.is_causal, self.scale, self.enable_gqa = is_causal, scale, enable_gqa
        self.dtype = dtype
        self.blank = blank                # None, or index (tuple) of the mask row made all False
        assert not (is_causal and mask is not None)
        for s in (self.q[:-1], self.k[:-1], self.v[:-1]) + ((tuple(mask[1]),) if mask else ()):
            assert all(d <= 6 for d in s), (name, s)   # batch dims, L, S <= 6; E, Ev <= 8
        assert self.q[-1] <= 8 and self.v[-1] <= 8 and self.q[-1] == self.k[-1]
        assert self.k[-2] == self.v[-2]
        assert blank is None or (mask is not None and mask[0] == "bool")


def build_cases():
    C = Case
    cases = [
        # --- ranks -----------------------------------------------------------------------------
        C("2d-basic", (3, 4), (5, 4), (5, 4)),
        C("2d-ev-ne-e-mask-bool", (4, 6), (3, 6), (3, 2), mask=("bool", (4, 3))),
        C("3d-basic", (2, 3, 4), (2, 5, 4), (2, 5, 6)),
        C("3d-mask-float-nls", (3, 4, 5), (3, 2, 5), (3, 2, 5), mask=("float", (3, 4, 2))),
        C("4d-basic-e8", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)),
        C("5d-basic", (1, 2, 2, 3, 4), (1, 2, 2, 5, 4), (1, 2, 2, 5, 3)),
        C("5d-bcast-mask-bool", (2, 1, 3, 4, 4), (1, 2, 3, 6, 4), (2, 2, 3, 6, 5),
          mask=("bool", (2, 1, 1, 4, 6))),
        # --- batch / head broadcasting ---------------------------------------------------------
        C("bcast-kv-batch1", (2, 4, 3, 4), (1, 4, 5, 4), (1, 4, 5, 6)),
        C("bcast-kv-3d", (2, 4, 3, 4), (4, 5, 4), (4, 5, 4)),
        C("bcast-kv-2d-q-4d", (2, 3, 4, 5), (6, 5), (6, 3)),
        # --- GQA ------------------------------------------------------------------------------
        C("gqa-hq4-h2", (2, 4, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4), enable_gqa=True),
        C("gqa-hq4-h1-ev6", (2, 4, 3, 4), (2, 1, 5, 4), (2, 1, 5, 6), enable_gqa=True),
        C("gqa-hq4-h2-mask-bool-nhls", (2, 4, 3, 5), (2, 2, 4, 5), (2, 2, 4, 3), enable_gqa=True,
          mask=("bool", (2, 4, 3, 4))),
        C("gqa-hq4-h2-causal-3d", (4, 5, 4), (2, 5, 4), (2, 5, 4), enable_gqa=True, is_causal=True),
        # --- bool masks ------------------------------------------------------------------------
        C("mask-bool-ls", (2, 2, 4, 4), (2, 2, 5, 4), (2, 2, 5, 4), mask=("bool", (4, 5))),
        C("mask-bool-11ls", (2, 3, 3, 4), (2, 3, 6, 4), (2, 3, 6, 5), mask=("bool", (1, 1, 3, 6))),
        C("mask-bool-n1ls", (3, 2, 4, 4), (3, 2, 5, 4), (3, 2, 5, 4), mask=("bool", (3, 1, 4, 5))),
        C("mask-bool-nhls", (2, 3, 5, 6), (2, 3, 4, 6), (2, 3, 4, 2), mask=("bool", (2, 3, 5, 4))),
        # --- float masks -----------------------------------------------------------------------
        C("mask-float-ls", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4), mask=("float", (3, 5))),
        C("mask-float-n1ls", (2, 3, 4, 4), (2, 3, 4, 4), (2, 3, 4, 6), mask=("float", (2, 1, 4, 4))),
        C("f64-mask-float32-nhls", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4),
          mask=("float", (2, 2, 3, 5)), mask_dtype="float32", dtype="float64"),
        # --- is_causal -------------------------------------------------------------------------
        C("causal-l-eq-s", (2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4), is_causal=True),
        C("causal-l-lt-s", (2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 3), is_causal=True),
        C("causal-l-gt-s", (2, 6, 4), (2, 3, 4), (2, 3, 4), is_causal=True),
        # --- scale -----------------------------------------------------------------------------
        C("scale-0.7", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4), scale=0.7),
        C("scale-negative-mask-bool", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 5), scale=-0.5,
          mask=("bool", (3, 5))),
        C("f64-scale-2-causal", (2, 2, 4, 8), (2, 2, 4, 8), (2, 2, 4, 8), scale=2.0, is_causal=True,
          dtype="float64"),
        # --- float64 ---------------------------------------------------------------------------
        C("f64-basic-4d", (2, 3, 4, 6), (2, 3, 5, 6), (2, 3, 5, 4), dtype="float64"),
        # --- fully masked rows -> 0 ------------------------------------------------------------
        C("fully-masked-bool-ls", (2, 2, 4, 4), (2, 2, 5, 4), (2, 2, 5, 4), mask=("bool", (4, 5)),
          blank=(1,)),
        C("fully-masked-f64-bool-nhls", (2, 3, 3, 4), (2, 3, 4, 4), (2, 3, 4, 5),
          mask=("bool", (2, 3, 3, 4)), blank=(1, 2, 0), dtype="float64"),
    ]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------

def make_inputs(c):
    dt = DTYPES[c.dtype]
    q = torch.randn(c.q, dtype=dt)
    k = torch.randn(c.k, dtype=dt)
    v = torch.randn(c.v, dtype=dt)
    mask = None
    if c.mask is not None:
        kind, shape = c.mask
        S = shape[-1]
        safe = int(torch.randint(0, S, (1,)))
        drop = torch.rand(shape) < 0.3
        drop[..., safe] = False            # never blank a row by accident
        if kind == "bool":
            mask = ~drop                   # True = takes part
            if c.blank is not None:
                mask[c.blank] = False
        else:
            mdt = DTYPES[c.mask_dtype or c.dtype]
            mask = (torch.randn(shape, dtype=mdt) * 0.5).masked_fill(drop, float("-inf"))
    return q, k, v, mask


# ---------------------------------------------------------------------------------------------
# 2.x math path, on 1.13 tensors
# ---------------------------------------------------------------------------------------------

def safe_softmax(attn):
    """2.5+'s at::_safe_softmax: softmax, rows whose entries are all -inf give 0."""
    out = torch.softmax(attn, -1)
    all_masked = (attn == float("-inf")).all(dim=-1, keepdim=True)
    return out.masked_fill(all_masked, 0.0)


def sdpa_math_2x(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    s = scale if scale is not None else 1.0 / math.sqrt(q.size(-1))
    factor = math.sqrt(abs(s))
    qs = q * (-factor if s < 0 else factor)
    ks = k * factor
    L, S = q.size(-2), k.size(-2)
    if is_causal:
        assert attn_mask is None
        attn_mask = torch.ones(L, S, dtype=torch.bool).tril()
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        attn_mask = torch.zeros(attn_mask.shape, dtype=q.dtype).masked_fill(
            attn_mask.logical_not(), float("-inf"))
    if enable_gqa:
        hq, hk, hv = q.size(-3), k.size(-3), v.size(-3)
        assert hq % hk == 0 and hq % hv == 0
        ks = ks.repeat_interleave(hq // hk, dim=-3)
        v = v.repeat_interleave(hq // hv, dim=-3)
    attn = torch.matmul(qs, ks.transpose(-2, -1))
    if attn_mask is not None:
        attn.add_(attn_mask)
    attn = safe_softmax(attn)
    return torch.matmul(attn, v)


# ---------------------------------------------------------------------------------------------
# Independent checks
# ---------------------------------------------------------------------------------------------

def reference_numpy(q, k, v, mask, is_causal, scale, enable_gqa):
    """float64 numpy: scores = scale * q k^T, masked softmax with explicit all-masked handling."""
    q, k, v = (t.numpy().astype(np.float64) for t in (q, k, v))
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    s = scale if scale is not None else 1.0 / np.sqrt(E)
    if enable_gqa:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    scores = s * np.matmul(q, np.swapaxes(k, -1, -2))
    allowed = np.ones((L, S), dtype=bool)
    add = np.zeros((L, S))
    if is_causal:
        allowed = np.array([[j <= i for j in range(S)] for i in range(L)])
    if mask is not None:
        m = mask.numpy()
        if m.dtype == np.bool_:
            allowed = m
        else:
            m = m.astype(np.float64)
            allowed = np.isfinite(m)
            add = np.where(allowed, m, 0.0)
    scores = scores + add
    allowed = np.broadcast_to(allowed, scores.shape)
    mx = np.max(np.where(allowed, scores, -np.inf), axis=-1, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, 0.0)
    e = np.where(allowed, np.exp(scores - mx), 0.0)
    den = e.sum(axis=-1, keepdims=True)
    w = np.where(den > 0, e / np.where(den > 0, den, 1.0), 0.0)
    return np.matmul(w, v)


def reference_mha_113(q, k, v, mask, is_causal, enable_gqa):
    """1.13's F.multi_head_attention_forward, identity projections, one head (default scale only)."""
    E, L, S = q.size(-1), q.size(-2), k.size(-2)
    if enable_gqa:
        k = k.repeat_interleave(q.size(-3) // k.size(-3), dim=-3)
        v = v.repeat_interleave(q.size(-3) // v.size(-3), dim=-3)
    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    if mask is not None:
        batch = torch.broadcast_shapes(batch, mask.shape[:-2])
    B = int(np.prod(batch)) if len(batch) else 1
    qb = q.expand(batch + q.shape[-2:]).reshape(B, L, E).transpose(0, 1)
    kb = k.expand(batch + k.shape[-2:]).reshape(B, S, E).transpose(0, 1)
    vb = v.expand(batch + v.shape[-2:]).reshape(B, S, E).transpose(0, 1)
    am = None
    if is_causal:
        am = ~torch.ones(L, S, dtype=torch.bool).tril()
    elif mask is not None:
        m = mask.expand(batch + (L, S)).reshape(B, L, S)
        am = ~m if m.dtype == torch.bool else m.to(q.dtype)
    eye = torch.eye(E, dtype=q.dtype)
    out, _ = F.multi_head_attention_forward(
        qb, kb, vb, E, 1, in_proj_weight=None, in_proj_bias=None, bias_k=None, bias_v=None,
        add_zero_attn=False, dropout_p=0.0, out_proj_weight=eye, out_proj_bias=None,
        training=False, need_weights=False, attn_mask=am, use_separate_proj_weight=True,
        q_proj_weight=eye, k_proj_weight=eye, v_proj_weight=eye)
    out = out.transpose(0, 1).reshape(batch + (L, E)) if len(batch) else out.reshape(L, E)
    return out


# ---------------------------------------------------------------------------------------------
# Running and writing
# ---------------------------------------------------------------------------------------------

def run_case(c, checks):
    torch.manual_seed(hash_name(c.name))
    q, k, v, mask = make_inputs(c)
    with torch.no_grad():
        out = sdpa_math_2x(q, k, v, mask, c.is_causal, c.scale, c.enable_gqa)
    assert out.dtype == q.dtype
    assert not torch.isnan(out).any() and not torch.isinf(out).any(), c.name

    ref = reference_numpy(q, k, v, mask, c.is_causal, c.scale, c.enable_gqa)
    assert ref.shape == tuple(out.shape), (c.name, ref.shape, out.shape)
    np.testing.assert_allclose(out.numpy().astype(np.float64), ref, rtol=1e-6, atol=1e-6,
                               err_msg=c.name)
    checks["numpy float64 reference"] += 1

    if c.scale is None and c.v[-1] == c.q[-1]:
        with torch.no_grad():
            mha = reference_mha_113(q, k, v, mask, c.is_causal, c.enable_gqa)
        nan_rows = torch.isnan(mha)
        if c.blank is not None:
            assert nan_rows.any(), c.name
            assert (out[nan_rows] == 0).all(), c.name
            mha = mha.masked_fill(nan_rows, 0.0)
        tol = dict(rtol=1e-5, atol=1e-6) if c.dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
        torch.testing.assert_close(out, mha, **tol)
        checks["1.13 F.multi_head_attention_forward"] += 1

    fully_masked = False
    if c.blank is not None:
        assert not mask[c.blank].any()
        # the rows whose mask row is all False are exactly 0
        allowed = mask.expand(out.shape[:-1] + (mask.shape[-1],))
        blank_rows = ~allowed.any(dim=-1)
        assert blank_rows.any() and (out[blank_rows] == 0).all(), c.name
        assert (out[~blank_rows].abs().sum(dim=-1) > 0).all(), c.name
        fully_masked = True

    arrays = OrderedDict()
    arrays["query"] = q.numpy()
    arrays["key"] = k.numpy()
    arrays["value"] = v.numpy()
    if mask is not None:
        arrays["attn_mask"] = mask.numpy()
    arrays["expected.output"] = out.numpy()
    return arrays, fully_masked


def make_spec(c, npz):
    def ref(key):
        return OrderedDict([("file", npz), ("key", key)])

    spec = OrderedDict([("op", "scaled_dot_product_attention")])
    spec["query"], spec["key"], spec["value"] = ref("query"), ref("key"), ref("value")
    if c.mask is not None:
        spec["attn_mask"] = ref("attn_mask")
    if c.is_causal:
        spec["is_causal"] = True
    if c.scale is not None:
        spec["scale"] = c.scale
    if c.enable_gqa:
        spec["enable_gqa"] = True
    return spec


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "forward_sdpa"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    cases = build_cases()
    index_cases = []
    written = set()
    coverage = Counter()
    checks = Counter()
    for c in cases:
        npz = c.name + ".npz"
        arrays, fully_masked = run_case(c, checks)
        save_npz(os.path.join(args.out, npz), arrays)
        with open(os.path.join(args.out, c.name + ".json"), "w") as fh:
            fh.write(json.dumps(make_spec(c, npz), indent=2) + "\n")
        written.update((npz, c.name + ".json"))
        index_cases.append(OrderedDict([("name", c.name), ("dtype", c.dtype),
                                        ("fully_masked", fully_masked)]))

        coverage["{}-D query".format(len(c.q))] += 1
        if not (c.q[:-2] == c.k[:-2] == c.v[:-2]):
            coverage["batch/head broadcasting or GQA"] += 1
        if c.v[-1] != c.q[-1]:
            coverage["Ev != E"] += 1
        if c.q[-2] != c.k[-2]:
            coverage["L != S"] += 1
        if c.enable_gqa:
            coverage["enable_gqa"] += 1
        if c.mask:
            coverage["attn_mask {} {}-D".format(c.mask[0], len(c.mask[1]))] += 1
            if c.mask_dtype and c.mask_dtype != c.dtype:
                coverage["float mask dtype != input dtype"] += 1
        if c.is_causal:
            coverage["is_causal"] += 1
        if c.scale is not None:
            coverage["custom scale" + (" (negative)" if c.scale < 0 else "")] += 1
        coverage[c.dtype] += 1
        if fully_masked:
            coverage["fully masked rows (-> 0)"] += 1

    write_index(args.out, OrderedDict([("generator", GENERATOR), ("torch_version", torch.__version__)]), index_cases)
    written.add("index.json")
    remove_stale(args.out, written)

    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in written)
    print("wrote {} cases ({} files, {} bytes) to {}".format(len(cases), len(written), total, args.out))
    for k, v in sorted(coverage.items()):
        print("  {:45s} {}".format(k, v))
    for k, v in sorted(checks.items()):
        print("  checked against {:37s} {}".format(k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
