#!/usr/bin/python3
"""Generate PyTorch golden fixtures for mhacheck's forward pass of nn.Transformer and its parts.

Writes, under tests/pytorch/forward_transformer/, for every case NAME:
  NAME.npz   the call's tensors under the forward's argument names ("src", "tgt", "memory",
             "src_mask", "tgt_key_padding_mask", ..., "input"; bool masks as numpy bool, float
             masks in their dtype, Embedding indices as int64), the module's state_dict under
             PyTorch's names (exactly the keys PyTorch 2.x's module.state_dict() has for the
             configuration; with the module's "prefix" when the case has one, next to a sibling
             module's parameters as a parent module's state_dict would hold them) and PyTorch's
             output ("expected.output")
  NAME.json  the flat mhacheck spec of the call: "module" (with "weights": "NAME.npz" and maybe
             "prefix") and the forward's arguments, tensors given by file and key, a causal mask
             possibly as {"causal": [T, T]} (Transformer.generate_square_subsequent_mask(T),
             float32), flags such as "is_causal" as JSON booleans
and index.json listing the cases, with the dtype, the tolerance the C++ forward pass must meet,
the float32-vs-float64 difference PyTorch itself shows on the case, and the notes on 1.13 vs 2.x.

Modules: TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder,
Transformer, Linear, LayerNorm, Embedding.

Every case runs on the installed PyTorch (1.13 from Debian's python3-torch): the module is built
with the case's options, every parameter is overwritten with seeded random values (weights
N(0, 1/fan_in), biases N(0, 0.3^2), LayerNorm weights 1 + N(0, 0.3^2) and biases N(0, 0.3^2), so
that all of them matter and activations stay O(1)), put in eval mode (dropout off) and called with
grad enabled (so neither 1.13's nor 2.x's fast paths are taken).

mhacheck follows PyTorch 2.x; where 2.x's API or computation differs from 1.13's the 1.13 call
is adapted so that it computes what 2.x computes (is_causal arguments omitted, where the mask is
exactly causal; bias=False as zero biases left out of the state_dict; a float key_padding_mask
with a float mask merged into one additive mask), and the case carries a "note_2x" (the
GLOBAL_NOTES_2X and NOTE_* texts below).

Every expectation is checked against an independent re-implementation of 2.x's forward
(`Reference2x`: masks canonicalised to float and added, is_causal hints and causal-mask detection
as 2.x, bias=False as absent biases), run in float64 on the float64 values of the same parameters
and inputs; the script fails if they disagree by more than 1e-12 (float64 cases) or 1e-5 (float32
cases, the tolerance the C++ side must meet).  Each float32 case is also run by 1.13 in float64
(module.double(), inputs and float masks converted) and index.json records max |float32 result -
float64 result|: how close to exact PyTorch's own float32 result is on that case.

No query row is fully masked (every row keeps at least one key after combining the attention mask
and the key padding mask; the script asserts it): 2.x >= 2.5 returns 0 for such rows (SDPA's
_safe_softmax) where 1.13 returns NaN.

Usage:  /usr/bin/python3 tests/pytorch/gen_transformer_forward_cases.py [--out DIR]

Deterministic: each case seeds torch with a hash of its name, torch runs single-threaded and the
.npz files have fixed zip timestamps, so the output only changes when this script or the installed
PyTorch changes.  Only stdlib, torch and numpy are used.
"""

import argparse
import copy
import json
import math
import os
import sys
from collections import Counter, OrderedDict

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import remove_stale, save_npz, write_index  # noqa: E402

GENERATOR = "tests/pytorch/gen_transformer_forward_cases.py"

DTYPES = {"float32": torch.float32, "float64": torch.float64}
TOLERANCE = {"float32": 1e-5, "float64": 1e-10}   # what tests/forward_test.cpp requires

# ---------------------------------------------------------------------------------------------
# Notes on 1.13 vs 2.x
# ---------------------------------------------------------------------------------------------

GLOBAL_NOTES_2X = [
    "Expected outputs are those of the standard (slow) path, which 2.x takes in training mode or, "
    "as here, with grad enabled and parameters requiring grad. Under torch.no_grad() / "
    "inference_mode in eval mode 2.x may take fast paths instead: TransformerEncoderLayer "
    "(batch_first, batched input, even nhead, relu/gelu) -> torch._transformer_encoder_layer_fwd, "
    "and nn.MultiheadAttention's own fast path; they change rounding only. TransformerEncoder's "
    "nested-tensor path (see the cases noting it) also changes the values at padded positions.",
    "The layers' attention is nn.MultiheadAttention with need_weights=False; 2.x computes it with "
    "F.scaled_dot_product_attention and scales q and k by sqrt(1/sqrt(head_dim)) each, 1.13 "
    "divides q by sqrt(head_dim) and uses baddbmm: rounding only.",
    "2.x canonicalises bool masks to float (0 / -inf) and adds key_padding_mask to the attention "
    "mask; 1.13 logical_or's (bool mask) or masked_fill's (float mask) with a bool "
    "key_padding_mask: same values. A float key_padding_mask with a float mask is added by 2.x and "
    "refused by 1.13 (such cases say how the expectation was computed).",
    "1.13's layers and stacks have no is_causal / src_is_causal / tgt_is_causal / memory_is_causal "
    "arguments; the 1.13 calls omit them. Cases only set them true where the mask they qualify is "
    "exactly causal (-inf / True above the diagonal; top-left aligned for a (T, S) memory_mask), "
    "so that 2.x computes the same whether it uses the mask or SDPA's is_causal (it uses "
    "is_causal when the attention has no key_padding_mask, the mask otherwise).",
    "2.x's TransformerEncoder and TransformerDecoder (and so Transformer) detect a causal mask "
    "when is_causal / src_is_causal / tgt_is_causal is None (_detect_is_causal_mask: the mask "
    "equals generate_square_subsequent_mask(seq_len) in the mask's dtype) and pass is_causal=True "
    "to their layers: same values.",
    "bias=False (2.1+) does not exist in 1.13 (neither for the Transformer modules nor for "
    "LayerNorm): those cases ran 1.13 with every bias that 2.x's bias=False removes set to 0 "
    "(self_attn / multihead_attn in_proj_bias and out_proj.bias, linear1/linear2.bias, "
    "norm1/2/3.bias, encoder.norm / decoder.norm bias), and the .npz holds 2.x's state_dict "
    "without them. Adding a zero bias changes nothing.",
    "No query row is fully masked: for such rows 2.x >= 2.5 returns 0 (SDPA's _safe_softmax) "
    "where 1.13 and 2.0-2.4 return NaN.",
    "Dropout is off in eval mode, whatever the dropout option says.",
]

NOTE_MERGED = (
    "{attn}: float key_padding_mask with a float attention mask: 2.x adds the two (mask + "
    "key_padding_mask viewed as (N*nhead, 1, S)); 1.13 masked_fill's the mask with the float "
    "key_padding_mask and raises 'RuntimeError: Mask tensor can take 0 and 1 values only'. The "
    "expectation comes from the 1.13 call with the single additive float mask of shape "
    "(N*nhead, L, S) that 2.x computes, and no key_padding_mask.")
NOTE_MISMATCHED = (
    "{attn}: a bool key_padding_mask with a float mask: same values; 2.x additionally warns "
    "'Support for mismatched key_padding_mask and attn_mask is deprecated. Use same type for both "
    "instead.' (TransformerEncoder/Layer: '...mismatched src_key_padding_mask and src_mask...').")
NOTE_MASK_DTYPE = (
    "{arg} is float32 (generate_square_subsequent_mask's default dtype) for a float64 module; "
    "PyTorch accepts it as it is (1.13 and 2.x: no conversion by the caller needed). 2.x adds it to "
    "the float64 (canonicalised) key_padding_mask when there is one, promoting to float64, and "
    "otherwise uses it or, with an is_causal hint, SDPA's causal masking instead; its values are "
    "0 and -inf, exact in float64 whichever way.")
NOTE_IS_CAUSAL = (
    "{flags}: not an argument in 1.13 (omitted from the 1.13 call); the mask is exactly causal, "
    "so 2.x computes the same values.")
NOTE_DETECT = (
    "{arg} is exactly causal and {flag} is not given (None): 2.x detects it "
    "(_detect_is_causal_mask) and passes is_causal=True to the layers; same values.")
NOTE_NESTED = (
    "Under torch.no_grad() in eval mode 2.x (and 1.13) would take TransformerEncoder's "
    "nested-tensor path here (batch_first, post-norm layers, even nhead, a left-aligned "
    "src_key_padding_mask and no mask): the encoder output is then 0 at padded positions before the "
    "final norm. These expectations are the standard path's (grad enabled), where padded positions "
    "are computed like the others.")
NOTE_BIAS = "bias=False emulated on 1.13 with zero biases left out of the state_dict (see the global note)."
NOTE_LN_BIAS = ("LayerNorm(bias=False) (2.1+) emulated on 1.13 with a zero bias left out of the "
                "state_dict: 2.x's module has 'weight' only.")
NOTE_EXPLICIT = "Every constructor option is written out in the spec, defaults included."


def hash_name(s):
    h = 0
    for ch in s:
        h = (h * 131 + ord(ch)) % 2147483647
    return h


# ---------------------------------------------------------------------------------------------
# Case table
# ---------------------------------------------------------------------------------------------

# The attentions of each module kind: (attention mask argument, key padding mask argument,
# is_causal argument, query length, key length), lengths as "S" (source) or "T" (target).
ATTENTIONS = {
    "TransformerEncoderLayer": [("src_mask", "src_key_padding_mask", "is_causal", "S", "S")],
    "TransformerEncoder": [("mask", "src_key_padding_mask", "is_causal", "S", "S")],
    "TransformerDecoderLayer": [("tgt_mask", "tgt_key_padding_mask", "tgt_is_causal", "T", "T"),
                                ("memory_mask", "memory_key_padding_mask", "memory_is_causal", "T", "S")],
    "Transformer": [("src_mask", "src_key_padding_mask", "src_is_causal", "S", "S"),
                    ("tgt_mask", "tgt_key_padding_mask", "tgt_is_causal", "T", "T"),
                    ("memory_mask", "memory_key_padding_mask", "memory_is_causal", "T", "S")],
}
ATTENTIONS["TransformerDecoder"] = ATTENTIONS["TransformerDecoderLayer"]

# The forward's arguments, in order (1.13 has all but the *is_causal ones)
ARGUMENTS = {
    "TransformerEncoderLayer": ["src", "src_mask", "src_key_padding_mask", "is_causal"],
    "TransformerEncoder": ["src", "mask", "src_key_padding_mask", "is_causal"],
    "TransformerDecoderLayer": ["tgt", "memory", "tgt_mask", "memory_mask", "tgt_key_padding_mask",
                                "memory_key_padding_mask", "tgt_is_causal", "memory_is_causal"],
    "Transformer": ["src", "tgt", "src_mask", "tgt_mask", "memory_mask", "src_key_padding_mask",
                    "tgt_key_padding_mask", "memory_key_padding_mask", "src_is_causal",
                    "tgt_is_causal", "memory_is_causal"],
    "Linear": ["input"], "LayerNorm": ["input"], "Embedding": ["input"],
}
ARGUMENTS["TransformerDecoder"] = ARGUMENTS["TransformerDecoderLayer"]
LAYER_KINDS = ("TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
               "TransformerDecoder", "Transformer")


class Case:
    """One call.

    Transformer kinds: d_model, nhead, ff (dim_feedforward), activation, eps (layer_norm_eps),
    batch_first, norm_first, bias; layers (TransformerEncoder/Decoder num_layers), enc/dec
    (Transformer's num_encoder_layers / num_decoder_layers), final_norm (TransformerEncoder/
    Decoder: None or the LayerNorm's eps); S, T lengths, N batch (None: unbatched).
    masks: {argument: kind}, kinds for attention masks "bool", "float", "bool3d", "float3d",
    "causal_bool", "causal_float" (files), "causal_spec" ({"causal": [T, T]}), "causal_rect"
    (float (T, S) memory_mask, -inf above the diagonal); for key padding masks "bool", "float",
    "bool_right", "float_right" (padding at the end).  flags: {"is_causal": True, ...}.
    Linear: in_f, out_f, shape.  LayerNorm: shape, normalized_shape, affine, bias, eps.
    Embedding: num, dim, padding_idx, shape, zero_padding_row.
    """

    def __init__(self, name, kind, dtype="float32", **kw):
        self.name, self.kind, self.dtype = name, kind, dtype
        self.d_model = kw.pop("d_model", 8)
        self.nhead = kw.pop("nhead", 2)
        self.ff = kw.pop("ff", 16)
        self.activation = kw.pop("activation", "relu")
        self.eps = kw.pop("eps", 1e-5)
        self.batch_first = kw.pop("batch_first", False)
        self.norm_first = kw.pop("norm_first", False)
        self.bias = kw.pop("bias", True)
        self.dropout = kw.pop("dropout", 0.1)
        self.layers = kw.pop("layers", 2)
        self.enc = kw.pop("enc", 2)
        self.dec = kw.pop("dec", 2)
        self.final_norm = kw.pop("final_norm", None)
        self.S = kw.pop("S", 4)
        self.T = kw.pop("T", 3)
        self.N = kw.pop("N", 2)
        self.masks = kw.pop("masks", {})
        self.flags = kw.pop("flags", {})
        self.prefix = kw.pop("prefix", None)
        self.explicit = kw.pop("explicit", False)        # write every option, defaults included
        self.spec_dtype = kw.pop("spec_dtype", False)    # write "dtype": "float32" explicitly
        # Linear / LayerNorm / Embedding
        self.in_f = kw.pop("in_f", 8)
        self.out_f = kw.pop("out_f", 6)
        self.shape = kw.pop("shape", None)
        self.normalized_shape = kw.pop("normalized_shape", 8)
        self.affine = kw.pop("affine", True)
        self.num = kw.pop("num", 10)
        self.dim = kw.pop("dim", 6)
        self.padding_idx = kw.pop("padding_idx", None)
        self.zero_padding_row = kw.pop("zero_padding_row", True)
        assert not kw, (name, kw)
        if kind in LAYER_KINDS:
            assert 8 <= self.d_model <= 16 and 2 <= self.nhead <= 4 and 16 <= self.ff <= 32, name
            assert self.d_model % self.nhead == 0
            assert 3 <= self.S <= 7 and 3 <= self.T <= 7 and self.N in (None, 2, 3), name
            valid = set(ARGUMENTS[kind])
            assert set(self.masks) <= valid and set(self.flags) <= valid, name
            for am, kpm, flag, lq, lk in ATTENTIONS[kind]:
                if self.flags.get(flag):
                    assert self.masks.get(am, "").startswith("causal"), (name, flag)
                kind_am = self.masks.get(am, "")
                if self.masks.get(kpm, "").startswith("float") and kind_am.startswith("bool"):
                    raise AssertionError("float key_padding_mask with a bool mask: not generated")
                if kind_am == "causal_rect":
                    assert am == "memory_mask"
                elif kind_am.startswith("causal"):
                    assert lq == lk


def build_cases():
    C = Case
    enc_masks = {"src_mask": "bool", "src_key_padding_mask": "bool"}
    dec_masks = {"tgt_mask": "causal_bool", "memory_mask": "bool", "tgt_key_padding_mask": "bool",
                 "memory_key_padding_mask": "bool"}
    all_bool = {"src_mask": "bool", "tgt_mask": "causal_bool", "memory_mask": "bool",
                "src_key_padding_mask": "bool", "tgt_key_padding_mask": "bool",
                "memory_key_padding_mask": "bool"}
    all_float = {"src_mask": "float", "tgt_mask": "causal_float", "memory_mask": "float",
                 "src_key_padding_mask": "float", "tgt_key_padding_mask": "float",
                 "memory_key_padding_mask": "float"}
    cases = [
        # --- nn.Transformer, 2 + 2 layers, all masks ------------------------------------------
        C("transformer-all-masks-bool", "Transformer", d_model=8, nhead=2, ff=16, S=5, T=4, N=2,
          masks=all_bool),
        C("transformer-all-masks-float", "Transformer", d_model=8, nhead=2, ff=16, S=4, T=5, N=3,
          masks=all_float),
        C("transformer-all-masks-bool-batch-first-norm-first-gelu", "Transformer", d_model=12,
          nhead=3, ff=24, S=6, T=4, N=2, batch_first=True, norm_first=True, activation="gelu",
          masks=dict(all_bool, tgt_mask="causal_spec")),
        C("transformer-all-masks-float-batch-first-gelu-f64", "Transformer", "float64", d_model=8,
          nhead=4, ff=16, S=5, T=3, N=2, batch_first=True, activation="gelu", masks=all_float),
        C("transformer-all-masks-norm-first-f64-causal-spec", "Transformer", "float64", d_model=8,
          nhead=2, ff=16, S=4, T=5, N=2, norm_first=True,
          masks=dict(all_bool, tgt_mask="causal_spec")),
        C("transformer-float-masks-bool-kpm-norm-first-gelu", "Transformer", d_model=16, nhead=4,
          ff=32, S=5, T=4, N=2, norm_first=True, activation="gelu",
          masks={"src_mask": "float", "tgt_mask": "causal_spec", "memory_mask": "float",
                 "src_key_padding_mask": "bool_right", "tgt_key_padding_mask": "bool",
                 "memory_key_padding_mask": "bool_right"}),
        C("transformer-3d-masks-batch-first", "Transformer", d_model=8, nhead=2, ff=16, S=4, T=4,
          N=2, batch_first=True,
          masks={"src_mask": "float3d", "tgt_mask": "bool3d", "memory_mask": "float3d",
                 "src_key_padding_mask": "bool", "memory_key_padding_mask": "float"}),
        C("transformer-is-causal-flags-batch-first", "Transformer", d_model=8, nhead=2, ff=16, S=5,
          T=5, N=2, batch_first=True,
          masks={"src_mask": "causal_float", "tgt_mask": "causal_spec", "memory_mask": "causal_rect"},
          flags={"src_is_causal": True, "tgt_is_causal": True, "memory_is_causal": True}),
        C("transformer-no-masks-explicit-defaults", "Transformer", d_model=8, nhead=2, ff=16, S=3,
          T=4, N=2, explicit=True),
        C("transformer-layers-1-3-eps", "Transformer", d_model=12, nhead=2, ff=16, S=3, T=6, N=3,
          enc=1, dec=3, eps=1e-3, spec_dtype=True,
          masks={"tgt_mask": "causal_spec", "src_key_padding_mask": "bool_right",
                 "memory_key_padding_mask": "bool_right"}),
        C("transformer-bias-false-norm-first-gelu", "Transformer", d_model=8, nhead=2, ff=16, S=4,
          T=3, N=2, bias=False, norm_first=True, activation="gelu",
          masks={"tgt_mask": "causal_spec", "src_key_padding_mask": "bool"}),
        C("transformer-unbatched-masks", "Transformer", d_model=8, nhead=2, ff=16, S=5, T=4, N=None,
          masks=dict(all_bool, tgt_mask="causal_spec")),
        C("transformer-prefix-model", "Transformer", d_model=8, nhead=2, ff=16, S=4, T=3, N=2,
          prefix="model.", masks=dict(all_bool, tgt_mask="causal_spec")),
        # --- TransformerEncoderLayer: norm_first x activation x batch_first ------------------
        C("encoder-layer-post-relu-dropout-0.5", "TransformerEncoderLayer", d_model=8, nhead=2, ff=16,
          S=5, N=2, dropout=0.5, masks=enc_masks),
        C("encoder-layer-post-relu-batch-first", "TransformerEncoderLayer", d_model=12, nhead=4,
          ff=24, S=4, N=3, batch_first=True,
          masks={"src_mask": "float", "src_key_padding_mask": "float"}),
        C("encoder-layer-post-gelu", "TransformerEncoderLayer", d_model=8, nhead=2, ff=32, S=6, N=2,
          activation="gelu", masks={"src_mask": "causal_spec"}, flags={"is_causal": True}),
        C("encoder-layer-post-gelu-batch-first", "TransformerEncoderLayer", d_model=16, nhead=4,
          ff=32, S=5, N=2, batch_first=True, activation="gelu",
          masks={"src_mask": "bool3d", "src_key_padding_mask": "bool_right"}),
        C("encoder-layer-pre-relu", "TransformerEncoderLayer", d_model=8, nhead=2, ff=16, S=4, N=3,
          norm_first=True, masks={"src_key_padding_mask": "float"}),
        C("encoder-layer-pre-relu-batch-first", "TransformerEncoderLayer", d_model=8, nhead=2,
          ff=16, S=5, N=2, norm_first=True, batch_first=True,
          masks={"src_mask": "causal_float", "src_key_padding_mask": "bool"},
          flags={"is_causal": True}),
        C("encoder-layer-pre-gelu-f64", "TransformerEncoderLayer", "float64", d_model=12, nhead=3,
          ff=24, S=5, N=2, norm_first=True, activation="gelu",
          masks={"src_mask": "float3d", "src_key_padding_mask": "float"}),
        C("encoder-layer-pre-gelu-batch-first", "TransformerEncoderLayer", d_model=8, nhead=4,
          ff=16, S=3, N=2, norm_first=True, batch_first=True, activation="gelu", eps=1e-3,
          masks={"src_mask": "float", "src_key_padding_mask": "bool"}),
        C("encoder-layer-unbatched", "TransformerEncoderLayer", d_model=8, nhead=2, ff=16, S=5,
          N=None, masks=enc_masks),
        C("encoder-layer-unbatched-norm-first-gelu-f64", "TransformerEncoderLayer", "float64",
          d_model=8, nhead=2, ff=16, S=4, N=None, norm_first=True, activation="gelu",
          batch_first=True, masks={"src_mask": "float3d", "src_key_padding_mask": "bool"}),
        C("encoder-layer-bias-false", "TransformerEncoderLayer", d_model=8, nhead=2, ff=16, S=4,
          N=2, bias=False, masks=enc_masks),
        C("encoder-layer-prefix-model", "TransformerEncoderLayer", d_model=8, nhead=2, ff=16, S=4,
          N=2, prefix="model.", batch_first=True, masks=enc_masks),
        # --- TransformerDecoderLayer: norm_first x activation x batch_first ------------------
        C("decoder-layer-post-relu-dropout-0", "TransformerDecoderLayer", d_model=8, nhead=2, ff=16,
          S=5, T=4, N=2, dropout=0.0, masks=dec_masks),
        C("decoder-layer-post-relu-batch-first", "TransformerDecoderLayer", d_model=8, nhead=2,
          ff=16, S=4, T=5, N=3, batch_first=True,
          masks={"tgt_mask": "causal_spec", "memory_key_padding_mask": "bool_right"},
          flags={"tgt_is_causal": True}),
        C("decoder-layer-post-gelu", "TransformerDecoderLayer", d_model=12, nhead=3, ff=24, S=6,
          T=4, N=2, activation="gelu",
          masks={"tgt_mask": "float", "memory_mask": "float", "tgt_key_padding_mask": "float",
                 "memory_key_padding_mask": "float"}),
        C("decoder-layer-post-gelu-batch-first", "TransformerDecoderLayer", d_model=8, nhead=2,
          ff=16, S=3, T=5, N=2, batch_first=True, activation="gelu",
          masks={"tgt_mask": "causal_float", "memory_mask": "causal_rect"},
          flags={"tgt_is_causal": True, "memory_is_causal": True}),
        C("decoder-layer-pre-relu", "TransformerDecoderLayer", d_model=8, nhead=4, ff=16, S=4, T=3,
          N=2, norm_first=True,
          masks={"tgt_mask": "bool3d", "memory_mask": "float3d",
                 "tgt_key_padding_mask": "bool", "memory_key_padding_mask": "bool"}),
        C("decoder-layer-pre-relu-batch-first-f64", "TransformerDecoderLayer", "float64",
          d_model=8, nhead=2, ff=16, S=5, T=4, N=2, norm_first=True, batch_first=True,
          masks=dec_masks),
        C("decoder-layer-pre-gelu", "TransformerDecoderLayer", d_model=16, nhead=4, ff=32, S=4,
          T=4, N=2, norm_first=True, activation="gelu",
          masks={"tgt_mask": "causal_spec", "tgt_key_padding_mask": "bool",
                 "memory_key_padding_mask": "float"},
          flags={"tgt_is_causal": False}),
        C("decoder-layer-pre-gelu-batch-first", "TransformerDecoderLayer", d_model=8, nhead=2,
          ff=16, S=6, T=3, N=3, norm_first=True, batch_first=True, activation="gelu", eps=1e-4,
          masks={"tgt_mask": "bool", "memory_mask": "bool", "memory_key_padding_mask": "bool"}),
        C("decoder-layer-unbatched", "TransformerDecoderLayer", d_model=8, nhead=2, ff=16, S=5,
          T=4, N=None, masks=dec_masks),
        C("decoder-layer-unbatched-norm-first-gelu-f64", "TransformerDecoderLayer", "float64",
          d_model=12, nhead=4, ff=16, S=3, T=5, N=None, norm_first=True, activation="gelu",
          masks={"tgt_mask": "causal_float", "memory_mask": "float3d",
                 "memory_key_padding_mask": "float"}),
        C("decoder-layer-bias-false-f64", "TransformerDecoderLayer", "float64", d_model=8, nhead=2,
          ff=16, S=4, T=4, N=2, bias=False, masks=dec_masks),
        # --- TransformerEncoder ------------------------------------------------------------
        C("encoder-2-layers-final-norm", "TransformerEncoder", d_model=8, nhead=2, ff=16, S=5, N=2,
          layers=2, final_norm=1e-5,
          masks={"mask": "causal_float", "src_key_padding_mask": "bool"}),
        C("encoder-3-layers-no-norm-batch-first", "TransformerEncoder", d_model=8, nhead=2, ff=16,
          S=6, N=3, layers=3, batch_first=True, masks={"src_key_padding_mask": "bool_right"}),
        C("encoder-2-layers-norm-eps-is-causal-f64", "TransformerEncoder", "float64", d_model=12,
          nhead=3, ff=24, S=5, N=2, layers=2, final_norm=1e-3, norm_first=True, activation="gelu",
          masks={"mask": "causal_spec"}, flags={"is_causal": True}),
        C("encoder-1-layer-final-norm-float-masks", "TransformerEncoder", d_model=16, nhead=4,
          ff=32, S=4, N=2, layers=1, final_norm=1e-5, batch_first=True,
          masks={"mask": "float", "src_key_padding_mask": "float"}),
        # --- TransformerDecoder ------------------------------------------------------------
        C("decoder-2-layers-final-norm", "TransformerDecoder", d_model=8, nhead=2, ff=16, S=5, T=4,
          N=2, layers=2, final_norm=1e-5, masks=dict(dec_masks, tgt_mask="causal_spec")),
        C("decoder-2-layers-no-norm-batch-first-gelu-f64", "TransformerDecoder", "float64",
          d_model=8, nhead=4, ff=16, S=4, T=5, N=2, layers=2, batch_first=True, activation="gelu",
          masks={"tgt_mask": "causal_float", "memory_key_padding_mask": "float"},
          flags={"tgt_is_causal": True}),
        C("decoder-3-layers-norm-first-final-norm", "TransformerDecoder", d_model=12, nhead=2,
          ff=24, S=3, T=4, N=3, layers=3, norm_first=True, final_norm=1e-4,
          masks={"tgt_mask": "float", "memory_mask": "bool", "tgt_key_padding_mask": "bool"}),
        # --- Linear ------------------------------------------------------------------------
        C("linear-3d", "Linear", in_f=8, out_f=6, shape=(3, 2, 8)),
        C("linear-no-bias-1d", "Linear", in_f=7, out_f=5, shape=(7,), bias=False),
        C("linear-4d-f64", "Linear", "float64", in_f=6, out_f=9, shape=(2, 3, 4, 6)),
        C("linear-2d-no-bias-dtype", "Linear", in_f=16, out_f=4, shape=(5, 16), bias=False,
          spec_dtype=True),
        # --- LayerNorm ---------------------------------------------------------------------
        C("layer-norm-int", "LayerNorm", normalized_shape=8, shape=(3, 2, 8)),
        C("layer-norm-list-4d", "LayerNorm", normalized_shape=[3, 4], shape=(2, 5, 3, 4)),
        C("layer-norm-no-affine", "LayerNorm", normalized_shape=[6], shape=(4, 6), affine=False),
        C("layer-norm-no-bias-eps", "LayerNorm", normalized_shape=8, shape=(2, 3, 8), bias=False,
          eps=1e-3),
        C("layer-norm-eps-0.5-f64", "LayerNorm", "float64", normalized_shape=[2, 5], shape=(3, 2, 5),
          eps=0.5),
        # --- Embedding ---------------------------------------------------------------------
        C("embedding-1d-padding-idx", "Embedding", num=10, dim=6, padding_idx=0, shape=(7,)),
        C("embedding-2d-padding-row-nonzero", "Embedding", num=12, dim=8, padding_idx=3,
          shape=(3, 5), zero_padding_row=False),
        C("embedding-3d-negative-padding-idx-f64", "Embedding", "float64", num=9, dim=4,
          padding_idx=-1, shape=(2, 3, 4)),
        C("embedding-2d-no-padding", "Embedding", num=5, dim=16, shape=(2, 6)),
    ]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases


# ---------------------------------------------------------------------------------------------
# Modules and parameters
# ---------------------------------------------------------------------------------------------

class Parent(nn.Module):
    """A model holding the case's module as `model`, next to siblings, for the prefix cases."""

    def __init__(self, model, d_model, dtype):
        super().__init__()
        self.embed = nn.Embedding(11, d_model, dtype=dtype)
        self.model = model
        self.head = nn.Linear(d_model, 5, dtype=dtype)


def make_module(c):
    dt = DTYPES[c.dtype]
    if c.kind in LAYER_KINDS:
        common = dict(dim_feedforward=c.ff, dropout=c.dropout, activation=c.activation,
                      layer_norm_eps=c.eps, batch_first=c.batch_first, norm_first=c.norm_first,
                      dtype=dt)
        if c.kind == "TransformerEncoderLayer":
            m = nn.TransformerEncoderLayer(c.d_model, c.nhead, **common)
        elif c.kind == "TransformerDecoderLayer":
            m = nn.TransformerDecoderLayer(c.d_model, c.nhead, **common)
        elif c.kind == "TransformerEncoder":
            norm = None if c.final_norm is None else nn.LayerNorm(c.d_model, eps=c.final_norm, dtype=dt)
            m = nn.TransformerEncoder(nn.TransformerEncoderLayer(c.d_model, c.nhead, **common),
                                      c.layers, norm)
        elif c.kind == "TransformerDecoder":
            norm = None if c.final_norm is None else nn.LayerNorm(c.d_model, eps=c.final_norm, dtype=dt)
            m = nn.TransformerDecoder(nn.TransformerDecoderLayer(c.d_model, c.nhead, **common),
                                      c.layers, norm)
        else:
            m = nn.Transformer(c.d_model, c.nhead, c.enc, c.dec, **common)
    elif c.kind == "Linear":
        m = nn.Linear(c.in_f, c.out_f, bias=c.bias, dtype=dt)
    elif c.kind == "LayerNorm":
        m = nn.LayerNorm(c.normalized_shape, eps=c.eps, elementwise_affine=c.affine, dtype=dt)
    elif c.kind == "Embedding":
        m = nn.Embedding(c.num, c.dim, padding_idx=c.padding_idx, dtype=dt)
    else:
        raise ValueError(c.kind)
    return m


def randomise(module, zero_biases, zero_padding_row=True):
    """Seeded random values for every parameter (torch's global generator, seeded per case).
    zero_biases: the biases 2.x's bias=False removes are set to 0 (1.13 emulation);
    zero_padding_row: Embedding's padding_idx row is 0, as PyTorch initialises it."""
    with torch.no_grad():
        for mod in module.modules():
            if isinstance(mod, nn.MultiheadAttention):
                E = mod.embed_dim
                mod.in_proj_weight.copy_(torch.randn_like(mod.in_proj_weight) / math.sqrt(E))
                mod.in_proj_bias.copy_(torch.randn_like(mod.in_proj_bias) * 0.3)
                if zero_biases:
                    mod.in_proj_bias.zero_()
            elif isinstance(mod, nn.Linear):
                mod.weight.copy_(torch.randn_like(mod.weight) / math.sqrt(mod.in_features))
                if mod.bias is not None:
                    mod.bias.copy_(torch.randn_like(mod.bias) * 0.3)
                    if zero_biases:
                        mod.bias.zero_()
            elif isinstance(mod, nn.LayerNorm):
                if mod.weight is not None:
                    mod.weight.copy_(1.0 + torch.randn_like(mod.weight) * 0.3)
                    mod.bias.copy_(torch.randn_like(mod.bias) * 0.3)
                    if zero_biases:
                        mod.bias.zero_()
            elif isinstance(mod, nn.Embedding):
                mod.weight.copy_(torch.randn_like(mod.weight))
                if mod.padding_idx is not None and zero_padding_row:
                    mod.weight[mod.padding_idx].zero_()


def is_removed_bias(name):
    """The state_dict entries that 2.x's bias=False removes (Transformer modules, LayerNorm)."""
    last = name.rsplit(".", 1)[-1]
    return last in ("in_proj_bias", "bias")


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------

def seq_shape(c, length):
    if c.N is None:
        return (length, c.d_model)
    return (c.N, length, c.d_model) if c.batch_first else (length, c.N, c.d_model)


def causal_float(rows, cols, dtype):
    return torch.triu(torch.full((rows, cols), float("-inf"), dtype=dtype), diagonal=1)


def make_attention_masks(c, am_kind, kpm_kind, L, S, dt):
    """(mask, key_padding_mask) for one attention, every query row keeping a key."""
    nb = c.N if c.N is not None else 1
    causal = am_kind is not None and am_kind.startswith("causal")
    right = kpm_kind is not None and kpm_kind.endswith("_right")
    safe = 0 if (causal or right) else int(torch.randint(0, S, (1,)))
    am = kpm = None
    if am_kind is not None:
        if causal:
            if am_kind == "causal_bool":
                am = torch.ones(L, S, dtype=torch.bool).triu(1)
            elif am_kind == "causal_spec":
                am = nn.Transformer.generate_square_subsequent_mask(L)   # float32, as 2.x's default
                assert am.dtype == torch.float32
            else:  # causal_float, causal_rect
                am = causal_float(L, S, dt)
        else:
            shape = (L, S) if not am_kind.endswith("3d") else (nb * c.nhead, L, S)
            drop = torch.rand(shape) < 0.3
            drop[..., safe] = False
            if am_kind.startswith("bool"):
                am = drop
            else:
                am = (torch.randn(shape, dtype=dt) * 0.5).masked_fill(drop, float("-inf"))
    if kpm_kind is not None:
        shape = (nb, S)
        if right:
            pad = torch.zeros(shape, dtype=torch.bool)
            for b in range(nb):
                keep = int(torch.randint(1, S + 1, (1,)))
                pad[b, keep:] = True
            if nb > 1 and not pad.any():
                pad[-1, -1] = True
            if nb > 1:
                pad[0, :] = False     # one full-length sequence, as in real batches
                pad[-1, S - 1] = True
        else:
            pad = torch.rand(shape) < 0.3
            pad[:, safe] = False
            pad[0, (safe + 1) % S] = True   # something is padded
        if kpm_kind.startswith("bool"):
            kpm = pad
        else:
            kpm = (torch.randn(shape, dtype=dt) * 0.5).masked_fill(pad, float("-inf"))
        if c.N is None:
            kpm = kpm[0]
    return am, kpm


def make_inputs(c):
    """OrderedDict of the call's tensors (argument name -> tensor) and the set of arguments written
    as {"causal": [T, T]} in the spec."""
    dt = DTYPES[c.dtype]
    inputs = OrderedDict()
    spec_causal = set()
    if c.kind in LAYER_KINDS:
        lengths = {"S": c.S, "T": c.T}
        if c.kind in ("TransformerEncoderLayer", "TransformerEncoder"):
            inputs["src"] = torch.randn(seq_shape(c, c.S), dtype=dt)
        elif c.kind in ("TransformerDecoderLayer", "TransformerDecoder"):
            inputs["tgt"] = torch.randn(seq_shape(c, c.T), dtype=dt)
            inputs["memory"] = torch.randn(seq_shape(c, c.S), dtype=dt)
        else:
            inputs["src"] = torch.randn(seq_shape(c, c.S), dtype=dt)
            inputs["tgt"] = torch.randn(seq_shape(c, c.T), dtype=dt)
        for am_arg, kpm_arg, _, lq, lk in ATTENTIONS[c.kind]:
            am, kpm = make_attention_masks(c, c.masks.get(am_arg), c.masks.get(kpm_arg),
                                           lengths[lq], lengths[lk], dt)
            if am is not None:
                inputs[am_arg] = am
                if c.masks[am_arg] == "causal_spec":
                    spec_causal.add(am_arg)
            if kpm is not None:
                inputs[kpm_arg] = kpm
        # the forward's argument order
        inputs = OrderedDict((k, inputs[k]) for k in ARGUMENTS[c.kind] if k in inputs)
    elif c.kind in ("Linear", "LayerNorm"):
        inputs["input"] = torch.randn(c.shape, dtype=dt) * 1.5 + 0.3
    else:
        idx = torch.randint(0, c.num, c.shape, dtype=torch.int64)
        if c.padding_idx is not None:
            flat = idx.view(-1)
            flat[0] = c.padding_idx % c.num
            flat[-1] = c.padding_idx % c.num
        inputs["input"] = idx
    return inputs, spec_causal


# ---------------------------------------------------------------------------------------------
# The 1.13 call
# ---------------------------------------------------------------------------------------------

def to_batch_major_kpm(kpm):
    return kpm if kpm.dim() == 2 else kpm.unsqueeze(0)


def merged_mask(c, am, kpm, dt):
    """2.x's single additive mask for a float mask + float key_padding_mask: (N*nhead, L, S)."""
    k2 = to_batch_major_kpm(kpm).to(dt)
    nb, S = k2.shape
    k3 = k2.view(nb, 1, 1, S).expand(-1, c.nhead, -1, -1).reshape(nb * c.nhead, 1, S)
    a3 = am.to(dt).unsqueeze(0) if am.dim() == 2 else am.to(dt)
    return a3 + k3


def call_113(c, module, inputs, dt):
    """Runs the 1.13 module on the inputs converted to dt (the case's dtype, or float64 for the
    float32-vs-float64 figure), adapting the masks where 1.13 would not compute what 2.x does.
    Returns the output and the notes on the case."""
    notes = []
    conv = OrderedDict()
    for k, v in inputs.items():
        conv[k] = v.to(dt) if (v.is_floating_point() and k in ("src", "tgt", "memory", "input")) else v
    if c.kind not in LAYER_KINDS:
        return module(conv["input"]), notes
    kwargs = OrderedDict()
    for k in ARGUMENTS[c.kind]:
        if k in conv and k not in ("src", "tgt", "memory"):
            kwargs[k] = conv[k]
    for am_arg, kpm_arg, _, _, _ in ATTENTIONS[c.kind]:
        am, kpm = kwargs.get(am_arg), kwargs.get(kpm_arg)
        if am is not None and am.is_floating_point() and am.dtype != dt:
            if dt == DTYPES[c.dtype]:
                notes.append(NOTE_MASK_DTYPE.format(arg=am_arg))    # passed as it is
            else:
                kwargs[am_arg] = am = am.to(dt)                       # the float64 check run
        if kpm is not None and kpm.is_floating_point():
            kwargs[kpm_arg] = kpm = kpm.to(dt)
        if am is not None and kpm is not None and kpm.is_floating_point():
            assert am.is_floating_point()
            kwargs[am_arg] = merged_mask(c, am, kpm, dt)
            del kwargs[kpm_arg]
            notes.append(NOTE_MERGED.format(attn="{} + {}".format(am_arg, kpm_arg)))
        elif am is not None and kpm is not None and am.dtype != kpm.dtype:
            notes.append(NOTE_MISMATCHED.format(attn="{} + {}".format(am_arg, kpm_arg)))
    if c.kind in ("TransformerEncoderLayer", "TransformerEncoder"):
        out = module(conv["src"], **kwargs)
    elif c.kind in ("TransformerDecoderLayer", "TransformerDecoder"):
        out = module(conv["tgt"], conv["memory"], **kwargs)
    else:
        out = module(conv["src"], conv["tgt"], **kwargs)
    return out, notes


# ---------------------------------------------------------------------------------------------
# Independent reference: 2.x's forward, in float64, from the state_dict
# ---------------------------------------------------------------------------------------------

class Reference2x:
    """2.x's computation from a state_dict (float64 values; absent biases are bias=False)."""

    def __init__(self, c, sd):
        self.c = c
        self.p = {k: torch.from_numpy(np.asarray(v)).to(torch.float64) for k, v in sd.items()}
        self.rows_checked = 0

    def get(self, name):
        return self.p.get(name)

    # --- building blocks ---------------------------------------------------------------------
    def linear(self, x, pre):
        y = torch.matmul(x, self.p[pre + "weight"].t())
        b = self.get(pre + "bias")
        return y if b is None else y + b

    def layer_norm(self, x, pre, eps, ndim=1):
        dims = tuple(range(-ndim, 0))
        mean = x.mean(dim=dims, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
        y = (x - mean) / torch.sqrt(var + eps)
        w, b = self.get(pre + "weight"), self.get(pre + "bias")
        if w is not None:
            y = y * w
        if b is not None:
            y = y + b
        return y

    def activation(self, x):
        if self.c.activation == "relu":
            return torch.clamp(x, min=0.0)
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))

    @staticmethod
    def canon(mask):
        if mask is None:
            return None
        if mask.dtype == torch.bool:
            return torch.zeros(mask.shape, dtype=torch.float64).masked_fill(mask, float("-inf"))
        return mask.to(torch.float64)

    def mha(self, xq, xkv, pre, am, kpm, is_causal):
        """xq (N, L, E), xkv (N, S, E); am (L, S) / (N*H, L, S); kpm (N, S); need_weights=False."""
        H = self.c.nhead
        N, L, E = xq.shape
        S = xkv.shape[1]
        hd = E // H
        W = self.p[pre + "in_proj_weight"]
        b = self.get(pre + "in_proj_bias")
        bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
        Wq, Wk, Wv = W.chunk(3)

        def proj(x, w, bb):
            y = torch.matmul(x, w.t())
            return y if bb is None else y + bb

        q = proj(xq, Wq, bq).view(N, L, H, hd).transpose(1, 2)
        k = proj(xkv, Wk, bk).view(N, S, H, hd).transpose(1, 2)
        v = proj(xkv, Wv, bv).view(N, S, H, hd).transpose(1, 2)
        kpm_f = self.canon(kpm)
        if is_causal and am is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint")
        if is_causal and kpm_f is None:
            mask = causal_float(L, S, torch.float64)         # SDPA's is_causal (top-left)
        else:
            mask = self.canon(am)
            if mask is not None:
                mask = mask.view(1, 1, L, S) if mask.dim() == 2 else mask.view(N, H, L, S)
            if kpm_f is not None:
                k4 = kpm_f.view(N, 1, 1, S)
                mask = k4 if mask is None else mask + k4
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(hd)
        if mask is not None:
            scores = scores + mask
        blank = torch.isneginf(scores).all(dim=-1)
        assert not blank.any(), "{}: a fully masked query row".format(self.c.name)
        self.rows_checked += int(blank.numel())
        w = torch.softmax(scores, dim=-1)
        o = torch.matmul(w, v).transpose(1, 2).reshape(N, L, E)
        return self.linear(o, pre + "out_proj.")

    # --- layers ------------------------------------------------------------------------------
    def encoder_layer(self, x, pre, mask, kpm, is_causal):
        c = self.c
        sa = lambda y: self.mha(y, y, pre + "self_attn.", mask, kpm, is_causal)  # noqa: E731
        ff = lambda y: self.linear(self.activation(self.linear(y, pre + "linear1.")), pre + "linear2.")  # noqa: E731
        if c.norm_first:
            x = x + sa(self.layer_norm(x, pre + "norm1.", c.eps))
            x = x + ff(self.layer_norm(x, pre + "norm2.", c.eps))
        else:
            x = self.layer_norm(x + sa(x), pre + "norm1.", c.eps)
            x = self.layer_norm(x + ff(x), pre + "norm2.", c.eps)
        return x

    def decoder_layer(self, x, mem, pre, tm, mm, tkpm, mkpm, t_causal, m_causal):
        c = self.c
        sa = lambda y: self.mha(y, y, pre + "self_attn.", tm, tkpm, t_causal)  # noqa: E731
        ca = lambda y: self.mha(y, mem, pre + "multihead_attn.", mm, mkpm, m_causal)  # noqa: E731
        ff = lambda y: self.linear(self.activation(self.linear(y, pre + "linear1.")), pre + "linear2.")  # noqa: E731
        if c.norm_first:
            x = x + sa(self.layer_norm(x, pre + "norm1.", c.eps))
            x = x + ca(self.layer_norm(x, pre + "norm2.", c.eps))
            x = x + ff(self.layer_norm(x, pre + "norm3.", c.eps))
        else:
            x = self.layer_norm(x + sa(x), pre + "norm1.", c.eps)
            x = self.layer_norm(x + ca(x), pre + "norm2.", c.eps)
            x = self.layer_norm(x + ff(x), pre + "norm3.", c.eps)
        return x

    @staticmethod
    def detect_causal(mask, is_causal, size):
        """2.x's _detect_is_causal_mask."""
        make_causal = is_causal is True
        if is_causal is None and mask is not None:
            if mask.dtype == torch.bool:
                comparison = torch.ones(size, size, dtype=torch.bool).triu(1)
            else:
                comparison = causal_float(size, size, mask.dtype)
            make_causal = mask.shape == comparison.shape and bool((mask == comparison).all())
        return make_causal

    def encoder(self, x, pre, mask, kpm, is_causal, n_layers, final_eps):
        # 2.x canonicalises the masks first, then detects a causal mask
        mask_c = self.canon(mask)
        is_causal = self.detect_causal(mask_c, is_causal, x.shape[1])
        for i in range(n_layers):
            x = self.encoder_layer(x, "{}layers.{}.".format(pre, i), mask_c, kpm, is_causal)
        if final_eps is not None:
            x = self.layer_norm(x, pre + "norm.", final_eps)
        return x

    def decoder(self, x, mem, pre, tm, mm, tkpm, mkpm, t_causal, m_causal, n_layers, final_eps):
        t_causal = self.detect_causal(tm, t_causal, x.shape[1])
        for i in range(n_layers):
            x = self.decoder_layer(x, mem, "{}layers.{}.".format(pre, i), tm, mm, tkpm, mkpm,
                                   t_causal, m_causal)
        if final_eps is not None:
            x = self.layer_norm(x, pre + "norm.", final_eps)
        return x

    # --- the call ----------------------------------------------------------------------------
    def __call__(self, inputs):
        c = self.c
        a = {k: v for k, v in inputs.items()}
        if c.kind == "Linear":
            return self.linear(a["input"].to(torch.float64), "")
        if c.kind == "LayerNorm":
            ns = c.normalized_shape if isinstance(c.normalized_shape, list) else [c.normalized_shape]
            return self.layer_norm(a["input"].to(torch.float64), "", c.eps, len(ns))
        if c.kind == "Embedding":
            return self.p["weight"][a["input"]]

        def seq_in(x):
            x = x.to(torch.float64)
            if c.N is None:
                return x.unsqueeze(0)
            return x if c.batch_first else x.transpose(0, 1)

        def kpm_in(k):
            return None if k is None else (k.unsqueeze(0) if c.N is None else k)

        def seq_out(x):
            if c.N is None:
                return x.squeeze(0)
            return x if c.batch_first else x.transpose(0, 1)

        f = c.flags
        if c.kind == "TransformerEncoderLayer":
            y = self.encoder_layer(seq_in(a["src"]), "", a.get("src_mask"),
                                   kpm_in(a.get("src_key_padding_mask")), f.get("is_causal", False))
        elif c.kind == "TransformerEncoder":
            y = self.encoder(seq_in(a["src"]), "", a.get("mask"),
                             kpm_in(a.get("src_key_padding_mask")), f.get("is_causal"),
                             c.layers, c.final_norm)
        elif c.kind == "TransformerDecoderLayer":
            y = self.decoder_layer(seq_in(a["tgt"]), seq_in(a["memory"]), "", a.get("tgt_mask"),
                                   a.get("memory_mask"), kpm_in(a.get("tgt_key_padding_mask")),
                                   kpm_in(a.get("memory_key_padding_mask")),
                                   f.get("tgt_is_causal", False), f.get("memory_is_causal", False))
        elif c.kind == "TransformerDecoder":
            y = self.decoder(seq_in(a["tgt"]), seq_in(a["memory"]), "", a.get("tgt_mask"),
                             a.get("memory_mask"), kpm_in(a.get("tgt_key_padding_mask")),
                             kpm_in(a.get("memory_key_padding_mask")), f.get("tgt_is_causal"),
                             f.get("memory_is_causal", False), c.layers, c.final_norm)
        else:
            memory = self.encoder(seq_in(a["src"]), "encoder.", a.get("src_mask"),
                                  kpm_in(a.get("src_key_padding_mask")), f.get("src_is_causal"),
                                  c.enc, c.eps)
            y = self.decoder(seq_in(a["tgt"]), memory, "decoder.", a.get("tgt_mask"),
                             a.get("memory_mask"), kpm_in(a.get("tgt_key_padding_mask")),
                             kpm_in(a.get("memory_key_padding_mask")), f.get("tgt_is_causal"),
                             f.get("memory_is_causal", False), c.dec, c.eps)
        return seq_out(y)


# ---------------------------------------------------------------------------------------------
# Specs
# ---------------------------------------------------------------------------------------------

def layer_options(c, with_type, kind):
    o = OrderedDict()
    if with_type:
        o["type"] = kind
    o["d_model"] = c.d_model
    o["nhead"] = c.nhead
    if c.explicit:
        o.update([("dim_feedforward", c.ff), ("dropout", c.dropout), ("activation", c.activation),
                  ("layer_norm_eps", c.eps), ("batch_first", c.batch_first),
                  ("norm_first", c.norm_first), ("bias", c.bias),
                  ("dtype", None if c.dtype == "float32" else c.dtype)])
        return o
    o["dim_feedforward"] = c.ff          # never the default 2048 here
    if c.dropout != 0.1:
        o["dropout"] = c.dropout
    if c.activation != "relu":
        o["activation"] = c.activation
    if c.eps != 1e-5:
        o["layer_norm_eps"] = c.eps
    if c.batch_first:
        o["batch_first"] = True
    if c.norm_first:
        o["norm_first"] = True
    if not c.bias:
        o["bias"] = False
    if c.dtype != "float32" or c.spec_dtype:
        o["dtype"] = c.dtype
    return o


def module_spec(c, npz, has_params):
    if c.kind in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        m = layer_options(c, True, c.kind)
    elif c.kind in ("TransformerEncoder", "TransformerDecoder"):
        inner = "TransformerEncoderLayer" if c.kind == "TransformerEncoder" else "TransformerDecoderLayer"
        m = OrderedDict([("type", c.kind)])
        m["encoder_layer" if c.kind == "TransformerEncoder" else "decoder_layer"] = layer_options(c, True, inner)
        m["num_layers"] = c.layers
        if c.final_norm is None:
            m["norm"] = None
        else:
            norm = OrderedDict([("type", "LayerNorm"), ("normalized_shape", c.d_model), ("eps", c.final_norm)])
            if c.dtype != "float32":
                norm["dtype"] = c.dtype
            m["norm"] = norm
    elif c.kind == "Transformer":
        o = layer_options(c, False, c.kind)
        m = OrderedDict([("type", "Transformer"), ("d_model", c.d_model), ("nhead", c.nhead),
                         ("num_encoder_layers", c.enc), ("num_decoder_layers", c.dec)])
        for k, v in o.items():
            if k not in m:
                m[k] = v
    elif c.kind == "Linear":
        m = OrderedDict([("type", "Linear"), ("in_features", c.in_f), ("out_features", c.out_f)])
        if not c.bias:
            m["bias"] = False
        if c.dtype != "float32" or c.spec_dtype:
            m["dtype"] = c.dtype
    elif c.kind == "LayerNorm":
        m = OrderedDict([("type", "LayerNorm"), ("normalized_shape", c.normalized_shape)])
        if c.eps != 1e-5:
            m["eps"] = c.eps
        if not c.affine:
            m["elementwise_affine"] = False
        if not c.bias:
            m["bias"] = False
        if c.dtype != "float32":
            m["dtype"] = c.dtype
    else:
        m = OrderedDict([("type", "Embedding"), ("num_embeddings", c.num), ("embedding_dim", c.dim)])
        if c.padding_idx is not None:
            m["padding_idx"] = c.padding_idx
        if c.dtype != "float32":
            m["dtype"] = c.dtype
    if has_params:
        m["weights"] = npz
        if c.prefix:
            m["prefix"] = c.prefix
    return m


def make_spec(c, npz, inputs, spec_causal, has_params):
    spec = OrderedDict([("module", module_spec(c, npz, has_params))])
    for arg in ARGUMENTS[c.kind]:
        if arg in spec_causal:
            n = inputs[arg].shape[0]
            spec[arg] = OrderedDict([("causal", [n, n])])
        elif arg in inputs:
            spec[arg] = OrderedDict([("file", npz), ("key", arg)])
        elif arg in c.flags:
            spec[arg] = c.flags[arg]
    return spec


# ---------------------------------------------------------------------------------------------
# Running and writing
# ---------------------------------------------------------------------------------------------

def max_abs_diff(a, b):
    a = a.detach().to(torch.float64)
    b = b.detach().to(torch.float64)
    assert a.shape == b.shape
    assert not torch.isnan(a).any() and not torch.isnan(b).any()
    return float((a - b).abs().max()) if a.numel() else 0.0


def nested_path_applies(c, inputs):
    """Would 2.x's TransformerEncoder take the nested-tensor path under no_grad?"""
    if c.kind == "TransformerEncoder":
        mask, kpm = inputs.get("mask"), inputs.get("src_key_padding_mask")
    elif c.kind == "Transformer":
        mask, kpm = inputs.get("src_mask"), inputs.get("src_key_padding_mask")
    else:
        return False
    if not c.batch_first or c.norm_first or c.nhead % 2 or c.N is None or kpm is None or mask is not None:
        return False
    valid = ~kpm if kpm.dtype == torch.bool else ~torch.isneginf(kpm)
    # left aligned: every row is True...True False...False
    return bool(all(torch.equal(r, torch.sort(r.to(torch.int8), descending=True)[0].bool()) for r in valid))


def run_case(c):
    torch.manual_seed(hash_name(c.name))
    dt = DTYPES[c.dtype]
    module = make_module(c)
    zero_biases = not c.bias and c.kind != "Linear"
    randomise(module, zero_biases, c.zero_padding_row)
    module.eval()
    for p in module.parameters():
        assert p.requires_grad
    inputs, spec_causal = make_inputs(c)

    assert torch.is_grad_enabled()
    out, notes = call_113(c, module, inputs, dt)
    assert out.dtype == dt and not torch.isnan(out).any()

    # the state_dict 2.x has: bias=False drops the biases
    sd = OrderedDict((k, v.detach().clone()) for k, v in module.state_dict().items())
    if zero_biases:
        for k in list(sd):
            if is_removed_bias(k):
                assert (sd[k] == 0).all()
                del sd[k]
    ref = Reference2x(c, OrderedDict((k, v.numpy()) for k, v in sd.items()))
    expected_ref = ref(inputs)
    ref_diff = max_abs_diff(out, expected_ref)
    limit = 1e-12 if c.dtype == "float64" else TOLERANCE["float32"]
    assert ref_diff <= limit, "{}: 1.13 and the 2.x reference differ by {:.3g}".format(c.name, ref_diff)
    if c.kind in LAYER_KINDS:
        assert ref.rows_checked > 0

    f32_diff = None
    if c.dtype == "float32":
        m64 = copy.deepcopy(module).double()
        out64, _ = call_113(c, m64, inputs, torch.float64)
        assert out64.dtype == torch.float64
        f32_diff = max_abs_diff(out, out64)
        assert max_abs_diff(out64, expected_ref) <= 1e-12, c.name

    # the file: inputs, state_dict (under the prefix, inside a parent model), expected output
    arrays = OrderedDict()
    for k, v in inputs.items():
        if k not in spec_causal:
            arrays[k] = v.numpy()
    if c.prefix:
        parent = Parent(module, c.d_model, dt)
        with torch.no_grad():
            parent.embed.weight.copy_(torch.randn_like(parent.embed.weight))
            parent.head.weight.copy_(torch.randn_like(parent.head.weight))
            parent.head.bias.copy_(torch.randn_like(parent.head.bias))
        full = parent.state_dict()
        for k, v in full.items():
            if k.startswith(c.prefix) and k[len(c.prefix):] not in sd:
                continue        # a zero bias of the emulated bias=False
            arrays[k] = v.detach().numpy()
        assert sum(k.startswith(c.prefix) for k in arrays) == len(sd)
    else:
        for k, v in sd.items():
            arrays[k] = v.numpy()
    arrays["expected.output"] = out.detach().numpy()

    # notes
    if c.explicit:
        notes.append(NOTE_EXPLICIT)
    if zero_biases:
        notes.append(NOTE_LN_BIAS if c.kind == "LayerNorm" else NOTE_BIAS)
    if c.kind in LAYER_KINDS:
        given = list(c.flags)
        if given:
            notes.append(NOTE_IS_CAUSAL.format(flags=", ".join(
                "{}={}".format(k, "True" if c.flags[k] else "False") for k in given)))
        detect = {"TransformerEncoder": [("mask", "is_causal")],
                  "TransformerDecoder": [("tgt_mask", "tgt_is_causal")],
                  "Transformer": [("src_mask", "src_is_causal"), ("tgt_mask", "tgt_is_causal")]}
        for arg, flag in detect.get(c.kind, []):
            if flag not in c.flags and arg in inputs:
                mask = inputs[arg]
                if Reference2x.detect_causal(mask, None, mask.shape[-1]):
                    notes.append(NOTE_DETECT.format(arg=arg, flag=flag))
        if nested_path_applies(c, inputs):
            notes.append(NOTE_NESTED)
    return arrays, inputs, spec_causal, list(sd.keys()), notes, f32_diff, ref_diff


def fmt(x):
    return float("{:.3g}".format(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "forward_transformer"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    cases = build_cases()
    index_cases = []
    written = set()
    coverage = Counter()
    key_examples = OrderedDict()
    f32_diffs = []
    for c in cases:
        npz = c.name + ".npz"
        arrays, inputs, spec_causal, sd_keys, notes, f32_diff, ref_diff = run_case(c)
        save_npz(os.path.join(args.out, npz), arrays)
        spec = make_spec(c, npz, inputs, spec_causal, bool(sd_keys))
        with open(os.path.join(args.out, c.name + ".json"), "w") as fh:
            fh.write(json.dumps(spec, indent=2) + "\n")
        written.update((npz, c.name + ".json"))

        entry = OrderedDict([("name", c.name), ("module", c.kind), ("dtype", c.dtype),
                             ("fully_masked", False), ("tolerance", TOLERANCE[c.dtype])])
        if f32_diff is not None:
            entry["float32_vs_float64"] = fmt(f32_diff)
            f32_diffs.append((f32_diff, c.name))
        entry["vs_reference_2x"] = fmt(ref_diff)
        if notes:
            entry["note_2x"] = notes
        index_cases.append(entry)
        key_examples.setdefault(c.kind, sd_keys)

        coverage[c.kind] += 1
        coverage[c.dtype] += 1
        if c.kind in LAYER_KINDS:
            coverage["batch_first" if c.batch_first else "seq first"] += 1
            coverage["norm_first" if c.norm_first else "post-norm"] += 1
            coverage["activation " + c.activation] += 1
            if c.N is None:
                coverage["unbatched"] += 1
            if not c.bias:
                coverage["bias=False"] += 1
            for arg, kind in c.masks.items():
                coverage["mask kind " + kind] += 1
            for flag, v in c.flags.items():
                coverage["{}={}".format(flag, v)] += 1
        if c.prefix:
            coverage["prefix"] += 1

    header = OrderedDict([
        ("generator", GENERATOR), ("torch_version", torch.__version__),
        ("tolerance", "max abs difference allowed: 1e-5 for float32 cases, 1e-10 for float64 "
                      "(tests/forward_test.cpp); float32_vs_float64 is max |PyTorch float32 - PyTorch "
                      "float64| on the same parameters and inputs, vs_reference_2x max |expected - an "
                      "independent float64 re-implementation of 2.x's forward|"),
        ("note_2x", GLOBAL_NOTES_2X)])
    write_index(args.out, header, index_cases)
    written.add("index.json")
    remove_stale(args.out, written)

    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in written)
    print("wrote {} cases ({} files, {} bytes) to {}".format(len(cases), len(written), total, args.out))
    for k, v in sorted(coverage.items()):
        print("  {:45s} {}".format(k, v))
    f32_diffs.sort(reverse=True)
    print("float32 vs float64 max abs difference: worst {:.3g} ({}), median {:.3g}".format(
        f32_diffs[0][0], f32_diffs[0][1], f32_diffs[len(f32_diffs) // 2][0]))
    for kind, keys in key_examples.items():
        print("  {}: {}".format(kind, ", ".join(keys)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
