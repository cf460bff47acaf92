#!/usr/bin/python3
"""Generate PyTorch ground-truth fixtures for mhacheck's nn.Transformer* / Linear / LayerNorm / Embedding rules.

Writes tests/pytorch/transformer_cases.json (one case per line), for the modules
nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.TransformerEncoder, nn.TransformerDecoder,
nn.Transformer, nn.Linear, nn.LayerNorm and nn.Embedding.

How an expectation is made
--------------------------
mhacheck follows PyTorch 2.x; the installed PyTorch is 1.13 (Debian's python3-torch).  Every case is
evaluated twice, on the SAME input tensors (masks included: a plain mask is random and never causal,
a {"causal": [T, T]} mask is exactly generate_square_subsequent_mask(T)):

  1. `expect_2x`: a replay of 2.x's forward logic, one documented class per module
     (`TransformerEncoderLayer2x`, `TransformerDecoderLayer2x`, `TransformerEncoder2x`,
     `TransformerDecoder2x`, `Transformer2x`, `Linear2x`, `LayerNorm2x`, `Embedding2x`: constructor and
     forward in 2.x's order of operations, read from 2.x's transformer.py, see the class docstrings).
     The replay runs on real 1.13 tensors: LayerNorm, Linear, Embedding, activations, residual adds,
     torch.Size indexing, ModuleList indexing and torch.full/triu (causal-mask detection) are real 1.13
     calls, so their messages are PyTorch's own.  Each attention sub-call
     (self_attn(x, x, x, ...) with one tensor for q, k, v; multihead_attn(x, mem, mem, ...) with one
     tensor for k and v; always need_weights=False) is turned into a nn.MultiheadAttention flat spec and
     handed to gen_mha_cases.expect_pytorch2x, which replays 2.x's MultiheadAttention on top of 1.13;
     the masks in that spec carry their dtypes AFTER the layer's canonicalisation (where 2.x
     canonicalises), and the attention output is a tensor of the shape and dtype it predicts.
  2. `run_113`: the real 1.13 module (training mode as constructed, grad enabled: the slow path), built
     from the same spec.  1.13 has no `bias` option on the transformer layers, nn.Transformer and
     nn.LayerNorm: such modules are built and their biases removed by hand (MultiheadAttention and
     Linear rebuilt with bias=False, LayerNorm.bias set to None), which is what 2.x builds.  1.13 has no
     is_causal arguments: they are left out of the 1.13 call.

Whenever the replay took no 2.x-specific branch (no mask canonicalised, no causal detection with a
mask, no is_causal hint, no 2.x-only dtype / rank message, no note from expect_pytorch2x), the two
must agree exactly (verdict, output shape and dtype, error type and message, mask-mismatch warnings),
or the script stops.  When they differ, the replay must have recorded why (else the script stops), and
the case carries a "pytorch_2x" note saying so and quoting what 1.13 did.  "synthesized" is true when
the expected error message was written by this script rather than raised by a real torch call (1.13's
own run, or a real call inside the replay).

2.x behaviours applied on top of 1.13 (each case that depends on one says so in "pytorch_2x")
-----------------------------------------------------------------------------------------------
  T1  `bias` option (2.1+) on TransformerEncoderLayer / TransformerDecoderLayer / Transformer /
      LayerNorm: every Linear, MultiheadAttention and LayerNorm inside is built without bias (1.13:
      TypeError: __init__() got an unexpected keyword argument 'bias').
  T2  is_causal arguments (TransformerEncoderLayer.is_causal, TransformerDecoderLayer.tgt_is_causal /
      memory_is_causal, TransformerEncoder.is_causal, TransformerDecoder.tgt_is_causal /
      memory_is_causal, Transformer.src_is_causal / tgt_is_causal / memory_is_causal) do not exist in
      1.13; they reach MultiheadAttention's is_causal (see gen_mha_cases: is_causal=True without
      attn_mask is an error; with need_weights=False and no key_padding_mask the attn_mask is dropped
      unchecked).
  T3  TransformerEncoderLayer.forward and TransformerEncoder.forward start with F._canonical_mask:
      key_padding_mask first (against the attention mask's raw dtype), then the attention mask; a dtype
      that is neither bool nor floating is AssertionError "only bool and floating types of {name} are
      supported" with name src_key_padding_mask / src_mask (layer) and src_key_padding_mask / mask
      (encoder); different dtypes of the two masks warn "Support for mismatched {kpm name} and {mask name}
      is deprecated. Use same type for both instead."; a bool mask becomes a float mask of src's dtype
      (0 / -inf).  1.13 checked only the key_padding_mask dtype ("... of key_padding_mask ...") and
      passed raw masks on.  TransformerDecoderLayer / TransformerDecoder / Transformer do not
      canonicalise: raw masks reach MultiheadAttention, whose 2.x checks name key_padding_mask /
      attn_mask.
  T4  TransformerEncoder.forward: masks canonicalised, then self.layers[0] (0 layers: IndexError "index
      0 is out of range"), _get_seq_len(src, batch_first) (torch.Size indexing: a 1-D src with
      batch_first is IndexError "tuple index out of range"), then _detect_is_causal_mask(mask,
      is_causal, seq_len).  TransformerDecoder.forward: self.layers[0] (1.13's decoder with 0 layers
      just returned tgt / norm(tgt)), _get_seq_len(tgt, ...), _detect_is_causal_mask(tgt_mask,
      tgt_is_causal, seq_len).  Detection (is_causal None and a mask given) builds
      triu(torch.full((n, n), -inf, dtype=mask.dtype), 1): an integer mask fails there with torch.full's
      RuntimeError "value cannot be converted to type int64_t without overflow" (uint8_t, int, ...)
      before any layer runs; an (n, n) mask equal to the causal mask gives is_causal=True (only the
      {"causal": [n, n]} generator does; random masks never do).
  T5  nn.Transformer.forward: the batch / feature checks are the same code in 1.13 and 2.x (replayed
      line by line, with real src.size(i) / tgt.size(i) calls, so a 1-D src or tgt gives the real
      IndexError "Dimension out of range (expected to be in range of [-1, 0], but got 1)"); encoder and
      decoder as T3/T4, with src_is_causal and tgt_is_causal None by default.
  T6  MultiheadAttention sub-calls: gen_mha_cases.expect_pytorch2x (2.x mask canonicalisation and
      warnings, is_causal, key_padding_mask messages, F.linear dtype messages, SDPA's attn_mask dtype
      check when need_weights=False: a float64 mask with a float32 query is an error, a float32 mask
      with any query is not; embed_dim / num_heads <= 0 is ValueError in the constructor).
  T7  nn.LayerNorm on CPU (2.x layer_norm_cpu): when the first defined parameter's dtype differs from
      the input's, the mixed-dtype check comes FIRST (before the shape check): a parameter that is not
      float32 -> RuntimeError "mixed dtype (CPU): expect parameter to have scalar type of Float"; else an
      input that is not float16/bfloat16 -> "mixed dtype (CPU): all inputs must share same datatype."
      (1.13: shape check first, then "expected scalar type Double but found Float").  Shape messages
      are 1.13's (unchanged).  Cases with float16/bfloat16 inputs to LayerNorm are not generated.
  T8  F.linear (2.x at::linear): a 0-D input is RuntimeError "both arguments to linear need to be at
      least 1D, but they are 0D and 2D" (1.13: "... to matmul ..."); with bias and a contiguous input of
      any rank the input is flattened to 2-D and goes to addmm, which checks dtypes before shapes:
      "mat1 and mat2 must have the same dtype, but got Double and Float"; without bias, matmul -> mm
      checks the shape first, then "expected m1 and m2 to have the same dtype, but got: double !=
      float".  Shape messages ("mat1 and mat2 shapes cannot be multiplied (AxB and CxD)", A = product of
      the leading dims, 1 for a 1-D input) are the same in 1.13 for every rank and come from real calls.
  T9  nn.Embedding: no 2.x difference known (its message and padding_idx asserts are unchanged).

Messages this script is less sure of: T7's two texts and their order (read from 2.x source, not
run); T8's N-D flattening for ranks other than 3 (recent 2.x; the first 2.x releases flattened only 3-D
input and sent 1-D and >= 4-D input through matmul -> mm, whose dtype message is the mm one) and T8's
0-D message (recent 2.x); the key_padding_mask shape message of recent 2.x (from gen_mha_cases).
Calls whose 2.x outcome gen_mha_cases cannot pin down (it raises Skip, e.g. a float key_padding_mask
with a bool attn_mask reaching MultiheadAttention) are left out, and listed when the script runs.

Usage:  /usr/bin/python3 tests/pytorch/gen_transformer_cases.py [--out PATH]

Deterministic: a fixed seed drives every random choice and every tensor; the file only changes when
this script, gen_mha_cases.py or the installed PyTorch changes.  Only stdlib, torch and numpy are used.
"""

import argparse
import copy
import json
import os
import sys
import warnings
from collections import Counter, OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fixture_common import seed_everything  # noqa: E402
from fixture_common import DTYPES as COMMON_DTYPES, TYPEMETA_NAMES as COMMON_TYPEMETA_NAMES  # noqa: E402
from gen_mha_cases import Call, Skip, expect_pytorch2x  # noqa: E402
from gen_mha_cases import run_113 as mha_run_113  # noqa: E402

SEED = 20250412
GENERATOR = "tests/pytorch/gen_transformer_cases.py"

# fixture_common's tables plus int16 (an Embedding index dtype worth a case)
DTYPES = dict(COMMON_DTYPES, int16=torch.int16)
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
TYPEMETA_NAMES = dict(COMMON_TYPEMETA_NAMES, int16="short int")
# c10::ScalarType names, as addmm's dtype message prints them
SCALARTYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                    "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                    "bool": "Bool"}

MISMATCH_PREFIX = "Support for mismatched"

# constructor defaults (as PyTorch's); options equal to them are left out of specs
LAYER_DEFAULTS = OrderedDict([("dim_feedforward", 2048), ("dropout", 0.1), ("activation", "relu"),
                              ("layer_norm_eps", 1e-5), ("batch_first", False), ("norm_first", False),
                              ("bias", True), ("dtype", None)])
TRANSFORMER_DEFAULTS = OrderedDict([("d_model", 512), ("nhead", 8), ("num_encoder_layers", 6),
                                    ("num_decoder_layers", 6)] + list(LAYER_DEFAULTS.items()))
ENCODER_DEFAULTS = OrderedDict([("norm", None), ("enable_nested_tensor", True), ("mask_check", True)])
DECODER_DEFAULTS = OrderedDict([("norm", None)])
LINEAR_DEFAULTS = OrderedDict([("bias", True), ("dtype", None)])
LAYER_NORM_DEFAULTS = OrderedDict([("eps", 1e-5), ("elementwise_affine", True), ("bias", True), ("dtype", None)])
EMBEDDING_DEFAULTS = OrderedDict([("padding_idx", None), ("dtype", None)])

# forward arguments per module type, in the forward's order; "data" tensors, masks, flags
FORWARD_ARGS = {
    "TransformerEncoderLayer": ["src", "src_mask", "src_key_padding_mask", "is_causal"],
    "TransformerDecoderLayer": ["tgt", "memory", "tgt_mask", "memory_mask", "tgt_key_padding_mask",
                                "memory_key_padding_mask", "tgt_is_causal", "memory_is_causal"],
    "TransformerEncoder": ["src", "mask", "src_key_padding_mask", "is_causal"],
    "TransformerDecoder": ["tgt", "memory", "tgt_mask", "memory_mask", "tgt_key_padding_mask",
                           "memory_key_padding_mask", "tgt_is_causal", "memory_is_causal"],
    "Transformer": ["src", "tgt", "src_mask", "tgt_mask", "memory_mask", "src_key_padding_mask",
                    "tgt_key_padding_mask", "memory_key_padding_mask", "src_is_causal", "tgt_is_causal",
                    "memory_is_causal"],
    "Linear": ["input"], "LayerNorm": ["input"], "Embedding": ["input"],
}
FLAG_ARGS = ("is_causal", "tgt_is_causal", "memory_is_causal", "src_is_causal")
FLAG_DEFAULTS = {  # 2.x defaults; None means "detect a causal mask"
    "TransformerEncoderLayer": {"is_causal": False},
    "TransformerDecoderLayer": {"tgt_is_causal": False, "memory_is_causal": False},
    "TransformerEncoder": {"is_causal": None},
    "TransformerDecoder": {"tgt_is_causal": None, "memory_is_causal": False},
    "Transformer": {"src_is_causal": None, "tgt_is_causal": None, "memory_is_causal": False},
}


def is_mask_arg(name):
    return name.endswith("mask")


# ---------------------------------------------------------------------------------------------
# Spec construction helpers
# ---------------------------------------------------------------------------------------------

def T(shape, dtype="float32"):
    return OrderedDict([("shape", list(shape)), ("dtype", dtype)])


def causal(n):
    return OrderedDict([("causal", [n, n])])


def module(type_, required, defaults, opts):
    m = OrderedDict([("type", type_)])
    m.update(required)
    for k, v in opts.items():
        if k not in defaults:
            raise KeyError("{}: unknown option {}".format(type_, k))
    for k in defaults:
        if k in opts and opts[k] != defaults[k]:
            m[k] = opts[k]
    return m


def EL(d=8, h=2, dff=16, dropout=0.0, **opts):
    """A TransformerEncoderLayer spec (dim_feedforward and dropout always written)."""
    return module("TransformerEncoderLayer",
                  OrderedDict([("d_model", d), ("nhead", h), ("dim_feedforward", dff), ("dropout", dropout)]),
                  {k: v for k, v in LAYER_DEFAULTS.items() if k not in ("dim_feedforward", "dropout")}, opts)


def DL(d=8, h=2, dff=16, dropout=0.0, **opts):
    m = EL(d, h, dff, dropout, **opts)
    m["type"] = "TransformerDecoderLayer"
    return m


def ENC(layer, num_layers, **opts):
    m = module("TransformerEncoder", OrderedDict([("encoder_layer", layer), ("num_layers", num_layers)]),
               ENCODER_DEFAULTS, opts)
    return m


def DEC(layer, num_layers, **opts):
    return module("TransformerDecoder", OrderedDict([("decoder_layer", layer), ("num_layers", num_layers)]),
                  DECODER_DEFAULTS, opts)


def TR(d=8, h=2, ne=1, nd=1, dff=16, dropout=0.0, **opts):
    req = OrderedDict([("d_model", d), ("nhead", h), ("num_encoder_layers", ne), ("num_decoder_layers", nd),
                       ("dim_feedforward", dff), ("dropout", dropout)])
    return module("Transformer", req,
                  {k: v for k, v in TRANSFORMER_DEFAULTS.items() if k not in req}, opts)


def LIN(i, o, **opts):
    return module("Linear", OrderedDict([("in_features", i), ("out_features", o)]), LINEAR_DEFAULTS, opts)


def LN(shape, **opts):
    return module("LayerNorm", OrderedDict([("normalized_shape", shape)]), LAYER_NORM_DEFAULTS, opts)


def EMB(n, d, **opts):
    return module("Embedding", OrderedDict([("num_embeddings", n), ("embedding_dim", d)]), EMBEDDING_DEFAULTS, opts)


def spec_of(mod, **args):
    """A flat spec: the module, then the call arguments in the forward's order (None left out)."""
    order = FORWARD_ARGS[mod["type"]]
    for k in args:
        if k not in order:
            raise KeyError("{} has no argument {}".format(mod["type"], k))
    s = OrderedDict([("module", mod)])
    for k in order:
        if k in args and args[k] is not None:
            s[k] = args[k]
    return s


def sq(bf, L, N, E):
    """A batched sequence tensor's shape in the module's layout."""
    return (N, L, E) if bf else (L, N, E)


def opts_with_defaults(m, defaults):
    o = OrderedDict(defaults)
    for k in defaults:
        if k in m:
            o[k] = m[k]
    return o


def layer_opts(m):
    return opts_with_defaults(m, LAYER_DEFAULTS)


def hash_name(s):
    h = 0
    for ch in s:
        h = (h * 131 + ord(ch)) % 2147483647
    return h


# ---------------------------------------------------------------------------------------------
# Input tensors (shared by the 2.x replay and the 1.13 run)
# ---------------------------------------------------------------------------------------------

def make_tensors(spec):
    """Real tensors for the call arguments.  Masks: a plain mask is random with its first element
    set so that it is never the causal mask (True for bool, -1.0 for float); {"causal": [L, S]} is
    triu(full((L, S), -inf), 1), i.e. generate_square_subsequent_mask."""
    mod = spec["module"]
    out = {}
    for name in FORWARD_ARGS[mod["type"]]:
        if name in FLAG_ARGS or name not in spec:
            continue
        ts = spec[name]
        if "causal" in ts:
            L, S = ts["causal"]
            out[name] = torch.triu(torch.full((L, S), float("-inf")), diagonal=1)
            continue
        dt = DTYPES[ts["dtype"]]
        shape = tuple(ts["shape"])
        if is_mask_arg(name):
            if dt == torch.bool:
                t = torch.rand(shape) < 0.25
                if t.numel():
                    t.view(-1)[0] = True
            elif dt.is_floating_point:
                t = torch.where(torch.rand(shape) < 0.25, torch.tensor(-1.0), torch.tensor(0.0)).to(dt)
                if t.numel():
                    t.view(-1)[0] = -1.0
            else:
                t = (torch.rand(shape) < 0.25).to(dt)
            out[name] = t
        elif mod["type"] == "Embedding" and not dt.is_floating_point and dt != torch.bool:
            n = max(mod["num_embeddings"], 1)
            out[name] = torch.randint(0, n, shape).to(dt)
        elif dt.is_floating_point:
            out[name] = torch.randn(shape, dtype=torch.float32).to(dt)
        elif dt == torch.bool:
            out[name] = torch.rand(shape) < 0.5
        else:
            out[name] = torch.randint(0, 3, shape).to(dt)
    return out


def call_flags(spec):
    mod = spec["module"]
    flags = dict(FLAG_DEFAULTS.get(mod["type"], {}))
    for k in FLAG_ARGS:
        if k in spec:
            flags[k] = spec[k]
    return flags


# ---------------------------------------------------------------------------------------------
# The 2.x replay
# ---------------------------------------------------------------------------------------------

class Raised(Exception):
    """The exception 2.x raises first. `real`: the message was raised by a real torch call."""

    def __init__(self, exc_type, message, real):
        super().__init__(message)
        self.exc_type = exc_type
        self.message = message
        self.real = real


class Ctx:
    """What a replay records besides its result: mask-mismatch warnings in order, notes on the 2.x
    behaviours it relied on, and whether it took any 2.x-specific branch (`divergent`).  A "hard" note
    names a 2.x step that changed the outcome (an error, a warning, a different argument reaching a
    sub-module); a "soft" one a 2.x-only step that ran (quoted only when no hard note explains a
    difference)."""

    def __init__(self):
        self.warnings = []
        self.notes = []
        self.soft_notes = []
        self.divergent = False

    def note(self, text, hard=True):
        self.divergent = True
        notes = self.notes if hard else self.soft_notes
        if text not in notes:
            notes.append(text)

    def warn(self, text):
        self.warnings.append(text)


def real(fn, *args, **kw):
    """Run a real (1.13) torch call; its exception becomes the replay's, with the same type and text."""
    try:
        return fn(*args, **kw)
    except Exception as e:  # noqa: BLE001 - whatever PyTorch raises is the expectation
        raise Raised(type(e).__name__, str(e), real=True)


def dtype_name(t):
    return DTYPE_NAMES[t.dtype]


def canonical_mask_2x(ctx, mask, mask_name, other_type, other_name, target_type, check_other=True):
    """2.x F._canonical_mask (T3)."""
    if mask is None:
        return None
    ctx.note("2.x canonicalises {} with F._canonical_mask first (a bool mask becomes a float mask of src's "
             "dtype; 1.13 passed it on raw)".format(mask_name), hard=False)
    if mask.dtype != torch.bool and not torch.is_floating_point(mask):
        ctx.note("2.x's F._canonical_mask refuses {} of dtype {} before anything else".format(
            mask_name, dtype_name(mask)))
        raise Raised("AssertionError", "only bool and floating types of {} are supported".format(mask_name),
                     real=False)
    if check_other and other_type is not None and mask.dtype != other_type:
        ctx.warn("Support for mismatched {} and {} is deprecated. Use same type for both instead."
                 .format(mask_name, other_name))
        ctx.note("2.x warns that {} and {} have different dtypes (F._canonical_mask); 1.13 did not"
                 .format(mask_name, other_name))
    if not torch.is_floating_point(mask):
        mask = torch.zeros_like(mask, dtype=target_type).masked_fill_(mask, float("-inf"))
    return mask


def get_seq_len_2x(ctx, src, batch_first):
    """2.x _get_seq_len (T4): plain torch.Size indexing (a real IndexError when out of range)."""
    ctx.note("2.x reads the sequence length (_get_seq_len) before running the layers (1.13 has no such step)",
             hard=False)
    src_size = src.size()
    index = 0 if len(src_size) == 2 else (1 if batch_first else 0)
    try:
        return real(lambda: src_size[index])
    except Raised:
        ctx.note("2.x's _get_seq_len indexes src.size()[{}] (batch_first={}) before any layer runs".format(
            index, batch_first))
        raise


def detect_is_causal_2x(ctx, mask, is_causal, size):
    """2.x _detect_is_causal_mask (T4), with real torch.full / triu / comparison."""
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        ctx.note("2.x's _detect_is_causal_mask compares the mask with triu(torch.full((n, n), -inf, "
                 "dtype=mask.dtype), 1), n = the sequence length (1.13 has no such step)", hard=False)
        sz = size if size is not None else mask.size(-2)
        try:
            comparison = real(lambda: torch.triu(torch.full((sz, sz), float("-inf"), dtype=mask.dtype), diagonal=1))
        except Raised:
            ctx.note("2.x's _detect_is_causal_mask (is_causal None) builds torch.full((n, n), -inf, dtype=mask.dtype), "
                     "which fails for an integer mask before any layer runs")
            raise
        if mask.size() == comparison.size():
            make_causal = bool((mask == comparison).all())
        else:
            make_causal = False
        if make_causal:
            ctx.note("the mask is the causal mask: 2.x passes is_causal=True to the layers")
    return make_causal


def add_2x(x, y):
    """A residual add (real)."""
    return real(lambda: x + y)


_MHA_CACHE = {}


def mha_2x(ctx, who, opts, query, kv, attn_mask, key_padding_mask, is_causal):
    """One MultiheadAttention call of a layer: self_attn(x, x, x) when kv is None (one tensor for q, k, v),
    multihead_attn(x, mem, mem) otherwise (one tensor for k and v); need_weights=False.  The 2.x outcome
    comes from gen_mha_cases.expect_pytorch2x on the equivalent flat spec (T6); on success the output is
    a fresh tensor of the predicted shape and dtype."""
    c = Call(opts["d_model"], opts["nhead"], dropout=opts["dropout"], bias=opts["bias"],
             batch_first=opts["batch_first"], dtype=opts["dtype"] or "float32")
    if kv is None:
        c.set("qkv", tuple(query.shape), dtype_name(query))
    else:
        c.set("q", tuple(query.shape), dtype_name(query)).set("kv", tuple(kv.shape), dtype_name(kv))
    if attn_mask is not None:
        c.mask("attn_mask", tuple(attn_mask.shape), dtype_name(attn_mask))
    if key_padding_mask is not None:
        c.mask("key_padding_mask", tuple(key_padding_mask.shape), dtype_name(key_padding_mask))
    c.flag(need_weights=False, is_causal=bool(is_causal))
    spec = c.spec()
    key = json.dumps(spec, sort_keys=True)
    if key not in _MHA_CACHE:
        expect, ws, note = expect_pytorch2x(spec)  # may raise Skip
        real_113 = None
        if not expect["ok"]:
            real_113, _ = mha_run_113(spec)
        _MHA_CACHE[key] = (expect, ws, note, real_113)
    expect, ws, note, real_113 = _MHA_CACHE[key]
    for w in ws:
        if w.startswith(MISMATCH_PREFIX):
            ctx.warn(w)
    if note:
        ctx.note("{}: {}".format(who, note))
    if not expect["ok"]:
        is_real = (not real_113["ok"]) and real_113["error"] == expect["error"]
        raise Raised(expect["error"]["type"], expect["error"]["message"], real=is_real)
    out = expect["outputs"]["attn_output"]
    return torch.randn(out["shape"], dtype=torch.float32).to(DTYPES[out["dtype"]])


def mha_ctor_2x(ctx, d_model, nhead, opts):
    """2.x MultiheadAttention.__init__: embed_dim / num_heads <= 0 is a ValueError first (T6), then
    1.13's own constructor (the divisibility assert)."""
    if d_model <= 0 or nhead <= 0:
        ctx.note("2.x's MultiheadAttention constructor rejects embed_dim <= 0 or num_heads <= 0 with a ValueError")
        raise Raised("ValueError", "embed_dim and num_heads must be greater than 0, got embed_dim={} and "
                     "num_heads={} instead".format(d_model, nhead), real=False)
    real(nn.MultiheadAttention, d_model, nhead, dropout=opts["dropout"], bias=opts["bias"],
         batch_first=opts["batch_first"], dtype=DTYPES[opts["dtype"]] if opts["dtype"] else None)


def activation_2x(name):
    """_get_activation_fn (same text in 1.13 and 2.x)."""
    return real(torch.nn.modules.transformer._get_activation_fn, name)


class LayerNorm2x:
    """nn.LayerNorm in 2.x: LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype).

    Constructor: 1.13's (real), then bias=False (2.1+) drops the bias parameter (T1).
    Forward (CPU layer_norm_cpu, T7): mixed-dtype check first (when the first defined parameter's dtype
    differs from the input's), then the shape check and computation (real 1.13 F.layer_norm)."""

    def __init__(self, ctx, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        self.m = real(nn.LayerNorm, normalized_shape, eps=eps, elementwise_affine=elementwise_affine,
                      dtype=DTYPES[dtype] if dtype else None)
        if not bias and elementwise_affine:
            self.m.bias = None

    @classmethod
    def from_spec(cls, ctx, m):
        assert m["type"] == "LayerNorm", m
        o = opts_with_defaults(m, LAYER_NORM_DEFAULTS)
        return cls(ctx, m["normalized_shape"], o["eps"], o["elementwise_affine"], o["bias"], o["dtype"])

    def forward(self, ctx, input):
        x = input
        params = [p for p in (self.m.weight, self.m.bias) if p is not None]
        if params and params[0].dtype != x.dtype:
            ctx.note("2.x's CPU layer_norm checks mixed dtypes before the shape (1.13: shape first, then "
                     "'expected scalar type ...')")
            for p in (self.m.weight, self.m.bias):
                if p is not None and p.dtype != torch.float32:
                    raise Raised("RuntimeError", "mixed dtype (CPU): expect parameter to have scalar type of Float",
                                 real=False)
            if x.dtype not in (torch.float16, torch.bfloat16):
                raise Raised("RuntimeError", "mixed dtype (CPU): all inputs must share same datatype.", real=False)
            raise Skip("reduced-precision input to a float32 LayerNorm: 2.x's mixed path is not replayed")
        return real(F.layer_norm, x, self.m.normalized_shape, self.m.weight, self.m.bias, self.m.eps)


def linear_2x(ctx, weight, bias, x):
    """2.x F.linear / at::linear (T8) with real 1.13 calls for everything 1.13 does the same way."""
    if x.dim() == 0:
        ctx.note("2.x's at::linear refuses a 0-D input itself ('both arguments to linear ...'; 1.13 failed in matmul)")
        raise Raised("RuntimeError", "both arguments to linear need to be at least 1D, but they are 0D and {}D"
                     .format(weight.dim()), real=False)
    xd, wd = dtype_name(x), dtype_name(weight)
    rows = 1
    for s in x.shape[:-1]:
        rows *= s
    if bias is not None and (x.dim() == 2 or x.is_contiguous()):
        # addmm(bias, x viewed as (rows, K), weight.t()): ADDMM_META checks dtypes, then shapes
        if xd != wd:
            ctx.note("2.x's F.linear (bias, contiguous input of any rank) goes to addmm, which checks dtypes "
                     "first and names them")
            raise Raised("RuntimeError", "mat1 and mat2 must have the same dtype, but got {} and {}".format(
                SCALARTYPE_NAMES[xd], SCALARTYPE_NAMES[wd]), real=False)
        flat = real(torch.addmm, bias, x.reshape(rows, x.shape[-1]), weight.t())
        return flat.view(tuple(x.shape[:-1]) + (flat.shape[1],))
    # matmul(x, weight.t()) (-> mm: shape check in the meta function, dtype check in the CPU kernel)
    out = real(torch.matmul, x.to(weight.dtype), weight.t())
    if xd != wd:
        ctx.note("2.x's F.linear without bias goes through matmul -> mm, which checks the shape, then the dtype")
        raise Raised("RuntimeError", "expected m1 and m2 to have the same dtype, but got: {} != {}".format(
            TYPEMETA_NAMES[xd], TYPEMETA_NAMES[wd]), real=False)
    if bias is not None:
        out = real(lambda: out + bias)
    return out


class Linear2x:
    """nn.Linear(in_features, out_features, bias=True, dtype): constructor as 1.13 (real); forward is
    linear_2x (T8)."""

    def __init__(self, ctx, in_features, out_features, bias=True, dtype=None):
        self.m = real(nn.Linear, in_features, out_features, bias=bias, dtype=DTYPES[dtype] if dtype else None)

    @classmethod
    def from_spec(cls, ctx, m):
        o = opts_with_defaults(m, LINEAR_DEFAULTS)
        return cls(ctx, m["in_features"], m["out_features"], o["bias"], o["dtype"])

    def forward(self, ctx, input):
        return linear_2x(ctx, self.m.weight, self.m.bias, input)


class Embedding2x:
    """nn.Embedding(num_embeddings, embedding_dim, padding_idx=None, dtype): identical in 1.13 and 2.x
    (T9): the real 1.13 constructor (padding_idx asserts) and forward (index dtype check)."""

    def __init__(self, ctx, m):
        o = opts_with_defaults(m, EMBEDDING_DEFAULTS)
        self.m = real(nn.Embedding, m["num_embeddings"], m["embedding_dim"], padding_idx=o["padding_idx"],
                      dtype=DTYPES[o["dtype"]] if o["dtype"] else None)

    def forward(self, ctx, input):
        return real(self.m, input)


class TransformerEncoderLayer2x:
    """nn.TransformerEncoderLayer in 2.x (slow path: training mode / grad enabled).

    __init__(d_model, nhead, dim_feedforward=2048, dropout=0.1, activation, layer_norm_eps=1e-5,
             batch_first=False, norm_first=False, bias=True, dtype):
      self_attn = MHA(d_model, nhead, dropout, bias, batch_first)   (T6: ValueError / divisibility assert)
      linear1 = Linear(d_model, dim_feedforward, bias); dropout; linear2 = Linear(dim_feedforward, d_model, bias)
      norm1, norm2 = LayerNorm(d_model, eps, bias)                  (T1)
      activation string -> _get_activation_fn (RuntimeError "activation should be relu/gelu, not X")
    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False):
      kpm = _canonical_mask(kpm, "src_key_padding_mask", other_type=dtype of src_mask, "src_mask", src.dtype)
      src_mask = _canonical_mask(src_mask, "src_mask", None, "", src.dtype, check_other=False)   (T3)
      norm_first: x = x + sa(norm1(x)); x = x + ff(norm2(x))
      else:       x = norm1(x + sa(x));   x = norm2(x + ff(x))
      sa(x) = self_attn(x, x, x, attn_mask=src_mask, key_padding_mask=kpm, need_weights=False, is_causal)
      ff(x) = linear2(dropout(activation(linear1(x))))
    """

    def __init__(self, ctx, m):
        assert m["type"] == "TransformerEncoderLayer", m
        self.o = o = layer_opts(m)
        o["d_model"], o["nhead"] = m["d_model"], m["nhead"]
        self.build_common(ctx, o, n_attn=1, n_norm=2)

    def build_common(self, ctx, o, n_attn, n_norm):
        d = o["d_model"]
        for _ in range(n_attn):
            mha_ctor_2x(ctx, d, o["nhead"], o)
        self.linear1 = Linear2x(ctx, d, o["dim_feedforward"], o["bias"], o["dtype"])
        real(nn.Dropout, o["dropout"])
        self.linear2 = Linear2x(ctx, o["dim_feedforward"], d, o["bias"], o["dtype"])
        self.norms = [LayerNorm2x(ctx, d, o["layer_norm_eps"], True, o["bias"], o["dtype"]) for _ in range(n_norm)]
        self.activation = activation_2x(o["activation"])
        self.norm_first = o["norm_first"]
        self.batch_first = o["batch_first"]

    def ff(self, ctx, x):
        h = self.linear1.forward(ctx, x)
        h = real(self.activation, h)
        return self.linear2.forward(ctx, h)

    def forward(self, ctx, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        kpm = canonical_mask_2x(ctx, src_key_padding_mask, "src_key_padding_mask",
                                None if src_mask is None else src_mask.dtype, "src_mask", src.dtype)
        src_mask = canonical_mask_2x(ctx, src_mask, "src_mask", None, "", src.dtype, check_other=False)
        norm1, norm2 = self.norms

        def sa(x):
            return mha_2x(ctx, "self_attn", self.o, x, None, src_mask, kpm, is_causal)

        x = src
        if self.norm_first:
            x = add_2x(x, sa(norm1.forward(ctx, x)))
            x = add_2x(x, self.ff(ctx, norm2.forward(ctx, x)))
        else:
            x = norm1.forward(ctx, add_2x(x, sa(x)))
            x = norm2.forward(ctx, add_2x(x, self.ff(ctx, x)))
        return x


class TransformerDecoderLayer2x(TransformerEncoderLayer2x):
    """nn.TransformerDecoderLayer in 2.x (slow path).

    __init__: self_attn, multihead_attn = MHA(d_model, nhead, dropout, bias, batch_first) (T6);
      linear1, dropout, linear2; norm1, norm2, norm3 = LayerNorm(d_model, eps, bias) (T1); activation.
    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
            memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
      NO mask canonicalisation here: the raw masks reach MultiheadAttention (its own 2.x checks, T6).
      norm_first: x = x + sa(norm1(x)); x = x + mha(norm2(x), memory); x = x + ff(norm3(x))
      else:       x = norm1(x + sa(x));   x = norm2(x + mha(x, memory));   x = norm3(x + ff(x))
      sa(x)       = self_attn(x, x, x, tgt_mask, tgt_key_padding_mask, is_causal=tgt_is_causal)
      mha(x, mem) = multihead_attn(x, mem, mem, memory_mask, memory_key_padding_mask, is_causal=memory_is_causal)
    """

    def __init__(self, ctx, m):
        assert m["type"] == "TransformerDecoderLayer", m
        self.o = o = layer_opts(m)
        o["d_model"], o["nhead"] = m["d_model"], m["nhead"]
        self.build_common(ctx, o, n_attn=2, n_norm=3)

    def forward(self, ctx, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        norm1, norm2, norm3 = self.norms

        def sa(x):
            return mha_2x(ctx, "self_attn", self.o, x, None, tgt_mask, tgt_key_padding_mask, tgt_is_causal)

        def mha(x):
            return mha_2x(ctx, "multihead_attn", self.o, x, memory, memory_mask, memory_key_padding_mask,
                          memory_is_causal)

        x = tgt
        if self.norm_first:
            x = add_2x(x, sa(norm1.forward(ctx, x)))
            x = add_2x(x, mha(norm2.forward(ctx, x)))
            x = add_2x(x, self.ff(ctx, norm3.forward(ctx, x)))
        else:
            x = norm1.forward(ctx, add_2x(x, sa(x)))
            x = norm2.forward(ctx, add_2x(x, mha(x)))
            x = norm3.forward(ctx, add_2x(x, self.ff(ctx, x)))
        return x


def first_layer_2x(layers):
    """self.layers[0] on the ModuleList of clones (a real ModuleList, for its IndexError)."""
    placeholder = nn.ModuleList([nn.Identity() for _ in layers])
    real(lambda: placeholder[0])
    return layers[0]


class TransformerEncoder2x:
    """nn.TransformerEncoder in 2.x (slow path).

    __init__(encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
      the layer (and the norm) are constructed by the caller first; num_layers deep copies (none when
      num_layers <= 0).  The nested-tensor options only matter on the fast path.
    forward(src, mask=None, src_key_padding_mask=None, is_causal=None):        (T3, T4)
      kpm = _canonical_mask(kpm, "src_key_padding_mask", dtype of mask, "mask", src.dtype)
      mask = _canonical_mask(mask, "mask", None, "", src.dtype, check_other=False)
      first_layer = self.layers[0]                          (IndexError "index 0 is out of range")
      seq_len = _get_seq_len(src, first_layer.self_attn.batch_first)
      is_causal = _detect_is_causal_mask(mask, is_causal, seq_len)
      each layer: output = layer(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=kpm)
      output = norm(output) if norm
    """

    def __init__(self, ctx, m):
        assert m["type"] == "TransformerEncoder", m
        layer = TransformerEncoderLayer2x(ctx, m["encoder_layer"])
        self.norm = LayerNorm2x.from_spec(ctx, m["norm"]) if m.get("norm") else None
        self.layers = [layer] * max(m["num_layers"], 0)

    @classmethod
    def built(cls, layer, num_layers, norm):
        self = cls.__new__(cls)
        self.layers, self.norm = [layer] * max(num_layers, 0), norm
        return self

    def forward(self, ctx, src, mask=None, src_key_padding_mask=None, is_causal=None):
        kpm = canonical_mask_2x(ctx, src_key_padding_mask, "src_key_padding_mask",
                                None if mask is None else mask.dtype, "mask", src.dtype)
        mask = canonical_mask_2x(ctx, mask, "mask", None, "", src.dtype, check_other=False)
        first = first_layer_2x(self.layers)
        seq_len = get_seq_len_2x(ctx, src, first.batch_first)
        is_causal = detect_is_causal_2x(ctx, mask, is_causal, seq_len)
        out = src
        for layer in self.layers:
            out = layer.forward(ctx, out, src_mask=mask, src_key_padding_mask=kpm, is_causal=is_causal)
        if self.norm is not None:
            out = self.norm.forward(ctx, out)
        return out


class TransformerDecoder2x:
    """nn.TransformerDecoder in 2.x (slow path).

    __init__(decoder_layer, num_layers, norm=None): num_layers deep copies.
    forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
            tgt_is_causal=None, memory_is_causal=False):                      (T4)
      seq_len = _get_seq_len(tgt, self.layers[0].self_attn.batch_first)   (layers[0] first: IndexError)
      tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)   (raw tgt_mask dtype)
      each layer(output, memory, all masks, tgt_is_causal, memory_is_causal); then norm
    """

    def __init__(self, ctx, m):
        assert m["type"] == "TransformerDecoder", m
        layer = TransformerDecoderLayer2x(ctx, m["decoder_layer"])
        self.norm = LayerNorm2x.from_spec(ctx, m["norm"]) if m.get("norm") else None
        self.layers = [layer] * max(m["num_layers"], 0)

    @classmethod
    def built(cls, layer, num_layers, norm):
        self = cls.__new__(cls)
        self.layers, self.norm = [layer] * max(num_layers, 0), norm
        return self

    def forward(self, ctx, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        if not self.layers:
            ctx.note("2.x's TransformerDecoder reads self.layers[0] first (1.13's decoder did not: with no layers it "
                     "returned tgt, normed if a norm was given)")
        first = first_layer_2x(self.layers)
        seq_len = get_seq_len_2x(ctx, tgt, first.batch_first)
        tgt_is_causal = detect_is_causal_2x(ctx, tgt_mask, tgt_is_causal, seq_len)
        out = tgt
        for layer in self.layers:
            out = layer.forward(ctx, out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                                tgt_key_padding_mask=tgt_key_padding_mask,
                                memory_key_padding_mask=memory_key_padding_mask,
                                tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            out = self.norm.forward(ctx, out)
        return out


class Transformer2x:
    """nn.Transformer in 2.x (no custom encoder / decoder).

    __init__(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
             dropout=0.1, activation, layer_norm_eps, batch_first, norm_first, bias, dtype):
      encoder_layer = TransformerEncoderLayer(...); encoder_norm = LayerNorm(d_model, eps, bias);
      encoder = TransformerEncoder(encoder_layer, num_encoder_layers, encoder_norm); decoder likewise;
      _reset_parameters (xavier_uniform_, no checks).
    forward(src, tgt, src_mask, tgt_mask, memory_mask, src_kpm, tgt_kpm, memory_kpm,
            src_is_causal=None, tgt_is_causal=None, memory_is_causal=False):      (T5)
      is_batched = src.dim() == 3
      not batch_first and src.size(1) != tgt.size(1) and is_batched -> RuntimeError("the batch number of
        src and tgt must be equal")   (src.size(1) / tgt.size(1) evaluated first: IndexError on 1-D)
      batch_first and src.size(0) != tgt.size(0) and is_batched -> the same RuntimeError
      src.size(-1) != d_model or tgt.size(-1) != d_model -> RuntimeError("the feature number of src and
        tgt must be equal to d_model")
      memory = encoder(src, mask=src_mask, src_key_padding_mask=src_kpm, is_causal=src_is_causal)
      output = decoder(tgt, memory, tgt_mask, memory_mask, tgt_kpm, memory_kpm, tgt_is_causal, memory_is_causal)
    """

    def __init__(self, ctx, m):
        assert m["type"] == "Transformer", m
        o = opts_with_defaults(m, TRANSFORMER_DEFAULTS)
        self.o = o
        layer_kw = {k: o[k] for k in LAYER_DEFAULTS}
        enc_layer = TransformerEncoderLayer2x(ctx, dict(layer_kw, type="TransformerEncoderLayer",
                                                        d_model=o["d_model"], nhead=o["nhead"]))
        enc_norm = LayerNorm2x(ctx, o["d_model"], o["layer_norm_eps"], True, o["bias"], o["dtype"])
        self.encoder = TransformerEncoder2x.built(enc_layer, o["num_encoder_layers"], enc_norm)
        dec_layer = TransformerDecoderLayer2x(ctx, dict(layer_kw, type="TransformerDecoderLayer",
                                                        d_model=o["d_model"], nhead=o["nhead"]))
        dec_norm = LayerNorm2x(ctx, o["d_model"], o["layer_norm_eps"], True, o["bias"], o["dtype"])
        self.decoder = TransformerDecoder2x.built(dec_layer, o["num_decoder_layers"], dec_norm)

    def forward(self, ctx, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        bf, d = self.o["batch_first"], self.o["d_model"]
        is_batched = src.dim() == 3
        if not bf and real(src.size, 1) != real(tgt.size, 1) and is_batched:
            raise Raised("RuntimeError", "the batch number of src and tgt must be equal", real=False)
        elif bf and real(src.size, 0) != real(tgt.size, 0) and is_batched:
            raise Raised("RuntimeError", "the batch number of src and tgt must be equal", real=False)
        if real(src.size, -1) != d or real(tgt.size, -1) != d:
            raise Raised("RuntimeError", "the feature number of src and tgt must be equal to d_model", real=False)
        memory = self.encoder.forward(ctx, src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                                      is_causal=src_is_causal)
        return self.decoder.forward(ctx, tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                                    tgt_key_padding_mask=tgt_key_padding_mask,
                                    memory_key_padding_mask=memory_key_padding_mask,
                                    tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)


REPLAY_CLASSES = {
    "TransformerEncoderLayer": TransformerEncoderLayer2x,
    "TransformerDecoderLayer": TransformerDecoderLayer2x,
    "TransformerEncoder": TransformerEncoder2x,
    "TransformerDecoder": TransformerDecoder2x,
    "Transformer": Transformer2x,
    "Linear": Linear2x.from_spec,
    "LayerNorm": LayerNorm2x.from_spec,
    "Embedding": Embedding2x,
}


def result_of(out):
    return {"ok": True, "outputs": OrderedDict([("output", OrderedDict([
        ("shape", list(out.shape)), ("dtype", DTYPE_NAMES[out.dtype])]))])}


def error_of(exc_type, message):
    return {"ok": False, "error": OrderedDict([("type", exc_type), ("message", message)])}


def expect_2x(spec, tensors):
    """The 2.x expectation of a flat spec: (expect, ctx, real_error)."""
    ctx = Ctx()
    mod = spec["module"]
    args = {k: v for k, v in tensors.items()}
    args.update(call_flags(spec))
    for k, v in call_flags(spec).items():
        if k in spec and v is True:
            ctx.note("{}=True does not exist in 1.13 (expectation derived without it)".format(k))
        if k in spec and v is False and FLAG_DEFAULTS[mod["type"]][k] is None:
            ctx.note("{}=False skips 2.x's causal-mask detection".format(k), hard=False)
    try:
        m = REPLAY_CLASSES[mod["type"]](ctx, mod)
        out = m.forward(ctx, **args)
    except Raised as r:
        return error_of(r.exc_type, r.message), ctx, r.real
    return result_of(out), ctx, False


# ---------------------------------------------------------------------------------------------
# The real 1.13 run
# ---------------------------------------------------------------------------------------------

def strip_biases(root):
    """What 2.x's bias=False builds, on a 1.13 module: MultiheadAttention and Linear rebuilt without bias,
    LayerNorm.bias set to None."""
    for name, child in list(root.named_children()):
        if isinstance(child, nn.MultiheadAttention):
            dt = child.out_proj.weight.dtype
            setattr(root, name, nn.MultiheadAttention(child.embed_dim, child.num_heads, dropout=child.dropout,
                                                      bias=False, batch_first=child.batch_first, dtype=dt))
        elif isinstance(child, nn.Linear):
            setattr(root, name, nn.Linear(child.in_features, child.out_features, bias=False,
                                          dtype=child.weight.dtype))
        elif isinstance(child, nn.LayerNorm):
            if child.elementwise_affine:
                child.bias = None
        else:
            strip_biases(child)


def build_113(m):
    t = m["type"]
    if t in ("TransformerEncoderLayer", "TransformerDecoderLayer", "Transformer"):
        o = opts_with_defaults(m, TRANSFORMER_DEFAULTS if t == "Transformer" else LAYER_DEFAULTS)
        dt = DTYPES[o["dtype"]] if o["dtype"] else None
        if t == "Transformer":
            mod = nn.Transformer(o["d_model"], o["nhead"], o["num_encoder_layers"], o["num_decoder_layers"],
                                 o["dim_feedforward"], o["dropout"], o["activation"],
                                 layer_norm_eps=o["layer_norm_eps"], batch_first=o["batch_first"],
                                 norm_first=o["norm_first"], dtype=dt)
        else:
            cls = nn.TransformerEncoderLayer if t == "TransformerEncoderLayer" else nn.TransformerDecoderLayer
            mod = cls(m["d_model"], m["nhead"], o["dim_feedforward"], o["dropout"], o["activation"],
                      o["layer_norm_eps"], o["batch_first"], o["norm_first"], dtype=dt)
        if not o["bias"]:
            strip_biases(mod)
        return mod
    if t == "TransformerEncoder":
        layer = build_113(m["encoder_layer"])
        norm = build_113(m["norm"]) if m.get("norm") else None
        o = opts_with_defaults(m, ENCODER_DEFAULTS)
        return nn.TransformerEncoder(layer, m["num_layers"], norm, enable_nested_tensor=o["enable_nested_tensor"],
                                     mask_check=o["mask_check"])
    if t == "TransformerDecoder":
        layer = build_113(m["decoder_layer"])
        norm = build_113(m["norm"]) if m.get("norm") else None
        return nn.TransformerDecoder(layer, m["num_layers"], norm)
    if t == "Linear":
        o = opts_with_defaults(m, LINEAR_DEFAULTS)
        return nn.Linear(m["in_features"], m["out_features"], bias=o["bias"],
                         dtype=DTYPES[o["dtype"]] if o["dtype"] else None)
    if t == "LayerNorm":
        o = opts_with_defaults(m, LAYER_NORM_DEFAULTS)
        mod = nn.LayerNorm(m["normalized_shape"], eps=o["eps"], elementwise_affine=o["elementwise_affine"],
                           dtype=DTYPES[o["dtype"]] if o["dtype"] else None)
        if not o["bias"] and o["elementwise_affine"]:
            mod.bias = None
        return mod
    if t == "Embedding":
        o = opts_with_defaults(m, EMBEDDING_DEFAULTS)
        return nn.Embedding(m["num_embeddings"], m["embedding_dim"], padding_idx=o["padding_idx"],
                            dtype=DTYPES[o["dtype"]] if o["dtype"] else None)
    raise KeyError(t)


def run_113(spec, tensors):
    """The real 1.13 module on the same tensors (is_causal arguments left out). Returns (expect, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            mod = build_113(spec["module"])
            mod.train()
            out = mod(**tensors)
        except Exception as e:  # noqa: BLE001 - whatever PyTorch raises
            expect = error_of(type(e).__name__, str(e))
        else:
            expect = result_of(out)
    ws = [str(w.message) for w in caught if str(w.message).startswith(MISMATCH_PREFIX)]
    return expect, ws


def api_notes(spec):
    """2.x-only constructor options in the spec (T1): plain 1.13 refuses them."""
    notes = []

    def walk(m):
        if m["type"] in ("TransformerEncoderLayer", "TransformerDecoderLayer", "Transformer", "LayerNorm") \
                and m.get("bias") is False:
            notes.append("1.13's {} has no bias option (TypeError: __init__() got an unexpected keyword argument "
                         "'bias'); compared with a 1.13 module whose biases were removed by hand".format(m["type"]))
        for k in ("encoder_layer", "decoder_layer", "norm"):
            if isinstance(m.get(k), dict):
                walk(m[k])
    walk(spec["module"])
    return notes


def describe_113(expect):
    if expect["ok"]:
        o = expect["outputs"]["output"]
        return "1.13 runs and returns {} {}".format(o["shape"], o["dtype"])
    return "1.13 raised {}: '{}'".format(expect["error"]["type"], expect["error"]["message"])


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

class Cases:
    def __init__(self):
        self.items = []
        self.names = set()
        self.specs = set()
        self.skipped = []
        self.verified = 0

    def add(self, name, spec, ok=None):
        """Add a case; `ok` (True/False) asserts the verdict the family promises."""
        key = json.dumps(spec, sort_keys=True)
        if key in self.specs:
            return
        if name in self.names:
            raise ValueError("duplicate case name " + name)
        torch.manual_seed(hash_name(name))
        tensors = make_tensors(spec)
        try:
            expect, ctx, real_error = expect_2x(spec, tensors)
        except Skip as e:
            self.skipped.append((name, str(e)))
            return
        torch.manual_seed(hash_name(name) + 1)
        expect_113, warnings_113 = run_113(spec, tensors)
        same = expect == expect_113 and ctx.warnings == warnings_113
        if not ctx.divergent:
            if not same:
                raise AssertionError("{}: the 2.x replay took no 2.x-specific branch but disagrees with 1.13:\n"
                                     "  replay: {} {}\n  1.13:   {} {}".format(name, expect, ctx.warnings,
                                                                               expect_113, warnings_113))
            self.verified += 1
        notes = api_notes(spec)
        if not same:
            explained = ctx.notes or ctx.soft_notes
            if not explained:
                raise AssertionError("{}: unexplained difference from 1.13: {} vs {}".format(name, expect, expect_113))
            notes += explained + [describe_113(expect_113) + (
                " with no mask-mismatch warning" if ctx.warnings and not warnings_113 else "")]
        elif any(spec.get(k) is True for k in FLAG_ARGS):
            notes += [n for n in ctx.notes if "does not exist in 1.13" in n]
        if ok is not None and expect["ok"] != ok:
            raise AssertionError("{}: expected {} but the replay says {}".format(
                name, "success" if ok else "an error", expect))
        case = OrderedDict([("name", name), ("spec", spec), ("expect", expect)])
        if ctx.warnings:
            case["warnings"] = list(ctx.warnings)
        if notes:
            case["pytorch_2x"] = "; ".join(notes)
        case["synthesized"] = (not expect["ok"]) and not (same or real_error)
        self.items.append(case)
        self.names.add(name)
        self.specs.add(key)


def shape_tag(shape):
    return "x".join(str(s) for s in shape) if shape else "scalar"


# ---------------------------------------------------------------------------------------------
# Case families: TransformerEncoderLayer
# ---------------------------------------------------------------------------------------------

def encoder_layer_cases(cases, rng):
    add = cases.add
    # valid layouts
    for bf in (False, True):
        for nf in (False, True):
            tag = "{}-{}".format("bf" if bf else "sf", "normfirst" if nf else "postnorm")
            add("el-valid-" + tag, spec_of(EL(batch_first=bf, norm_first=nf), src=T(sq(bf, 5, 2, 8))), True)
            add("el-valid-unbatched-" + tag, spec_of(EL(batch_first=bf, norm_first=nf), src=T((5, 8))), True)
            add("el-valid-masks-" + tag, spec_of(EL(batch_first=bf, norm_first=nf), src=T(sq(bf, 5, 2, 8)),
                                                 src_mask=T((5, 5), "bool"),
                                                 src_key_padding_mask=T((2, 5), "bool")), True)
            add("el-valid-mask3d-" + tag, spec_of(EL(batch_first=bf, norm_first=nf), src=T(sq(bf, 4, 3, 8)),
                                                  src_mask=T((6, 4, 4), "float32")), True)
    add("el-valid-unbatched-masks", spec_of(EL(), src=T((5, 8)), src_mask=T((5, 5), "bool"),
                                            src_key_padding_mask=T((5,), "bool")), True)
    add("el-valid-unbatched-mask3d", spec_of(EL(), src=T((5, 8)), src_mask=T((2, 5, 5), "bool")), True)
    add("el-valid-gelu", spec_of(EL(activation="gelu"), src=T((3, 2, 8))), True)
    add("el-valid-nobias", spec_of(EL(bias=False), src=T((3, 2, 8)), src_mask=T((3, 3), "bool")), True)
    add("el-valid-nobias-normfirst-bf", spec_of(EL(bias=False, norm_first=True, batch_first=True),
                                                 src=T((2, 3, 8))), True)
    add("el-valid-f64", spec_of(EL(dtype="float64"), src=T((3, 2, 8), "float64"),
                                src_mask=T((3, 3), "bool"), src_key_padding_mask=T((2, 3), "bool")), True)
    add("el-valid-f64-float-masks", spec_of(EL(dtype="float64", batch_first=True), src=T((2, 3, 8), "float64"),
                                            src_mask=T((3, 3), "float64"),
                                            src_key_padding_mask=T((2, 3), "float64")), True)
    add("el-valid-float-masks", spec_of(EL(), src=T((3, 2, 8)), src_mask=T((3, 3), "float32"),
                                        src_key_padding_mask=T((2, 3), "float32")), True)
    add("el-valid-default-dff", spec_of(EL(16, 4, 2048, 0.1), src=T((4, 2, 16))), True)
    add("el-valid-eps", spec_of(EL(12, 3, 24, layer_norm_eps=1e-6), src=T((2, 5, 12))), True)
    add("el-valid-one-head", spec_of(EL(6, 1, 12), src=T((1, 1, 6))), True)
    add("el-valid-heads-eq-dmodel", spec_of(EL(4, 4, 8), src=T((3, 2, 4)), src_key_padding_mask=T((2, 3), "bool")),
        True)
    add("el-valid-causal-generator", spec_of(EL(), src=T((4, 2, 8)), src_mask=causal(4)), True)
    add("el-valid-causal-generator-is_causal", spec_of(EL(batch_first=True), src=T((2, 4, 8)), src_mask=causal(4),
                                                       is_causal=True), True)
    add("el-valid-is_causal-with-mask", spec_of(EL(), src=T((4, 2, 8)), src_mask=T((4, 4), "bool"), is_causal=True),
        True)
    add("el-valid-is_causal-with-mask-kpm", spec_of(EL(), src=T((4, 2, 8)), src_mask=T((4, 4), "bool"),
                                                    src_key_padding_mask=T((2, 4), "bool"), is_causal=True), True)
    # is_causal=True with a wrong-shaped mask: dropped (no kpm) or checked (kpm given)
    for shape in ((5, 5), (3, 4), (7, 4, 4)):
        add("el-is_causal-dropped-mask-{}".format(shape_tag(shape)),
            spec_of(EL(), src=T((4, 2, 8)), src_mask=T(shape, "bool"), is_causal=True), True)
        add("el-is_causal-checked-mask-{}".format(shape_tag(shape)),
            spec_of(EL(), src=T((4, 2, 8)), src_mask=T(shape, "bool"), src_key_padding_mask=T((2, 4), "bool"),
                    is_causal=True), False)
    # is_causal=True without a mask
    for bf, shape in ((False, (4, 2, 8)), (True, (2, 4, 8)), (False, (4, 8))):
        add("el-is_causal-no-mask-{}".format(shape_tag(shape)),
            spec_of(EL(batch_first=bf), src=T(shape), is_causal=True), False)
    add("el-is_causal-no-mask-kpm", spec_of(EL(), src=T((4, 2, 8)), src_key_padding_mask=T((2, 4), "bool"),
                                            is_causal=True), False)
    # src rank
    for nf in (False, True):
        t = "normfirst" if nf else "postnorm"
        add("el-src-1d-" + t, spec_of(EL(norm_first=nf), src=T((8,))), False)
        add("el-src-4d-" + t, spec_of(EL(norm_first=nf), src=T((2, 3, 2, 8))), False)
        add("el-src-4d-bf-" + t, spec_of(EL(norm_first=nf, batch_first=True), src=T((1, 2, 3, 8))), False)
    # wrong last dim
    for nf in (False, True):
        t = "normfirst" if nf else "postnorm"
        for shape in ((5, 2, 6), (5, 2, 16), (5, 12)):
            add("el-src-lastdim-{}-{}".format(shape_tag(shape), t), spec_of(EL(norm_first=nf), src=T(shape)), False)
        add("el-src-lastdim-bf-" + t, spec_of(EL(norm_first=nf, batch_first=True), src=T((2, 5, 4))), False)
    # src_mask shapes
    for shape in ((5, 4), (4, 5), (2, 5, 5), (8, 5, 5), (4, 4, 5), (1, 5, 5), (5,), (1, 4, 5, 5)):
        add("el-src_mask-{}".format(shape_tag(shape)), spec_of(EL(), src=T((5, 2, 8)), src_mask=T(shape, "bool")),
            False)
    add("el-src_mask-unbatched-3d-wrong", spec_of(EL(), src=T((5, 8)), src_mask=T((4, 5, 5), "bool")), False)
    add("el-src_mask-bf-seq-vs-batch", spec_of(EL(batch_first=True), src=T((2, 5, 8)), src_mask=T((2, 2), "bool")),
        False)
    # key padding mask shape and rank
    for shape in ((5, 2), (2, 4), (3, 5), (5,), (2, 5, 1), (1, 2, 5)):
        add("el-kpm-{}".format(shape_tag(shape)),
            spec_of(EL(), src=T((5, 2, 8)), src_key_padding_mask=T(shape, "bool")), False)
    add("el-kpm-unbatched-2d", spec_of(EL(), src=T((5, 8)), src_key_padding_mask=T((1, 5), "bool")), False)
    add("el-kpm-bf-wrong-layout", spec_of(EL(), src=T((2, 5, 8)), src_key_padding_mask=T((2, 5), "bool")), False)
    # mask dtypes
    for dt in ("int64", "uint8", "int32"):
        add("el-src_mask-" + dt, spec_of(EL(), src=T((5, 2, 8)), src_mask=T((5, 5), dt)), False)
        add("el-kpm-" + dt, spec_of(EL(), src=T((5, 2, 8)), src_key_padding_mask=T((2, 5), dt)), False)
        add("el-both-masks-" + dt, spec_of(EL(), src=T((5, 2, 8)), src_mask=T((5, 5), dt),
                                           src_key_padding_mask=T((2, 5), dt)), False)
    add("el-src_mask-int64-kpm-bool", spec_of(EL(), src=T((5, 2, 8)), src_mask=T((5, 5), "int64"),
                                              src_key_padding_mask=T((2, 5), "bool")), False)
    add("el-src_mask-uint8-bad-src", spec_of(EL(), src=T((5, 2, 6)), src_mask=T((5, 5), "uint8")), False)
    # mismatched mask dtypes: warnings
    for md, kd in (("float32", "bool"), ("bool", "float32"), ("float32", "float64")):
        add("el-mismatch-mask-{}-kpm-{}".format(md, kd),
            spec_of(EL(), src=T((5, 2, 8)), src_mask=T((5, 5), md), src_key_padding_mask=T((2, 5), kd)), None)
    add("el-mismatch-causal-kpm-bool", spec_of(EL(batch_first=True), src=T((2, 5, 8)), src_mask=causal(5),
                                               src_key_padding_mask=T((2, 5), "bool")), True)
    add("el-mismatch-bad-kpm-shape", spec_of(EL(), src=T((5, 2, 8)), src_mask=T((5, 5), "float32"),
                                             src_key_padding_mask=T((3, 5), "bool")), False)
    # float64 masks with float32 src
    for which in ("src_mask", "kpm", "both"):
        kw = {}
        if which in ("src_mask", "both"):
            kw["src_mask"] = T((5, 5), "float64")
        if which in ("kpm", "both"):
            kw["src_key_padding_mask"] = T((2, 5), "float64")
        add("el-float64-{}-float32-src".format(which), spec_of(EL(), src=T((5, 2, 8)), **kw), None)
    add("el-float64-mask3d-float32-src", spec_of(EL(), src=T((5, 2, 8)), src_mask=T((4, 5, 5), "float64")), False)
    # src dtype vs module dtype
    for nf in (False, True):
        t = "normfirst" if nf else "postnorm"
        add("el-src-f64-module-f32-" + t, spec_of(EL(norm_first=nf), src=T((5, 2, 8), "float64")), False)
        add("el-src-f32-module-f64-" + t, spec_of(EL(norm_first=nf, dtype="float64"), src=T((5, 2, 8))), False)
        add("el-src-f64-module-f32-bf-" + t, spec_of(EL(norm_first=nf, batch_first=True),
                                                     src=T((2, 5, 8), "float64")), False)
    add("el-src-f64-bool-mask", spec_of(EL(), src=T((5, 2, 8), "float64"), src_mask=T((5, 5), "bool")), False)
    # constructor errors
    for d, h in ((8, 3), (10, 4), (6, 4), (8, 0)):
        add("el-ctor-d{}-h{}".format(d, h), spec_of(EL(d, h), src=T((3, 2, d))), False)
    for act in ("tanh", "ReLU", "swish"):
        add("el-ctor-activation-" + act, spec_of(EL(activation=act), src=T((3, 2, 8))), False)
    add("el-ctor-activation-and-heads", spec_of(EL(8, 3, activation="tanh"), src=T((3, 2, 8))), False)
    # random valid configurations
    for i in range(40):
        cfg = random_layer_cfg(rng)
        add("el-random-{:02d}-{}".format(i, cfg_tag(cfg)), enc_layer_spec(cfg), True)


def random_layer_cfg(rng, decoder=False):
    d, h = rng.choice([(8, 2), (8, 4), (12, 3), (16, 4), (6, 2), (4, 1), (16, 8)])
    cfg = {"d": d, "h": h, "dff": rng.choice([8, 16, 32]), "dropout": rng.choice([0.0, 0.0, 0.0, 0.1]),
           "bf": rng.random() < 0.5, "nf": rng.random() < 0.4, "batched": rng.random() < 0.8,
           "act": rng.choice(["relu", "relu", "gelu"]), "bias": rng.random() < 0.85,
           "dtype": "float64" if rng.random() < 0.12 else None,
           "L": rng.randint(1, 6), "S": rng.randint(1, 6), "N": rng.randint(1, 4)}
    mdt = ["bool", "float64"] if cfg["dtype"] else ["bool", "bool", "float32"]
    cfg["am"] = rng.choice([None, None, "2d", "3d"])
    cfg["am_dt"] = rng.choice(mdt)
    cfg["kpm"] = rng.random() < 0.4
    cfg["kpm_dt"] = cfg["am_dt"] if (cfg["am"] and rng.random() < 0.7) else "bool"
    if decoder:
        cfg["mm"] = rng.choice([None, None, "2d", "3d"])
        cfg["mm_dt"] = rng.choice(mdt)
        cfg["mkpm"] = rng.random() < 0.4
        cfg["mkpm_dt"] = cfg["mm_dt"] if (cfg["mm"] and rng.random() < 0.7) else "bool"
        # float key padding masks with bool attention masks combine differently in 1.13 and 2.x MHA
        for a, k in (("am", "kpm"), ("mm", "mkpm")):
            if cfg[a] and cfg[a + "_dt"] == "bool":
                cfg[k + "_dt"] = "bool"
    return cfg


def cfg_tag(cfg):
    parts = ["d{}h{}".format(cfg["d"], cfg["h"]), "bf" if cfg["bf"] else "sf"]
    if cfg["nf"]:
        parts.append("nf")
    if not cfg["batched"]:
        parts.append("unb")
    if cfg["act"] != "relu":
        parts.append(cfg["act"])
    if not cfg["bias"]:
        parts.append("nobias")
    if cfg["dtype"]:
        parts.append(cfg["dtype"])
    parts.append("L{}S{}N{}".format(cfg["L"], cfg["S"], cfg["N"]))
    if cfg["am"]:
        parts.append("am{}{}".format(cfg["am"], cfg["am_dt"]))
    if cfg["kpm"]:
        parts.append("kpm" + cfg["kpm_dt"])
    if cfg.get("mm"):
        parts.append("mm{}{}".format(cfg["mm"], cfg["mm_dt"]))
    if cfg.get("mkpm"):
        parts.append("mkpm" + cfg["mkpm_dt"])
    return "-".join(parts)


def cfg_layer_module(cfg, decoder=False):
    f = DL if decoder else EL
    return f(cfg["d"], cfg["h"], cfg["dff"], cfg["dropout"], activation=cfg["act"], batch_first=cfg["bf"],
             norm_first=cfg["nf"], bias=cfg["bias"], dtype=cfg["dtype"])


def cfg_seq(cfg, L):
    if not cfg["batched"]:
        return (L, cfg["d"])
    return sq(cfg["bf"], L, cfg["N"], cfg["d"])


def cfg_attn_mask(cfg, form, dt, L, S):
    if not form:
        return None
    if form == "2d":
        return T((L, S), dt)
    return T(((cfg["N"] if cfg["batched"] else 1) * cfg["h"], L, S), dt)


def cfg_kpm(cfg, on, dt, S):
    if not on:
        return None
    return T((cfg["N"], S) if cfg["batched"] else (S,), dt)


def enc_layer_spec(cfg, module_=None, mask_name="src_mask"):
    ddt = cfg["dtype"] or "float32"
    L = cfg["L"]
    args = {"src": T(cfg_seq(cfg, L), ddt), mask_name: cfg_attn_mask(cfg, cfg["am"], cfg["am_dt"], L, L),
            "src_key_padding_mask": cfg_kpm(cfg, cfg["kpm"], cfg["kpm_dt"], L)}
    return spec_of(module_ or cfg_layer_module(cfg), **args)


def dec_layer_spec(cfg, module_=None):
    ddt = cfg["dtype"] or "float32"
    L, S = cfg["L"], cfg["S"]
    args = {"tgt": T(cfg_seq(cfg, L), ddt), "memory": T(cfg_seq(cfg, S), ddt),
            "tgt_mask": cfg_attn_mask(cfg, cfg["am"], cfg["am_dt"], L, L),
            "memory_mask": cfg_attn_mask(cfg, cfg["mm"], cfg["mm_dt"], L, S),
            "tgt_key_padding_mask": cfg_kpm(cfg, cfg["kpm"], cfg["kpm_dt"], L),
            "memory_key_padding_mask": cfg_kpm(cfg, cfg["mkpm"], cfg["mkpm_dt"], S)}
    return spec_of(module_ or cfg_layer_module(cfg, decoder=True), **args)


# ---------------------------------------------------------------------------------------------
# TransformerDecoderLayer
# ---------------------------------------------------------------------------------------------

def decoder_layer_cases(cases, rng):
    add = cases.add
    for bf in (False, True):
        for nf in (False, True):
            tag = "{}-{}".format("bf" if bf else "sf", "normfirst" if nf else "postnorm")
            m = DL(batch_first=bf, norm_first=nf)
            add("dl-valid-" + tag, spec_of(m, tgt=T(sq(bf, 4, 2, 8)), memory=T(sq(bf, 6, 2, 8))), True)
            add("dl-valid-unbatched-" + tag, spec_of(m, tgt=T((4, 8)), memory=T((6, 8))), True)
            add("dl-valid-masks-" + tag, spec_of(m, tgt=T(sq(bf, 4, 2, 8)), memory=T(sq(bf, 6, 2, 8)),
                                                 tgt_mask=T((4, 4), "bool"), memory_mask=T((4, 6), "bool"),
                                                 tgt_key_padding_mask=T((2, 4), "bool"),
                                                 memory_key_padding_mask=T((2, 6), "bool")), True)
    add("dl-valid-mask3d", spec_of(DL(), tgt=T((4, 3, 8)), memory=T((5, 3, 8)), tgt_mask=T((6, 4, 4), "float32"),
                                   memory_mask=T((6, 4, 5), "bool")), True)
    add("dl-valid-unbatched-masks", spec_of(DL(), tgt=T((4, 8)), memory=T((5, 8)), tgt_mask=T((2, 4, 4), "bool"),
                                            memory_mask=T((4, 5), "bool"), tgt_key_padding_mask=T((4,), "bool"),
                                            memory_key_padding_mask=T((5,), "bool")), True)
    add("dl-valid-causal-generator", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), tgt_mask=causal(4)), True)
    add("dl-valid-tgt_is_causal", spec_of(DL(batch_first=True), tgt=T((2, 4, 8)), memory=T((2, 5, 8)),
                                          tgt_mask=causal(4), tgt_is_causal=True), True)
    add("dl-valid-memory_is_causal", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((4, 2, 8)),
                                             memory_mask=causal(4), memory_is_causal=True), True)
    add("dl-valid-gelu-nobias", spec_of(DL(activation="gelu", bias=False), tgt=T((3, 2, 8)), memory=T((2, 2, 8))),
        True)
    add("dl-valid-f64", spec_of(DL(dtype="float64"), tgt=T((3, 2, 8), "float64"), memory=T((2, 2, 8), "float64"),
                                tgt_mask=T((3, 3), "bool"), memory_key_padding_mask=T((2, 2), "bool")), True)
    add("dl-valid-float-masks", spec_of(DL(), tgt=T((3, 2, 8)), memory=T((4, 2, 8)), tgt_mask=T((3, 3), "float32"),
                                        memory_mask=T((3, 4), "float32"),
                                        tgt_key_padding_mask=T((2, 3), "float32")), True)
    add("dl-valid-default-dff", spec_of(DL(16, 4, 2048, 0.1), tgt=T((2, 2, 16)), memory=T((3, 2, 16))), True)
    add("dl-valid-memory-len1", spec_of(DL(), tgt=T((5, 2, 8)), memory=T((1, 2, 8))), True)
    # is_causal without masks
    add("dl-tgt_is_causal-no-mask", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), tgt_is_causal=True), False)
    add("dl-tgt_is_causal-no-mask-bf", spec_of(DL(batch_first=True), tgt=T((2, 4, 8)), memory=T((2, 5, 8)),
                                               tgt_is_causal=True), False)
    add("dl-memory_is_causal-no-mask", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), memory_is_causal=True),
        False)
    add("dl-memory_is_causal-no-mask-unbatched", spec_of(DL(), tgt=T((4, 8)), memory=T((4, 8)),
                                                         tgt_mask=T((4, 4), "bool"), memory_is_causal=True), False)
    add("dl-tgt_is_causal-wrong-mask-dropped", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)),
                                                       tgt_mask=T((3, 3), "bool"), tgt_is_causal=True), True)
    add("dl-tgt_is_causal-wrong-mask-kpm", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)),
                                                   tgt_mask=T((3, 3), "bool"), tgt_key_padding_mask=T((2, 4), "bool"),
                                                   tgt_is_causal=True), False)
    # tgt / memory rank
    for nf in (False, True):
        t = "normfirst" if nf else "postnorm"
        add("dl-tgt-1d-" + t, spec_of(DL(norm_first=nf), tgt=T((8,)), memory=T((5, 2, 8))), False)
        add("dl-tgt-4d-" + t, spec_of(DL(norm_first=nf), tgt=T((1, 4, 2, 8)), memory=T((5, 2, 8))), False)
        add("dl-memory-1d-" + t, spec_of(DL(norm_first=nf), tgt=T((4, 2, 8)), memory=T((8,))), False)
        add("dl-memory-4d-" + t, spec_of(DL(norm_first=nf), tgt=T((4, 2, 8)), memory=T((1, 5, 2, 8))), False)
    add("dl-memory-2d-tgt-3d", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 8))), False)
    add("dl-memory-3d-tgt-2d", spec_of(DL(), tgt=T((4, 8)), memory=T((5, 2, 8))), False)
    # tgt last dim
    for nf in (False, True):
        t = "normfirst" if nf else "postnorm"
        for shape in ((4, 2, 6), (4, 2, 16), (4, 4)):
            mem = (5, 2, 8) if len(shape) == 3 else (5, 8)
            add("dl-tgt-lastdim-{}-{}".format(shape_tag(shape), t),
                spec_of(DL(norm_first=nf), tgt=T(shape), memory=T(mem)), False)
    # memory last dim (cross-attention in-projection)
    for nf in (False, True):
        t = "normfirst" if nf else "postnorm"
        for shape in ((5, 2, 6), (5, 2, 16), (5, 12)):
            tgt = (4, 2, 8) if len(shape) == 3 else (4, 8)
            add("dl-memory-lastdim-{}-{}".format(shape_tag(shape), t),
                spec_of(DL(norm_first=nf), tgt=T(tgt), memory=T(shape)), False)
    add("dl-memory-lastdim-bf", spec_of(DL(batch_first=True), tgt=T((2, 4, 8)), memory=T((2, 5, 4))), False)
    # memory batch != tgt batch
    add("dl-memory-batch-sf", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 3, 8))), False)
    add("dl-memory-batch-bf", spec_of(DL(batch_first=True), tgt=T((2, 4, 8)), memory=T((3, 5, 8))), False)
    add("dl-memory-batch-normfirst", spec_of(DL(norm_first=True), tgt=T((4, 2, 8)), memory=T((5, 1, 8))), False)
    add("dl-memory-NSE-to-seq-first", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((2, 5, 8))), False)
    add("dl-memory-NSE-to-seq-first-2", spec_of(DL(), tgt=T((4, 3, 8)), memory=T((3, 7, 8))), False)
    add("dl-memory-NSE-to-seq-first-tgt-NSE", spec_of(DL(), tgt=T((2, 4, 8)), memory=T((2, 5, 8))), False)
    add("dl-memory-NSE-same-batch-ok", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((2, 2, 8))), True)
    # tgt_mask / memory_mask shapes
    for shape in ((4, 5), (5, 5), (3, 4, 4), (8, 4, 4), (4,)):
        add("dl-tgt_mask-{}".format(shape_tag(shape)),
            spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), tgt_mask=T(shape, "bool")), False)
    for shape in ((5, 4), (4, 4), (4, 6), (2, 4, 5), (4, 5, 5), (1, 4, 5)):
        add("dl-memory_mask-{}".format(shape_tag(shape)),
            spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), memory_mask=T(shape, "bool")), False)
    # key padding masks
    for shape in ((4, 2), (2, 5), (3, 4), (4,), (2, 4, 1)):
        add("dl-tgt_kpm-{}".format(shape_tag(shape)),
            spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), tgt_key_padding_mask=T(shape, "bool")), False)
    for shape in ((5, 2), (2, 4), (3, 5), (5,), (1, 2, 5)):
        add("dl-memory_kpm-{}".format(shape_tag(shape)),
            spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), memory_key_padding_mask=T(shape, "bool")), False)
    # mask dtypes (MultiheadAttention-level names)
    for dt in ("int64", "uint8", "int32"):
        add("dl-tgt_mask-" + dt, spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), tgt_mask=T((4, 4), dt)), False)
        add("dl-memory_mask-" + dt, spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)),
                                            memory_mask=T((4, 5), dt)), False)
        add("dl-tgt_kpm-" + dt, spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)),
                                        tgt_key_padding_mask=T((2, 4), dt)), False)
        add("dl-memory_kpm-" + dt, spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)),
                                           memory_key_padding_mask=T((2, 5), dt)), False)
    # mismatched mask dtypes: warnings
    add("dl-mismatch-tgt", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), tgt_mask=T((4, 4), "float32"),
                                   tgt_key_padding_mask=T((2, 4), "bool")), True)
    add("dl-mismatch-memory", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), memory_mask=T((4, 5), "float32"),
                                      memory_key_padding_mask=T((2, 5), "bool")), True)
    add("dl-mismatch-causal-generator", spec_of(DL(batch_first=True), tgt=T((2, 4, 8)), memory=T((2, 5, 8)),
                                                tgt_mask=causal(4), tgt_key_padding_mask=T((2, 4), "bool")), True)
    add("dl-mismatch-then-memory-error", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 3, 8)),
                                                 tgt_mask=T((4, 4), "float32"),
                                                 tgt_key_padding_mask=T((2, 4), "bool")), False)
    # float64 masks with float32 data
    add("dl-tgt_mask-float64", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)), tgt_mask=T((4, 4), "float64")),
        False)
    add("dl-memory_mask-float64", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)),
                                          memory_mask=T((4, 5), "float64")), False)
    add("dl-memory_kpm-float64", spec_of(DL(), tgt=T((4, 2, 8)), memory=T((5, 2, 8)),
                                         memory_key_padding_mask=T((2, 5), "float64")), False)
    # data dtypes
    for nf in (False, True):
        t = "normfirst" if nf else "postnorm"
        add("dl-tgt-f64-" + t, spec_of(DL(norm_first=nf), tgt=T((4, 2, 8), "float64"), memory=T((5, 2, 8))), False)
        add("dl-memory-f64-" + t, spec_of(DL(norm_first=nf), tgt=T((4, 2, 8)), memory=T((5, 2, 8), "float64")),
            False)
        add("dl-module-f64-" + t, spec_of(DL(norm_first=nf, dtype="float64"), tgt=T((4, 2, 8)),
                                          memory=T((5, 2, 8))), False)
    # constructor errors
    for d, h in ((8, 3), (12, 5), (4, 8), (8, 0)):
        add("dl-ctor-d{}-h{}".format(d, h), spec_of(DL(d, h), tgt=T((3, 2, d)), memory=T((3, 2, d))), False)
    for act in ("tanh", "silu", "Gelu"):
        add("dl-ctor-activation-" + act, spec_of(DL(activation=act), tgt=T((3, 2, 8)), memory=T((3, 2, 8))), False)
    for i in range(40):
        cfg = random_layer_cfg(rng, decoder=True)
        add("dl-random-{:02d}-{}".format(i, cfg_tag(cfg)), dec_layer_spec(cfg), True)


# ---------------------------------------------------------------------------------------------
# TransformerEncoder
# ---------------------------------------------------------------------------------------------

def encoder_cases(cases, rng):
    add = cases.add
    for bf in (False, True):
        for n in (1, 2, 3):
            for norm in (False, True):
                layer = EL(batch_first=bf, norm_first=(n == 3))
                m = ENC(layer, n, norm=LN(8) if norm else None)
                add("enc-valid-{}-n{}{}".format("bf" if bf else "sf", n, "-norm" if norm else ""),
                    spec_of(m, src=T(sq(bf, 5, 2, 8))), True)
    add("enc-valid-unbatched", spec_of(ENC(EL(), 2, norm=LN(8)), src=T((5, 8))), True)
    add("enc-valid-unbatched-masks", spec_of(ENC(EL(), 2), src=T((5, 8)), mask=T((5, 5), "bool"),
                                             src_key_padding_mask=T((5,), "bool")), True)
    add("enc-valid-masks", spec_of(ENC(EL(), 2, norm=LN(8)), src=T((5, 2, 8)), mask=T((5, 5), "bool"),
                                   src_key_padding_mask=T((2, 5), "bool")), True)
    add("enc-valid-mask3d", spec_of(ENC(EL(batch_first=True), 2), src=T((3, 4, 8)),
                                    mask=T((6, 4, 4), "float32")), True)
    add("enc-valid-nested-off", spec_of(ENC(EL(batch_first=True), 2, enable_nested_tensor=False, mask_check=False),
                                        src=T((2, 5, 8)), src_key_padding_mask=T((2, 5), "bool")), True)
    add("enc-valid-nested-on-bf", spec_of(ENC(EL(batch_first=True), 2), src=T((2, 5, 8)),
                                          src_key_padding_mask=T((2, 5), "bool")), True)
    add("enc-valid-nobias", spec_of(ENC(EL(bias=False), 2, norm=LN(8, bias=False)), src=T((5, 2, 8))), True)
    add("enc-valid-f64", spec_of(ENC(EL(dtype="float64"), 2, norm=LN(8, dtype="float64")),
                                 src=T((5, 2, 8), "float64"), mask=T((5, 5), "bool")), True)
    add("enc-valid-norm-no-affine", spec_of(ENC(EL(), 1, norm=LN(8, elementwise_affine=False)), src=T((5, 2, 8))),
        True)
    add("enc-valid-gelu", spec_of(ENC(EL(12, 3, 24, activation="gelu"), 2), src=T((4, 2, 12))), True)
    # causal-mask generator: detection True
    for bf, shape, n in ((False, (5, 2, 8), 5), (True, (2, 5, 8), 5), (False, (4, 8), 4), (True, (3, 6, 8), 6)):
        add("enc-causal-generator-{}".format(shape_tag(shape)),
            spec_of(ENC(EL(batch_first=bf), 2), src=T(shape), mask=causal(n)), True)
    add("enc-causal-generator-kpm", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=causal(5),
                                            src_key_padding_mask=T((2, 5), "float32")), True)
    add("enc-causal-generator-f64-src", spec_of(ENC(EL(dtype="float64"), 1), src=T((5, 2, 8), "float64"),
                                                mask=causal(5)), True)
    add("enc-causal-generator-wrong-size", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=causal(6)), False)
    add("enc-causal-generator-batch-first-confusion", spec_of(ENC(EL(), 1), src=T((2, 5, 8)), mask=causal(5)), False)
    add("enc-causal-generator-is_causal-false", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=causal(5),
                                                        is_causal=False), True)
    # random masks: detection False; is_causal hints
    add("enc-is_causal-true-no-mask", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), is_causal=True), False)
    add("enc-is_causal-true-no-mask-bf", spec_of(ENC(EL(batch_first=True), 1), src=T((2, 5, 8)), is_causal=True),
        False)
    add("enc-is_causal-true-no-mask-unbatched", spec_of(ENC(EL(), 1), src=T((5, 8)), is_causal=True), False)
    add("enc-is_causal-true-wrong-mask", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=T((4, 4), "bool"),
                                                 is_causal=True), True)
    add("enc-is_causal-false-mask", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=T((5, 5), "bool"),
                                            is_causal=False), True)
    # num_layers
    for n in (0, -1):
        add("enc-num_layers-{}".format(n if n >= 0 else "minus-1"), spec_of(ENC(EL(), n), src=T((5, 2, 8))), False)
    add("enc-num_layers-0-norm", spec_of(ENC(EL(), 0, norm=LN(8)), src=T((5, 2, 8))), False)
    add("enc-num_layers-0-int-mask", spec_of(ENC(EL(), 0), src=T((5, 2, 8)), mask=T((5, 5), "int64")), False)
    add("enc-num_layers-0-bad-src", spec_of(ENC(EL(), 0), src=T((5, 2, 6))), False)
    # norm normalized_shape != d_model
    for ns in (6, 16, [4, 8], [6, 2, 8]):
        add("enc-norm-{}".format(ns if isinstance(ns, int) else shape_tag(ns)),
            spec_of(ENC(EL(), 2, norm=LN(ns)), src=T((5, 2, 8))), False)
    add("enc-norm-f64-module-f32", spec_of(ENC(EL(), 1, norm=LN(8, dtype="float64")), src=T((5, 2, 8))), False)
    # src rank / last dim
    add("enc-src-1d", spec_of(ENC(EL(), 2), src=T((8,))), False)
    add("enc-src-1d-bf", spec_of(ENC(EL(batch_first=True), 2), src=T((8,))), False)
    add("enc-src-1d-bf-mask", spec_of(ENC(EL(batch_first=True), 2), src=T((8,)), mask=T((1, 1), "bool")), False)
    add("enc-src-4d", spec_of(ENC(EL(), 2), src=T((1, 5, 2, 8))), False)
    add("enc-src-4d-normfirst", spec_of(ENC(EL(norm_first=True), 2), src=T((1, 5, 2, 8))), False)
    for nf in (False, True):
        add("enc-src-lastdim-{}".format("normfirst" if nf else "postnorm"),
            spec_of(ENC(EL(norm_first=nf), 2), src=T((5, 2, 6))), False)
    add("enc-src-lastdim-bf", spec_of(ENC(EL(batch_first=True), 2, norm=LN(8)), src=T((2, 5, 16))), False)
    # mask shapes
    for shape in ((5, 4), (4, 4), (2, 5, 5), (1, 5, 5), (5,)):
        add("enc-mask-{}".format(shape_tag(shape)), spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=T(shape, "bool")),
            False)
    for shape in ((5, 2), (2, 4), (5,), (2, 5, 1)):
        add("enc-kpm-{}".format(shape_tag(shape)),
            spec_of(ENC(EL(), 2), src=T((5, 2, 8)), src_key_padding_mask=T(shape, "bool")), False)
    # mask dtypes: encoder-level names
    for dt in ("int64", "uint8", "int32"):
        add("enc-mask-" + dt, spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=T((5, 5), dt)), False)
        add("enc-kpm-" + dt, spec_of(ENC(EL(), 2), src=T((5, 2, 8)), src_key_padding_mask=T((2, 5), dt)), False)
    add("enc-mask-int64-is_causal-false", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=T((5, 5), "int64"),
                                                  is_causal=False), False)
    # mismatched dtypes: warnings
    add("enc-mismatch-float-mask-bool-kpm", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=T((5, 5), "float32"),
                                                    src_key_padding_mask=T((2, 5), "bool")), True)
    add("enc-mismatch-bool-mask-float-kpm", spec_of(ENC(EL(batch_first=True), 2), src=T((2, 5, 8)),
                                                    mask=T((5, 5), "bool"),
                                                    src_key_padding_mask=T((2, 5), "float32")), True)
    add("enc-mismatch-f64-mask", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=T((5, 5), "float64"),
                                         src_key_padding_mask=T((2, 5), "bool")), None)
    # float64 mask / src dtype
    add("enc-mask-float64", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=T((5, 5), "float64")), False)
    add("enc-src-f64", spec_of(ENC(EL(), 2), src=T((5, 2, 8), "float64")), False)
    add("enc-src-f64-normfirst", spec_of(ENC(EL(norm_first=True), 2), src=T((5, 2, 8), "float64")), False)
    add("enc-src-lastdim-normfirst-bf", spec_of(ENC(EL(norm_first=True, batch_first=True), 1), src=T((2, 5, 4))),
        False)
    add("enc-src-lastdim-normfirst-unbatched", spec_of(ENC(EL(norm_first=True), 2), src=T((5, 12))), False)
    add("enc-src-lastdim-unbatched", spec_of(ENC(EL(), 2), src=T((5, 12))), False)
    add("enc-mask3d-float64", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), mask=T((4, 5, 5), "float64")), False)
    add("enc-kpm-float64", spec_of(ENC(EL(), 2), src=T((5, 2, 8)), src_key_padding_mask=T((2, 5), "float64")), False)
    add("enc-src-f64-bf", spec_of(ENC(EL(batch_first=True), 2), src=T((2, 5, 8), "float64")), False)
    # nested layer constructor errors
    for d, h in ((8, 3), (12, 5), (6, 4)):
        add("enc-layer-ctor-d{}-h{}".format(d, h), spec_of(ENC(EL(d, h), 2), src=T((5, 2, d))), False)
    for act in ("elu", "Tanh", "sigmoid"):
        add("enc-layer-ctor-activation-" + act, spec_of(ENC(EL(activation=act), 2), src=T((5, 2, 8))), False)
    for i in range(30):
        cfg = random_layer_cfg(rng)
        n = rng.randint(1, 3)
        norm = LN(cfg["d"], dtype=cfg["dtype"]) if rng.random() < 0.5 else None
        m = ENC(cfg_layer_module(cfg), n, norm=norm)
        add("enc-random-{:02d}-n{}-{}".format(i, n, cfg_tag(cfg)), enc_layer_spec(cfg, m, "mask"), True)


# ---------------------------------------------------------------------------------------------
# TransformerDecoder
# ---------------------------------------------------------------------------------------------

def decoder_cases(cases, rng):
    add = cases.add
    for bf in (False, True):
        for n in (1, 2, 3):
            for norm in (False, True):
                m = DEC(DL(batch_first=bf, norm_first=(n == 2)), n, norm=LN(8) if norm else None)
                add("dec-valid-{}-n{}{}".format("bf" if bf else "sf", n, "-norm" if norm else ""),
                    spec_of(m, tgt=T(sq(bf, 4, 2, 8)), memory=T(sq(bf, 6, 2, 8))), True)
    add("dec-valid-unbatched", spec_of(DEC(DL(), 2, norm=LN(8)), tgt=T((4, 8)), memory=T((6, 8))), True)
    add("dec-valid-masks", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)), tgt_mask=T((4, 4), "bool"),
                                   memory_mask=T((4, 6), "bool"), tgt_key_padding_mask=T((2, 4), "bool"),
                                   memory_key_padding_mask=T((2, 6), "bool")), True)
    add("dec-valid-nobias", spec_of(DEC(DL(bias=False), 2, norm=LN(8, bias=False)), tgt=T((4, 2, 8)),
                                    memory=T((6, 2, 8))), True)
    add("dec-valid-f64", spec_of(DEC(DL(dtype="float64"), 2), tgt=T((4, 2, 8), "float64"),
                                 memory=T((3, 2, 8), "float64"), tgt_mask=T((4, 4), "float64")), True)
    # causal generator and tgt_is_causal
    for bf, tshape, n in ((False, (4, 2, 8), 4), (True, (2, 4, 8), 4), (False, (5, 8), 5)):
        mshape = (6, 8) if len(tshape) == 2 else sq(bf, 6, 2, 8)
        add("dec-causal-generator-{}".format(shape_tag(tshape)),
            spec_of(DEC(DL(batch_first=bf), 2), tgt=T(tshape), memory=T(mshape), tgt_mask=causal(n)), True)
    add("dec-causal-generator-wrong-size", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                                   tgt_mask=causal(5)), False)
    add("dec-causal-generator-bool-kpm", spec_of(DEC(DL(), 1), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                                 tgt_mask=causal(4), tgt_key_padding_mask=T((2, 4), "bool")), True)
    add("dec-tgt_is_causal-true-no-mask", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                                  tgt_is_causal=True), False)
    add("dec-tgt_is_causal-true-no-mask-unbatched", spec_of(DEC(DL(), 1), tgt=T((4, 8)), memory=T((6, 8)),
                                                            tgt_is_causal=True), False)
    add("dec-memory_is_causal-true-no-mask", spec_of(DEC(DL(), 1), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                                     memory_is_causal=True), False)
    add("dec-tgt_is_causal-true-wrong-mask", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                                     tgt_mask=T((3, 3), "bool"), tgt_is_causal=True), True)
    add("dec-tgt_is_causal-false-wrong-mask", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                                      tgt_mask=T((3, 3), "bool"), tgt_is_causal=False), False)
    # integer tgt_mask: detection's torch.full fails first (tgt_is_causal None)
    for dt in ("int64", "uint8", "int32", "int8"):
        add("dec-tgt_mask-{}-detect".format(dt), spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                                        tgt_mask=T((4, 4), dt)), False)
    add("dec-tgt_mask-int64-wrong-shape-detect", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                                         tgt_mask=T((3, 3), "int64")), False)
    for dt in ("int64", "uint8"):
        add("dec-tgt_mask-{}-is_causal-false".format(dt),
            spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)), tgt_mask=T((4, 4), dt),
                    tgt_is_causal=False), False)
        add("dec-tgt_mask-{}-is_causal-true".format(dt),
            spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)), tgt_mask=T((4, 4), dt),
                    tgt_is_causal=True), False)
        add("dec-memory_mask-" + dt, spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                             memory_mask=T((4, 6), dt)), False)
        add("dec-tgt_kpm-" + dt, spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                         tgt_key_padding_mask=T((2, 4), dt)), False)
        add("dec-memory_kpm-" + dt, spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                            memory_key_padding_mask=T((2, 6), dt)), False)
    # num_layers 0 (1.13 returned tgt)
    add("dec-num_layers-0", spec_of(DEC(DL(), 0), tgt=T((4, 2, 8)), memory=T((6, 2, 8))), False)
    add("dec-num_layers-0-norm", spec_of(DEC(DL(), 0, norm=LN(8)), tgt=T((4, 2, 8)), memory=T((6, 2, 8))), False)
    add("dec-num_layers-0-int-mask", spec_of(DEC(DL(), 0), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                             tgt_mask=T((4, 4), "int64")), False)
    add("dec-num_layers-minus-1", spec_of(DEC(DL(), -1), tgt=T((4, 2, 8)), memory=T((6, 2, 8))), False)
    # norm
    for ns in (6, 16, [4, 8]):
        add("dec-norm-{}".format(ns if isinstance(ns, int) else shape_tag(ns)),
            spec_of(DEC(DL(), 2, norm=LN(ns)), tgt=T((4, 2, 8)), memory=T((6, 2, 8))), False)
    # rank / dims
    add("dec-tgt-1d", spec_of(DEC(DL(), 2), tgt=T((8,)), memory=T((6, 2, 8))), False)
    add("dec-tgt-1d-bf", spec_of(DEC(DL(batch_first=True), 2), tgt=T((8,)), memory=T((2, 6, 8))), False)
    add("dec-tgt-1d-bf-mask", spec_of(DEC(DL(batch_first=True), 2), tgt=T((8,)), memory=T((2, 6, 8)),
                                      tgt_mask=T((1, 1), "int64")), False)
    add("dec-tgt-4d", spec_of(DEC(DL(), 2), tgt=T((1, 4, 2, 8)), memory=T((6, 2, 8))), False)
    add("dec-memory-1d", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((8,))), False)
    add("dec-memory-4d", spec_of(DEC(DL(norm_first=True), 2), tgt=T((4, 2, 8)), memory=T((1, 6, 2, 8))), False)
    for nf in (False, True):
        t = "normfirst" if nf else "postnorm"
        add("dec-tgt-lastdim-" + t, spec_of(DEC(DL(norm_first=nf), 2), tgt=T((4, 2, 6)), memory=T((6, 2, 8))), False)
        add("dec-memory-lastdim-" + t, spec_of(DEC(DL(norm_first=nf), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 6))),
            False)
    add("dec-memory-batch", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 3, 8))), False)
    add("dec-memory-batch-bf", spec_of(DEC(DL(batch_first=True), 2), tgt=T((2, 4, 8)), memory=T((3, 6, 8))), False)
    add("dec-memory-NSE-to-seq-first", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((2, 6, 8))), False)
    for shape in ((4, 5), (3, 4, 4)):
        add("dec-tgt_mask-{}".format(shape_tag(shape)), spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                                               tgt_mask=T(shape, "bool")), False)
    for shape in ((4, 4), (6, 4), (2, 4, 6)):
        add("dec-memory_mask-{}".format(shape_tag(shape)),
            spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)), memory_mask=T(shape, "bool")), False)
    add("dec-tgt_kpm-wrong", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                     tgt_key_padding_mask=T((2, 6), "bool")), False)
    add("dec-memory_kpm-wrong", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                        memory_key_padding_mask=T((2, 4), "bool")), False)
    add("dec-memory_kpm-rank", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                       memory_key_padding_mask=T((6,), "bool")), False)
    add("dec-mismatch-warning", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                        tgt_mask=T((4, 4), "float32"), tgt_key_padding_mask=T((2, 4), "bool")), True)
    add("dec-tgt_mask-float64", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                        tgt_mask=T((4, 4), "float64")), False)
    add("dec-tgt-f64", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8), "float64"), memory=T((6, 2, 8), "float64")), False)
    add("dec-tgt-4d-bf", spec_of(DEC(DL(batch_first=True), 1), tgt=T((2, 2, 4, 8)), memory=T((2, 6, 8))), False)
    add("dec-tgt-lastdim-unbatched", spec_of(DEC(DL(), 2), tgt=T((4, 16)), memory=T((6, 8))), False)
    add("dec-memory-lastdim-bf", spec_of(DEC(DL(batch_first=True), 2), tgt=T((2, 4, 8)), memory=T((2, 6, 12))), False)
    add("dec-mismatch-memory", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                       memory_mask=T((4, 6), "float32"),
                                       memory_key_padding_mask=T((2, 6), "bool")), True)
    add("dec-mismatch-both", spec_of(DEC(DL(batch_first=True), 1), tgt=T((2, 4, 8)), memory=T((2, 6, 8)),
                                     tgt_mask=T((4, 4), "float32"), tgt_key_padding_mask=T((2, 4), "bool"),
                                     memory_mask=T((4, 6), "float32"),
                                     memory_key_padding_mask=T((2, 6), "bool")), True)
    add("dec-memory_mask-float64", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                           memory_mask=T((4, 6), "float64")), False)
    add("dec-tgt_mask-float64-3d", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8)),
                                           tgt_mask=T((4, 4, 4), "float64")), False)
    add("dec-memory-f64", spec_of(DEC(DL(), 2), tgt=T((4, 2, 8)), memory=T((6, 2, 8), "float64")), False)
    for d, h in ((8, 5), (12, 8), (6, 4)):
        add("dec-layer-ctor-d{}-h{}".format(d, h), spec_of(DEC(DL(d, h), 2), tgt=T((4, 2, d)), memory=T((6, 2, d))),
            False)
    for act in ("softmax", "GELU", "identity"):
        add("dec-layer-ctor-activation-" + act, spec_of(DEC(DL(activation=act), 2), tgt=T((4, 2, 8)),
                                                        memory=T((6, 2, 8))), False)
    for i in range(30):
        cfg = random_layer_cfg(rng, decoder=True)
        n = rng.randint(1, 3)
        norm = LN(cfg["d"], dtype=cfg["dtype"]) if rng.random() < 0.5 else None
        m = DEC(cfg_layer_module(cfg, decoder=True), n, norm=norm)
        add("dec-random-{:02d}-n{}-{}".format(i, n, cfg_tag(cfg)), dec_layer_spec(cfg, m), True)


# ---------------------------------------------------------------------------------------------
# Transformer
# ---------------------------------------------------------------------------------------------

def transformer_cases(cases, rng):
    add = cases.add
    # the documentation's example, with the default sizes
    add("tr-doc-example", spec_of(module("Transformer", OrderedDict(), TRANSFORMER_DEFAULTS,
                                         {"nhead": 16, "num_encoder_layers": 12}),
                                  src=T((10, 32, 512)), tgt=T((20, 32, 512))), True)
    for bf in (False, True):
        for nf in (False, True):
            tag = "{}-{}".format("bf" if bf else "sf", "normfirst" if nf else "postnorm")
            m = TR(batch_first=bf, norm_first=nf)
            add("tr-valid-" + tag, spec_of(m, src=T(sq(bf, 6, 2, 8)), tgt=T(sq(bf, 4, 2, 8))), True)
            add("tr-valid-unbatched-" + tag, spec_of(m, src=T((6, 8)), tgt=T((4, 8))), True)
            add("tr-valid-masks-" + tag, spec_of(m, src=T(sq(bf, 6, 2, 8)), tgt=T(sq(bf, 4, 2, 8)),
                                                 src_mask=T((6, 6), "bool"), tgt_mask=causal(4),
                                                 memory_mask=T((4, 6), "bool"),
                                                 src_key_padding_mask=T((2, 6), "bool"),
                                                 tgt_key_padding_mask=T((2, 4), "bool"),
                                                 memory_key_padding_mask=T((2, 6), "bool")), True)
    add("tr-valid-layers", spec_of(TR(12, 3, 2, 3, 24), src=T((5, 2, 12)), tgt=T((3, 2, 12))), True)
    add("tr-valid-nobias-gelu", spec_of(TR(bias=False, activation="gelu"), src=T((5, 2, 8)), tgt=T((3, 2, 8))), True)
    add("tr-valid-f64", spec_of(TR(dtype="float64"), src=T((5, 2, 8), "float64"), tgt=T((3, 2, 8), "float64"),
                                tgt_mask=T((3, 3), "float64")), True)
    add("tr-valid-causal-both", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), src_mask=causal(5),
                                        tgt_mask=causal(3)), True)
    add("tr-valid-float-masks", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), src_mask=T((5, 5), "float32"),
                                        tgt_mask=T((3, 3), "float32"), memory_mask=T((3, 5), "float32")), True)
    add("tr-valid-mask3d", spec_of(TR(batch_first=True), src=T((2, 5, 8)), tgt=T((2, 3, 8)),
                                   src_mask=T((4, 5, 5), "bool"), tgt_mask=T((4, 3, 3), "bool"),
                                   memory_mask=T((4, 3, 5), "bool")), True)
    add("tr-valid-seq-len-1", spec_of(TR(), src=T((1, 3, 8)), tgt=T((1, 3, 8))), True)
    add("tr-valid-tgt_is_causal", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), tgt_mask=causal(3),
                                          tgt_is_causal=True), True)
    # batch / feature checks
    add("tr-batch-mismatch-sf", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 3, 8))), False)
    add("tr-batch-mismatch-bf", spec_of(TR(batch_first=True), src=T((2, 5, 8)), tgt=T((3, 3, 8))), False)
    add("tr-batch-mismatch-NSE-to-seq-first", spec_of(TR(), src=T((2, 5, 8)), tgt=T((2, 3, 8))), False)
    add("tr-batch-mismatch-tgt-2d", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 8))), False)
    add("tr-feature-src", spec_of(TR(), src=T((5, 2, 6)), tgt=T((3, 2, 8))), False)
    add("tr-feature-tgt", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 16))), False)
    add("tr-feature-unbatched", spec_of(TR(), src=T((5, 4)), tgt=T((3, 8))), False)
    add("tr-feature-bf", spec_of(TR(batch_first=True), src=T((2, 5, 8)), tgt=T((2, 3, 4))), False)
    add("tr-feature-and-batch", spec_of(TR(), src=T((5, 2, 6)), tgt=T((3, 3, 8))), False)
    # rank
    add("tr-src-1d", spec_of(TR(), src=T((8,)), tgt=T((3, 2, 8))), False)
    add("tr-src-1d-tgt-1d", spec_of(TR(), src=T((8,)), tgt=T((8,))), False)
    add("tr-tgt-1d", spec_of(TR(), src=T((5, 2, 8)), tgt=T((8,))), False)
    add("tr-src-1d-bf", spec_of(TR(batch_first=True), src=T((8,)), tgt=T((2, 3, 8))), False)
    add("tr-src-2d-tgt-3d", spec_of(TR(), src=T((5, 8)), tgt=T((3, 2, 8))), False)
    add("tr-src-4d", spec_of(TR(), src=T((1, 5, 2, 8)), tgt=T((3, 2, 8))), False)
    add("tr-tgt-4d", spec_of(TR(), src=T((5, 2, 8)), tgt=T((1, 3, 2, 8))), False)
    # masks
    add("tr-src_mask-shape", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), src_mask=T((3, 3), "bool")), False)
    add("tr-tgt_mask-shape", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), tgt_mask=T((5, 5), "bool")), False)
    add("tr-memory_mask-shape", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), memory_mask=T((5, 3), "bool")),
        False)
    add("tr-memory_mask-3d-shape", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)),
                                           memory_mask=T((2, 3, 5), "bool")), False)
    add("tr-src_kpm-shape", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)),
                                    src_key_padding_mask=T((2, 3), "bool")), False)
    add("tr-tgt_kpm-shape", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)),
                                    tgt_key_padding_mask=T((2, 5), "bool")), False)
    add("tr-memory_kpm-shape", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)),
                                       memory_key_padding_mask=T((2, 3), "bool")), False)
    add("tr-memory_kpm-rank", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)),
                                      memory_key_padding_mask=T((5,), "bool")), False)
    add("tr-tgt_mask-causal-wrong-size", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), tgt_mask=causal(5)), False)
    for dt in ("int64", "uint8"):
        add("tr-src_mask-" + dt, spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), src_mask=T((5, 5), dt)), False)
        add("tr-tgt_mask-" + dt, spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), tgt_mask=T((3, 3), dt)), False)
        add("tr-tgt_mask-{}-is_causal-false".format(dt),
            spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), tgt_mask=T((3, 3), dt), tgt_is_causal=False), False)
        add("tr-memory_mask-" + dt, spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), memory_mask=T((3, 5), dt)),
            False)
        add("tr-src_kpm-" + dt, spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)),
                                        src_key_padding_mask=T((2, 5), dt)), False)
    add("tr-tgt_mask-int32", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), tgt_mask=T((3, 3), "int32")), False)
    add("tr-tgt_mask-float64", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), tgt_mask=T((3, 3), "float64")),
        False)
    add("tr-memory_mask-float64", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)),
                                          memory_mask=T((3, 5), "float64")), False)
    add("tr-src_mask-float64", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), src_mask=T((5, 5), "float64")),
        False)
    add("tr-mismatch-src-masks", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), src_mask=T((5, 5), "float32"),
                                         src_key_padding_mask=T((2, 5), "bool")), True)
    add("tr-mismatch-tgt-masks", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), tgt_mask=causal(3),
                                         tgt_key_padding_mask=T((2, 3), "bool")), True)
    # is_causal hints without masks
    add("tr-src_is_causal-no-mask", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), src_is_causal=True), False)
    add("tr-tgt_is_causal-no-mask", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), tgt_is_causal=True), False)
    add("tr-memory_is_causal-no-mask", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8)), memory_is_causal=True),
        False)
    # dtypes
    add("tr-src-f64", spec_of(TR(), src=T((5, 2, 8), "float64"), tgt=T((3, 2, 8))), False)
    add("tr-tgt-f64", spec_of(TR(), src=T((5, 2, 8)), tgt=T((3, 2, 8), "float64")), False)
    add("tr-module-f64", spec_of(TR(dtype="float64", norm_first=True), src=T((5, 2, 8)), tgt=T((3, 2, 8))), False)
    # constructor / layer counts
    for d, h in ((8, 3), (10, 4), (8, 0)):
        add("tr-ctor-d{}-h{}".format(d, h), spec_of(TR(d, h), src=T((5, 2, d)), tgt=T((3, 2, d))), False)
    for act in ("tanh", "leaky_relu", "RELU"):
        add("tr-ctor-activation-" + act, spec_of(TR(activation=act), src=T((5, 2, 8)), tgt=T((3, 2, 8))), False)
    add("tr-num_encoder_layers-0", spec_of(TR(ne=0), src=T((5, 2, 8)), tgt=T((3, 2, 8))), False)
    add("tr-num_decoder_layers-0", spec_of(TR(nd=0), src=T((5, 2, 8)), tgt=T((3, 2, 8))), False)
    add("tr-num_layers-0-0", spec_of(TR(ne=0, nd=0), src=T((5, 2, 8)), tgt=T((3, 2, 8))), False)
    for i in range(30):
        cfg = random_layer_cfg(rng, decoder=True)
        ddt = cfg["dtype"] or "float32"
        ne, nd = rng.randint(1, 2), rng.randint(1, 2)
        m = TR(cfg["d"], cfg["h"], ne, nd, cfg["dff"], cfg["dropout"], activation=cfg["act"], batch_first=cfg["bf"],
               norm_first=cfg["nf"], bias=cfg["bias"], dtype=cfg["dtype"])
        L, S = cfg["L"], cfg["S"]
        src_mask = cfg_attn_mask(cfg, cfg["am"], cfg["am_dt"], S, S)
        if cfg["am"] == "2d" and rng.random() < 0.5 and not cfg["dtype"]:
            src_mask = causal(S)
        s = spec_of(m, src=T(cfg_seq(cfg, S), ddt), tgt=T(cfg_seq(cfg, L), ddt), src_mask=src_mask,
                    tgt_mask=cfg_attn_mask(cfg, cfg["am"] and "2d", cfg["am_dt"], L, L),
                    memory_mask=cfg_attn_mask(cfg, cfg["mm"], cfg["mm_dt"], L, S),
                    src_key_padding_mask=cfg_kpm(cfg, cfg["kpm"], cfg["kpm_dt"], S),
                    tgt_key_padding_mask=cfg_kpm(cfg, cfg["kpm"], cfg["kpm_dt"], L),
                    memory_key_padding_mask=cfg_kpm(cfg, cfg["mkpm"], cfg["mkpm_dt"], S))
        add("tr-random-{:02d}-e{}d{}-{}".format(i, ne, nd, cfg_tag(cfg)), s, True)


# ---------------------------------------------------------------------------------------------
# Random invalid calls: one mutation of a random valid call, for each transformer module
# ---------------------------------------------------------------------------------------------

DATA_ARGS = {"TransformerEncoderLayer": ("src",), "TransformerEncoder": ("src",),
             "TransformerDecoderLayer": ("tgt", "memory"), "TransformerDecoder": ("tgt", "memory"),
             "Transformer": ("src", "tgt")}
SELF_MASK = {"TransformerEncoderLayer": ("src_mask", "src"), "TransformerEncoder": ("mask", "src"),
             "TransformerDecoderLayer": ("tgt_mask", "tgt"), "TransformerDecoder": ("tgt_mask", "tgt"),
             "Transformer": ("tgt_mask", "tgt")}


def random_valid_spec(rng, kind):
    """A random valid call of a transformer module (configurations as the random-valid families)."""
    decoder = kind in ("TransformerDecoderLayer", "TransformerDecoder", "Transformer")
    cfg = random_layer_cfg(rng, decoder=decoder)
    cfg["dtype"] = None  # float64 data would make every mutation a dtype error
    for k in ("am_dt", "kpm_dt", "mm_dt", "mkpm_dt"):
        if cfg.get(k) == "float64":
            cfg[k] = "bool"
    if kind == "TransformerEncoderLayer":
        return enc_layer_spec(cfg)
    if kind == "TransformerDecoderLayer":
        return dec_layer_spec(cfg)
    if kind == "TransformerEncoder":
        return enc_layer_spec(cfg, ENC(cfg_layer_module(cfg), rng.randint(1, 2)), "mask")
    if kind == "TransformerDecoder":
        return dec_layer_spec(cfg, DEC(cfg_layer_module(cfg, decoder=True), rng.randint(1, 2)))
    m = TR(cfg["d"], cfg["h"], rng.randint(1, 2), rng.randint(1, 2), cfg["dff"], cfg["dropout"],
           activation=cfg["act"], batch_first=cfg["bf"], norm_first=cfg["nf"], bias=cfg["bias"])
    L, S = cfg["L"], cfg["S"]
    return spec_of(m, src=T(cfg_seq(cfg, S)), tgt=T(cfg_seq(cfg, L)),
                   src_mask=cfg_attn_mask(cfg, cfg["am"], cfg["am_dt"], S, S),
                   memory_mask=cfg_attn_mask(cfg, cfg["mm"], cfg["mm_dt"], L, S),
                   src_key_padding_mask=cfg_kpm(cfg, cfg["kpm"], cfg["kpm_dt"], S),
                   memory_key_padding_mask=cfg_kpm(cfg, cfg["mkpm"], cfg["mkpm_dt"], S))


def module_batch_first(m):
    for k in ("encoder_layer", "decoder_layer"):
        if k in m:
            return m[k].get("batch_first", False)
    return m.get("batch_first", False)


def mutate(rng, spec):
    """One random mistake in a valid call; returns (tag, spec) or None when it does not apply."""
    s = copy.deepcopy(spec)
    kind = s["module"]["type"]
    bf = module_batch_first(s["module"])
    masks = [k for k in s if k.endswith("_mask") or k == "mask"]
    attn_masks = [k for k in masks if "key_padding" not in k]
    kpms = [k for k in masks if "key_padding" in k]
    what = rng.choice(["lastdim", "rank", "attn_mask", "kpm", "kpm_batch", "batch", "mask_dtype", "data_dtype"])
    if what == "lastdim":
        arg = rng.choice(DATA_ARGS[kind])
        d = s[arg]["shape"][-1]
        s[arg]["shape"][-1] = rng.choice([d + 2, 2 * d, max(d // 2, 1) if d > 1 else 3])
        return "{}-lastdim".format(arg), s
    if what == "rank":
        arg = rng.choice(DATA_ARGS[kind])
        shape = s[arg]["shape"]
        s[arg]["shape"] = [shape[-1]] if rng.random() < 0.5 else [1] * (4 - len(shape)) + shape
        return "{}-{}d".format(arg, len(s[arg]["shape"])), s
    if what == "attn_mask":
        if attn_masks:
            k = rng.choice(attn_masks)
            if "causal" in s[k]:
                n = s[k]["causal"][0] + 1
                s[k] = causal(n)
            elif len(s[k]["shape"]) == 3 and rng.random() < 0.5:
                s[k]["shape"][0] += 1
            else:
                s[k]["shape"][-1] += 1
            return "{}-shape".format(k), s
        k, arg = SELF_MASK[kind]
        shape = s[arg]["shape"]
        L = shape[0] if len(shape) == 2 else shape[1 if bf else 0]
        s[k] = T((L, L + 1), "bool")
        return "{}-shape".format(k), s
    if what == "kpm":
        if not kpms:
            return None
        k = rng.choice(kpms)
        s[k]["shape"][-1] += 1
        return "{}-length".format(k), s
    if what == "kpm_batch":
        kpms = [k for k in kpms if len(s[k]["shape"]) == 2]
        if not kpms:
            return None
        k = rng.choice(kpms)
        s[k]["shape"][0] += 1
        return "{}-batch".format(k), s
    if what == "batch":
        if kind in ("TransformerEncoderLayer", "TransformerEncoder"):
            return None
        arg = "memory" if "memory" in s else "tgt"
        shape = s[arg]["shape"]
        if len(shape) != 3:
            return None
        shape[0 if bf else 1] += 1
        return "{}-batch".format(arg), s
    if what == "mask_dtype":
        if not masks:
            return None
        k = rng.choice(masks)
        if "causal" in s[k]:
            return None
        s[k]["dtype"] = rng.choice(["int64", "uint8"])
        return "{}-{}".format(k, s[k]["dtype"]), s
    arg = rng.choice(DATA_ARGS[kind])
    s[arg]["dtype"] = "float64"
    return "{}-float64".format(arg), s


def random_invalid_cases(cases, rng, per_module=14):
    prefixes = {"TransformerEncoderLayer": "el", "TransformerDecoderLayer": "dl", "TransformerEncoder": "enc",
                "TransformerDecoder": "dec", "Transformer": "tr"}
    for kind, prefix in prefixes.items():
        made = 0
        while made < per_module:
            m = mutate(rng, random_valid_spec(rng, kind))
            if m is None:
                continue
            tag, spec = m
            cases.add("{}-mutation-{:02d}-{}".format(prefix, made, tag), spec)
            made += 1


# ---------------------------------------------------------------------------------------------
# Linear, LayerNorm, Embedding
# ---------------------------------------------------------------------------------------------

def linear_cases(cases, rng):
    add = cases.add
    for shape in ((8,), (3, 8), (2, 3, 8), (2, 2, 3, 8), (2, 1, 2, 3, 8), (0, 8), (2, 0, 8)):
        for bias in (True, False):
            add("lin-valid-{}{}".format(shape_tag(shape), "" if bias else "-nobias"),
                spec_of(LIN(8, 4, bias=bias), input=T(shape)), True)
    add("lin-valid-f64", spec_of(LIN(8, 4, dtype="float64"), input=T((3, 8), "float64")), True)
    add("lin-valid-f64-3d-nobias", spec_of(LIN(8, 4, bias=False, dtype="float64"), input=T((2, 3, 8), "float64")), True)
    add("lin-valid-in0", spec_of(LIN(0, 4), input=T((3, 0))), True)
    add("lin-valid-out1", spec_of(LIN(16, 1), input=T((5, 16))), True)
    # in_features mismatch: every rank, with and without bias
    for shape in ((7,), (3, 7), (2, 3, 7), (2, 2, 3, 7), (1, 2, 2, 3, 7), (3, 16), (5, 4), (2, 3, 0)):
        for bias in (True, False):
            add("lin-in-mismatch-{}{}".format(shape_tag(shape), "" if bias else "-nobias"),
                spec_of(LIN(8, 4, bias=bias), input=T(shape)), False)
    add("lin-transposed-input", spec_of(LIN(8, 4), input=T((8, 3))), False)
    # dtype mismatch
    for shape in ((8,), (3, 8), (2, 3, 8), (2, 2, 3, 8)):
        for bias in (True, False):
            nb = "" if bias else "-nobias"
            add("lin-input-f64-module-f32-{}{}".format(shape_tag(shape), nb),
                spec_of(LIN(8, 4, bias=bias), input=T(shape, "float64")), False)
            add("lin-input-f32-module-f64-{}{}".format(shape_tag(shape), nb),
                spec_of(LIN(8, 4, bias=bias, dtype="float64"), input=T(shape)), False)
    add("lin-dtype-and-shape", spec_of(LIN(8, 4), input=T((3, 7), "float64")), False)
    add("lin-dtype-and-shape-nobias", spec_of(LIN(8, 4, bias=False), input=T((3, 7), "float64")), False)
    add("lin-dtype-and-shape-3d", spec_of(LIN(8, 4), input=T((2, 3, 7), "float64")), False)
    add("lin-int64-input", spec_of(LIN(8, 4), input=T((3, 8), "int64")), False)
    add("lin-int64-input-nobias", spec_of(LIN(8, 4, bias=False), input=T((2, 3, 8), "int64")), False)
    add("lin-f16-input", spec_of(LIN(8, 4), input=T((3, 8), "float16")), False)
    add("lin-0d-input", spec_of(LIN(8, 4), input=T(())), False)
    add("lin-0d-input-nobias", spec_of(LIN(8, 4, bias=False), input=T(())), False)
    for i in range(20):
        inf, outf = rng.choice([1, 3, 8, 16]), rng.choice([1, 2, 5, 8])
        rank = rng.randint(1, 4)
        shape = tuple(rng.randint(1, 4) for _ in range(rank - 1)) + (inf,)
        bias = rng.random() < 0.7
        dt = "float64" if rng.random() < 0.2 else None
        add("lin-random-{:02d}-in{}-out{}-{}{}".format(i, inf, outf, shape_tag(shape), "" if bias else "-nobias"),
            spec_of(LIN(inf, outf, bias=bias, dtype=dt), input=T(shape, dt or "float32")), True)


def layer_norm_cases(cases, rng):
    add = cases.add
    for shape in ((8,), (3, 8), (2, 3, 8), (2, 2, 3, 8), (0, 8)):
        add("ln-valid-int-{}".format(shape_tag(shape)), spec_of(LN(8), input=T(shape)), True)
        add("ln-valid-list-{}".format(shape_tag(shape)), spec_of(LN([8]), input=T(shape)), True)
    for shape in ((2, 8), (3, 2, 8), (4, 3, 2, 8)):
        add("ln-valid-2d-shape-{}".format(shape_tag(shape)), spec_of(LN([2, 8]), input=T(shape)), True)
    add("ln-valid-3d-shape", spec_of(LN([3, 2, 8]), input=T((5, 3, 2, 8))), True)
    add("ln-valid-no-affine", spec_of(LN(8, elementwise_affine=False), input=T((3, 8))), True)
    add("ln-valid-no-affine-f64-input", spec_of(LN(8, elementwise_affine=False), input=T((3, 8), "float64")), True)
    add("ln-valid-nobias", spec_of(LN(8, bias=False), input=T((2, 3, 8))), True)
    add("ln-valid-nobias-list", spec_of(LN([3, 8], bias=False), input=T((2, 3, 8))), True)
    add("ln-valid-f64", spec_of(LN(8, dtype="float64"), input=T((2, 3, 8), "float64")), True)
    add("ln-valid-eps", spec_of(LN(16, eps=1e-6), input=T((4, 16))), True)
    add("ln-valid-one", spec_of(LN(1), input=T((5, 1))), True)
    # trailing dims mismatch
    for shape in ((7,), (3, 7), (2, 3, 16), (8, 3), (2, 8, 3)):
        add("ln-int-mismatch-{}".format(shape_tag(shape)), spec_of(LN(8), input=T(shape)), False)
    for shape in ((3, 8), (2, 3, 8), (2, 8, 2), (4, 3, 8)):
        add("ln-list-mismatch-{}".format(shape_tag(shape)), spec_of(LN([2, 8]), input=T(shape)), False)
    add("ln-list-mismatch-swapped", spec_of(LN([8, 2]), input=T((3, 2, 8))), False)
    # fewer dims than normalized_shape
    add("ln-fewer-dims", spec_of(LN([2, 8]), input=T((8,))), False)
    add("ln-fewer-dims-3", spec_of(LN([3, 2, 8]), input=T((2, 8))), False)
    add("ln-fewer-dims-3-of-1", spec_of(LN([3, 2, 8]), input=T((8,))), False)
    add("ln-0d-input", spec_of(LN(8), input=T(())), False)
    add("ln-no-affine-mismatch", spec_of(LN(8, elementwise_affine=False), input=T((3, 6))), False)
    add("ln-nobias-mismatch", spec_of(LN(8, bias=False), input=T((3, 6))), False)
    # dtype mismatch (2.x: before the shape check)
    for shape in ((3, 8), (2, 3, 8), (8,)):
        add("ln-input-f64-module-f32-{}".format(shape_tag(shape)), spec_of(LN(8), input=T(shape, "float64")), False)
        add("ln-input-f32-module-f64-{}".format(shape_tag(shape)),
            spec_of(LN(8, dtype="float64"), input=T(shape)), False)
    add("ln-input-f64-module-f32-bad-shape", spec_of(LN(8), input=T((3, 6), "float64")), False)
    add("ln-input-f32-module-f64-bad-shape", spec_of(LN(8, dtype="float64"), input=T((3, 6))), False)
    add("ln-input-f64-nobias", spec_of(LN(8, bias=False), input=T((3, 8), "float64")), False)
    for i in range(16):
        ns = [rng.randint(1, 5) for _ in range(rng.randint(1, 2))]
        lead = [rng.randint(1, 4) for _ in range(rng.randint(0, 2))]
        bias = rng.random() < 0.8
        add("ln-random-{:02d}-{}-{}".format(i, shape_tag(ns), shape_tag(lead + ns)),
            spec_of(LN(ns if rng.random() < 0.5 or len(ns) > 1 else ns[0], bias=bias), input=T(lead + ns)), True)


def embedding_cases(cases, rng):
    add = cases.add
    for shape in ((), (3,), (2, 3), (2, 3, 4), (1, 2, 1, 3), (0,), (2, 0)):
        for dt in ("int64", "int32"):
            add("emb-valid-{}-{}".format(dt, shape_tag(shape)), spec_of(EMB(10, 4), input=T(shape, dt)), True)
    add("emb-valid-f64", spec_of(EMB(10, 4, dtype="float64"), input=T((2, 3), "int64")), True)
    add("emb-valid-one", spec_of(EMB(1, 1), input=T((5,), "int64")), True)
    for pi in (0, 9, -1, -10, -3):
        add("emb-valid-padding_idx-{}".format(pi if pi >= 0 else "minus-{}".format(-pi)), spec_of(EMB(10, 4, padding_idx=pi), input=T((2, 3), "int64")),
            True)
    # float (and other) index dtypes
    for dt in ("float32", "float64", "float16", "uint8", "int8", "int16", "bool", "bfloat16"):
        add("emb-input-{}".format(dt), spec_of(EMB(10, 4), input=T((2, 3), dt)), False)
    add("emb-input-float32-1d", spec_of(EMB(10, 4), input=T((5,), "float32")), False)
    add("emb-input-float32-3d", spec_of(EMB(10, 4, padding_idx=0), input=T((2, 3, 4), "float32")), False)
    add("emb-input-float32-0d", spec_of(EMB(10, 4), input=T((), "float32")), False)
    # padding_idx out of range
    for pi in (10, 11, 100, -11, -20):
        add("emb-padding_idx-{}".format(pi if pi >= 0 else "minus-{}".format(-pi)), spec_of(EMB(10, 4, padding_idx=pi), input=T((2, 3), "int64")), False)
    add("emb-padding_idx-1-of-1", spec_of(EMB(1, 4, padding_idx=1), input=T((2,), "int64")), False)
    add("emb-padding_idx-bad-and-float-input", spec_of(EMB(10, 4, padding_idx=12), input=T((2,), "float32")), False)
    add("emb-negative-num_embeddings", spec_of(EMB(-1, 4), input=T((2,), "int64")), False)
    add("emb-negative-embedding_dim", spec_of(EMB(10, -4), input=T((2,), "int64")), False)
    for i in range(14):
        n, d = rng.choice([2, 5, 100, 1000]), rng.choice([1, 3, 8, 16])
        shape = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 3)))
        dt = rng.choice(["int64", "int32"])
        add("emb-random-{:02d}-n{}-d{}-{}-{}".format(i, n, d, dt, shape_tag(shape)),
            spec_of(EMB(n, d), input=T(shape, dt)), True)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "transformer_cases.json"))
    args = ap.parse_args()

    rng = seed_everything(SEED)
    warnings.simplefilter("ignore")  # the replay's own 1.13 calls; run_113 records its warnings itself

    cases = Cases()
    encoder_layer_cases(cases, rng)
    decoder_layer_cases(cases, rng)
    encoder_cases(cases, rng)
    decoder_cases(cases, rng)
    transformer_cases(cases, rng)
    random_invalid_cases(cases, rng)
    linear_cases(cases, rng)
    layer_norm_cases(cases, rng)
    embedding_cases(cases, rng)

    lines = ['{{"generator": {}, "torch_version": {}, "cases": ['.format(
        json.dumps(GENERATOR), json.dumps(torch.__version__))]
    for i, case in enumerate(cases.items):
        sep = "," if i + 1 < len(cases.items) else ""
        lines.append(json.dumps(case, separators=(",", ":")) + sep)
    lines.append("]}")
    text = "\n".join(lines) + "\n"
    assert len(json.loads(text)["cases"]) == len(cases.items)
    with open(args.out, "w") as fh:
        fh.write(text)

    # summary
    per_module = Counter()
    valid = Counter()
    kinds = Counter()
    for case in cases.items:
        t = case["spec"]["module"]["type"]
        per_module[t] += 1
        valid[t] += case["expect"]["ok"]
        e = case["expect"]
        kinds["ok" if e["ok"] else e["error"]["type"]] += 1
    print("wrote {} cases to {} ({} bytes)".format(len(cases.items), args.out, os.path.getsize(args.out)))
    for t in FORWARD_ARGS:
        print("  {:26s} {:4d} cases, {:3d} valid, {:3d} invalid".format(t, per_module[t], valid[t],
                                                                       per_module[t] - valid[t]))
    print("  valid {} / invalid {}".format(sum(valid.values()), len(cases.items) - sum(valid.values())))
    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print("  {:30s} {}".format(k, v))
    print("  with pytorch_2x notes: {}".format(sum("pytorch_2x" in c for c in cases.items)))
    print("  with warnings: {}".format(sum("warnings" in c for c in cases.items)))
    print("  synthesized messages: {}".format(sum(c["synthesized"] for c in cases.items)))
    print("  verified against real 1.13 (no 2.x-specific branch): {}".format(cases.verified))
    if cases.skipped:
        print("  left out (2.x behaviour not certain): {}".format(len(cases.skipped)))
        for name, reason in cases.skipped:
            print("    {}: {}".format(name, reason))
    return 0


if __name__ == "__main__":
    sys.exit(main())
