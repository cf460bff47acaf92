#!/usr/bin/env python3
"""Injects attention bugs into real torchvision / torchaudio models the way a user writes them
(a submodule's forward monkeypatched, a module swapped), traces each with `mhacheck.trace`, checks
the spec, and scores mhacheck: flagged, located at the user's line, first fix right.

Usage, from the repository root (Debian's /usr/bin/python3, which has torch):
    bench/trace/inject.py [--binary build/mhacheck] [--only CASE ...] [--json FILE]

Each case names:
- the model (small configurations of the real classes: random weights, on the CPU),
- the injection (a function here replacing a forward, or a module swapped in),
- the line a user would expect the diagnostic at (`#: CASE` in this file, or a line of the library
  where the swapped module is called),
- the right repair, applied to the model in PyTorch (the repaired model must run and give the
  clean model's output), and a regular expression that mhacheck's first fix must match to be that
  repair.
PyTorch's own verdict is the trace's: `Spec.error` is the exception the model raised at the
tracer's probe sizes (None: it ran silently). Cases whose bug is in values, not shapes, are also
replayed with `mhacheck run` (values=True). Prints a row per case and the totals; asserts nothing.
"""
import argparse
import ast
import inspect
import json
import math
import os
import re
import sys
import tempfile
import textwrap
import types

import torch
from torch import nn
from torch.nn import functional as F

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
sys.path.insert(0, os.path.join(REPOSITORY, "python"))

import mhacheck  # noqa: E402  (after the path above)
from mhacheck._check import run_binary  # noqa: E402
from mhacheck._spec import Shape  # noqa: E402

HERE = os.path.abspath(__file__)


# --- models -------------------------------------------------------------------------------------

def small_vit():
    """torchvision's VisionTransformer, vit_b_32's structure at a small size: 32x32 images in 8x8
    patches (16 tokens + the class token), 4 heads of 16."""
    from torchvision.models import vision_transformer
    torch.manual_seed(0)
    model = vision_transformer.VisionTransformer(image_size=32, patch_size=8, num_layers=1, num_heads=4,
                                                 hidden_dim=64, mlp_dim=128, num_classes=10).eval()
    # torchvision starts the head at zero, which makes every output its bias: random, as a trained
    # head is not zero, so that verify_fix's values depend on the attention
    torch.nn.init.normal_(model.heads.head.weight, std=0.1)
    return model


def small_wav2vec2():
    """The transformer of torchaudio's wav2vec 2.0 / HuBERT (`wav2vec2_model(...).encoder.transformer`,
    wav2vec2_base's options at width 64, 4 heads, 1 layer): self-attention written with Linear, view,
    transpose/permute, @ and softmax."""
    import torchaudio
    torch.manual_seed(0)
    model = torchaudio.models.wav2vec2_model(
        extractor_mode="group_norm", extractor_conv_layer_config=[(32, 10, 5)], extractor_conv_bias=False,
        encoder_embed_dim=64, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=8, encoder_pos_conv_groups=4,
        encoder_num_layers=1, encoder_num_heads=4, encoder_attention_dropout=0.0, encoder_ff_interm_features=128,
        encoder_ff_interm_dropout=0.0, encoder_dropout=0.0, encoder_layer_norm_first=False, encoder_layer_drop=0.0,
        aux_num_out=None)
    return model.encoder.transformer.eval()


def small_conformer():
    import torchaudio
    torch.manual_seed(0)
    return torchaudio.models.Conformer(input_dim=32, num_heads=4, ffn_dim=64, num_layers=1,
                                       depthwise_conv_kernel_size=3).eval()


def vit_input():
    return (mhacheck.shape("B", 3, 32, 32),)


def wav2vec2_input():
    return (mhacheck.shape("B", "T", 64),)


def conformer_input():
    return (mhacheck.shape("B", "T", 32), lambda sizes: torch.full((sizes["B"],), sizes["T"]))


# --- injected forwards: each bug's line is marked `#: CASE` --------------------------------------

def wav2vec2_attention(case):
    """A copy of torchaudio's SelfAttention.forward (components.py) with the bug of `case`, as a
    user would write it in their own subclass."""
    def forward(self, x, attention_mask=None):
        batch_size, length, embed_dim = x.size()
        shape = (batch_size, length, self.num_heads, self.head_dim)
        if case == "wav2vec2-transpose-dropped":
            q = self.q_proj(x).view(*shape)  #: wav2vec2-transpose-dropped
        else:
            q = self.q_proj(x).view(*shape).transpose(2, 1)
        if case == "wav2vec2-heads-not-dividing":
            heads = 5
            k = self.k_proj(x).view(batch_size, length, heads, embed_dim // heads)  #: wav2vec2-heads-not-dividing
            k = k.permute(0, 2, 3, 1)
        elif case == "wav2vec2-view-swapped-batch":
            k = self.k_proj(x).view(length, batch_size, self.num_heads, self.head_dim)  #: wav2vec2-view-swapped-batch
            k = k.permute(1, 2, 3, 0)
        else:
            k = self.k_proj(x).view(*shape).permute(0, 2, 3, 1)
        v = self.v_proj(x).view(*shape).transpose(2, 1)
        weights = (self.scaling * q) @ k  #: wav2vec2-scores
        weights = torch.nn.functional.softmax(weights, dim=-1)
        output = weights @ v
        if case == "wav2vec2-heads-merged-without-transpose":
            output = output.reshape(batch_size, length, embed_dim)  #: wav2vec2-heads-merged-without-transpose
        else:
            output = output.transpose(2, 1).reshape(batch_size, length, embed_dim)
        return self.out_proj(output)
    return forward


def vit_block(case):
    """torchvision's EncoderBlock.forward with the bug of `case`."""
    def forward(self, input):
        x = self.ln_1(input)
        if case == "vit-cross-attention-kdim":
            memory = self.memory_proj(x[:, 1:])
            x, _ = self.self_attention(x, memory, memory, need_weights=False)  #: vit-cross-attention-kdim
        elif case == "vit-attn-mask-transposed":
            memory = x[:, 1:]
            allowed = torch.ones(memory.shape[1], x.shape[1], dtype=torch.bool)
            x, _ = self.self_attention(x, memory, memory, attn_mask=~allowed, need_weights=False)  #: vit-attn-mask-transposed
        elif case in ("vit-mask-repeat", "vit-mask-repeat-fixed"):
            batch, tokens = x.shape[0], x.shape[1]
            keep = torch.ones(batch, tokens, tokens, dtype=torch.bool)
            keep[0, :, -1] = False  # batch entry 0 ignores the last token
            heads = self.self_attention.num_heads
            if case == "vit-mask-repeat":
                mask = (~keep).repeat(heads, 1, 1)  #: vit-mask-repeat
            else:
                mask = (~keep).repeat_interleave(heads, dim=0)  # batch-major, as attn_mask wants
            x, _ = self.self_attention(x, x, x, attn_mask=mask, need_weights=False)  #: vit-mask-repeat-call
        elif case == "vit-mask-per-entry":
            # the repair's reference, computed another way: each batch entry alone, with its own 2-D mask
            keep = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool)
            entries = []
            for entry in range(x.shape[0]):
                keep[:, -1] = entry != 0
                out, _ = self.self_attention(x[entry:entry + 1], x[entry:entry + 1], x[entry:entry + 1],
                                             attn_mask=~keep, need_weights=False)
                entries.append(out)
            x = torch.cat(entries)
        elif case == "vit-batch-major-into-seq-first":
            x = x.transpose(0, 1)  # the user believes the module is sequence-first ...
            x, _ = self.self_attention(x, x, x, need_weights=False)  #: vit-batch-major-into-seq-first
            x = x.transpose(0, 1)
        else:
            x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x)
        x = x + input
        return x + self.mlp(self.ln_2(x))
    return forward


def conformer_forward(case):
    """torchaudio's Conformer.forward with the padding mask of `case`."""
    from torchaudio.models.conformer import _lengths_to_padding_mask

    def forward(self, input, lengths):
        padding = _lengths_to_padding_mask(lengths)
        if case == "conformer-padding-mask-transposed":
            padding = padding.T  #: conformer-padding-mask-transposed
        if case == "conformer-padding-mask-inverted":
            padding = ~padding  #: conformer-padding-mask-inverted
        x = input.transpose(0, 1)
        for layer in self.conformer_layers:
            x = layer(x, padding)
        return x.transpose(0, 1), lengths
    return forward


def patch_forwards(model, module_type, make_forward, case):
    for module in model.modules():
        if isinstance(module, module_type):
            module.forward = types.MethodType(make_forward(case), module)
    return model


# --- library code with one line changed, as a user edits a copy of it --------------------------

INJECTED = os.path.join(tempfile.gettempdir(), "mhacheck-inject")


def _compiled(function, source, path, first_line, names):
    """`function` made again from `source` (its definition), compiled as `path` from `first_line`
    on, with the module's globals overridden by `names`."""
    tree = ast.parse(source)
    ast.increment_lineno(tree, first_line - 1)
    namespace = dict(function.__globals__, **names)
    exec(compile(tree, path, "exec"), namespace)  # noqa: S102 (the library's own source)
    return namespace[function.__name__]


def edited(function, case, old, new):
    """`function` (a library's function or method) with the text `old` of one of its lines
    replaced by `new`, marked `#: case`: its source is written to INJECTED/case.py (so that
    tracebacks and mhacheck show the edited line) and compiled from there."""
    source = textwrap.dedent(inspect.getsource(function))
    hits = [i for i, line in enumerate(source.splitlines()) if old in line]
    assert len(hits) == 1, (function, old, hits)
    text = source.splitlines()
    text[hits[0]] = text[hits[0]].replace(old, new) + "  #: " + case
    os.makedirs(INJECTED, exist_ok=True)
    path = os.path.join(INJECTED, case + ".py")
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(text) + "\n")
    return _compiled(function, "\n".join(text) + "\n", path, 1, {})


def unchanged(function, names):
    """`function` compiled again from its own file and lines, with the globals `names`
    overridden (ShiftedWindowAttention.forward calling an edited shifted_window_attention)."""
    lines, first = inspect.getsourcelines(function)
    return _compiled(function, textwrap.dedent("".join(lines)), inspect.getsourcefile(function), first, names)


def _edited_line(case, text):
    """(file, line) of the line holding `text` in the edited copy of `case` (written by `edited`)."""
    path = os.path.join(INJECTED, case + ".py")
    with open(path, encoding="utf-8") as source:
        found = [i + 1 for i, line in enumerate(source) if text in line]
    assert len(found) == 1, (path, text, found)
    return (path, found[0])


def _edit_method(cls, method, case, old, new):
    """Injects by replacing `method` on every instance of `cls` with its edited copy."""
    function = edited(getattr(cls, method), case, old, new)

    def inject(model):
        for module in model.modules():
            if isinstance(module, cls):
                setattr(module, method, types.MethodType(function, module))
        return model
    return inject


def _restore_method(cls, method):
    """The right repair of an _edit_method case: the library's line as it was."""
    def fix(model):
        for module in model.modules():
            if isinstance(module, cls) and method in vars(module):
                delattr(module, method)
        return model
    return fix


def small_swin():
    """torchvision's SwinTransformer at a small size: 32x32 images in 4x4 patches (8x8 tokens),
    windows of 4x4, two blocks (the second shifted), 2 heads of 16."""
    from torchvision.models import swin_transformer
    torch.manual_seed(0)
    return swin_transformer.SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2], num_heads=[2],
                                            window_size=[4, 4], stochastic_depth_prob=0.0, num_classes=10).eval()


def _edit_swin(case, old, new):
    from torchvision.models import swin_transformer

    attention = edited(swin_transformer.shifted_window_attention, case, old, new)
    forward = unchanged(swin_transformer.ShiftedWindowAttention.forward, {"shifted_window_attention": attention})

    def inject(model):
        for module in model.modules():
            if isinstance(module, swin_transformer.ShiftedWindowAttention):
                module.forward = types.MethodType(forward, module)
        return model
    return inject


def image_input():
    return (mhacheck.shape("B", 3, 32, 32),)


def small_maxvit():
    """torchvision's MaxVit at a small size: 32x32 images, one stage of 32 channels, 2x2
    partitions (4 positions), 2 heads of 16 (4 heads would let a dropped permute of heads and
    positions through silently, in PyTorch too)."""
    from torchvision.models import maxvit
    torch.manual_seed(0)
    return maxvit.MaxVit(input_size=(32, 32), stem_channels=16, partition_size=2, block_channels=[32],
                         block_layers=[1], head_dim=16, stochastic_depth_prob=0.0, num_classes=10).eval()


def small_emformer():
    import torchaudio
    torch.manual_seed(0)
    return torchaudio.models.Emformer(input_dim=32, num_heads=4, ffn_dim=64, num_layers=1, segment_length=4,
                                      right_context_length=1).eval()


def emformer_input():
    return (mhacheck.shape("B", 17, 32), lambda sizes: torch.full((sizes["B"],), 16))


def small_wav2vec2_encoder():
    """The encoder of torchaudio's wav2vec 2.0 with wav2vec2_large's options (layer norm first,
    the positional convolution) at width 64: features and lengths in, the padding mask made from
    the lengths (Encoder._preprocess)."""
    import torchaudio
    torch.manual_seed(0)
    model = torchaudio.models.wav2vec2_model(
        extractor_mode="layer_norm", extractor_conv_layer_config=[(32, 10, 5)], extractor_conv_bias=True,
        encoder_embed_dim=64, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=8, encoder_pos_conv_groups=4,
        encoder_num_layers=1, encoder_num_heads=4, encoder_attention_dropout=0.0, encoder_ff_interm_features=128,
        encoder_ff_interm_dropout=0.0, encoder_dropout=0.0, encoder_layer_norm_first=True, encoder_layer_drop=0.0,
        aux_num_out=None)
    return model.encoder.eval()


def wav2vec2_encoder_input():
    # the last entry is 3 frames short: the mask has something to mask
    return (mhacheck.shape("B", "T", 32),
            lambda sizes: torch.tensor([sizes["T"]] * (sizes["B"] - 1) + [sizes["T"] - 3]))


# --- hand-written models, as in tutorials and other code bases ----------------------------------

PAD = 1


class Seq2SeqTransformer(nn.Module):
    """PyTorch's translation tutorial: nn.Transformer (sequence-first) over token embeddings, a
    causal target mask from generate_square_subsequent_mask and padding masks from the tokens."""
    def __init__(self, case="clean", vocabulary=50, width=32, heads=4):
        super().__init__()
        self.case = case
        self.source_embedding = nn.Embedding(vocabulary, width)
        self.target_embedding = nn.Embedding(vocabulary, width)
        self.transformer = nn.Transformer(width, heads, num_encoder_layers=1, num_decoder_layers=1,
                                          dim_feedforward=64, dropout=0.0)
        self.generator = nn.Linear(width, vocabulary)

    def forward(self, source, target):  # (S, N) and (T, N) token ids; (N, S), (N, T) batch-major
        case = self.case
        if case == "reference-batch-major":  # verify_fix's reference for batch_first=True
            return self.clean_forward(source.T, target.T).transpose(0, 1)
        batch_major = case == "transformer-batch-first-forgotten"
        length = target.shape[1] if batch_major else target.shape[0]
        target_mask = nn.Transformer.generate_square_subsequent_mask(length)
        if case == "transformer-causal-mask-inverted":
            target_mask = torch.tril(torch.ones(length, length)).bool()  #: transformer-causal-mask-inverted
        elif case == "transformer-causal-mask-float-0-1":
            target_mask = torch.triu(torch.ones(length, length), diagonal=1)  #: transformer-causal-mask-float-0-1
        elif case == "transformer-causal-mask-int":
            target_mask = torch.triu(torch.ones(length, length, dtype=torch.long), diagonal=1)  #: transformer-causal-mask-int
        if case == "transformer-padding-mask-not-transposed":
            source_padding = source == PAD  #: transformer-padding-mask-not-transposed
        elif case == "transformer-padding-mask-float":
            source_padding = (source == PAD).transpose(0, 1).float()  #: transformer-padding-mask-float
        else:
            source_padding = source == PAD if batch_major else (source == PAD).transpose(0, 1)
        out = self.transformer(self.source_embedding(source), self.target_embedding(target),  #: transformer-call
                               tgt_mask=target_mask, src_key_padding_mask=source_padding,
                               memory_key_padding_mask=source_padding)
        return self.generator(out)

    def clean_forward(self, source, target):
        self.case = "clean"
        try:
            return self(source, target)
        finally:
            self.case = "reference-batch-major"


def seq2seq(case="clean"):
    def make():
        torch.manual_seed(0)
        return Seq2SeqTransformer(case).eval()
    return make


def seq2seq_input():
    # token ids: the tracer makes them zeros (no padding: PAD is 1), verify_fix random from 2
    return (mhacheck.shape("S", "N", dtype=torch.long), mhacheck.shape("T", "N", dtype=torch.long))


def seq2seq_batch_major_input():
    return (mhacheck.shape("N", "S", dtype=torch.long), mhacheck.shape("N", "T", dtype=torch.long))


# F.scaled_dot_product_attention of PyTorch 2.x (its math, without dropout) for 1.13, which has
# none. Compiled as part of torch/nn/functional.py, where 2.x's is: the tracer takes the line of the
# innermost frame outside torch as the call's, which must be the model's line calling it (2.x's
# is a C function, with no Python frame of its own), not this stand-in's.
_SDPA_SOURCE = """
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False):
    if torch.overrides.has_torch_function((query, key, value)):
        return torch.overrides.handle_torch_function(
            scaled_dot_product_attention, (query, key, value), query, key, value, attn_mask=attn_mask,
            dropout_p=dropout_p, is_causal=is_causal)
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])
    if is_causal:
        attn_mask = torch.ones(query.shape[-2], key.shape[-2], dtype=torch.bool).tril()
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    elif attn_mask is not None:
        scores = scores + attn_mask
    return torch.softmax(scores, dim=-1) @ value
"""


def _sdpa_stand_in():
    namespace = {"torch": torch, "math": math}
    exec(compile(_SDPA_SOURCE, F.__file__, "exec"), namespace)  # noqa: S102 (the source above)
    return namespace["scaled_dot_product_attention"]


scaled_dot_product_attention = getattr(F, "scaled_dot_product_attention", None) or _sdpa_stand_in()


class GPTBlock(nn.Module):
    """A GPT block written with F.scaled_dot_product_attention(is_causal=True) (nanoGPT's)."""
    def __init__(self, case="clean", width=64, heads=4):
        super().__init__()
        self.case, self.heads = case, heads
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.c_attn, self.c_proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x, keep=None):
        B, T, C = x.size()
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        if self.case == "gpt-sdpa-transposes-dropped":
            q = q.view(B, T, self.heads, C // self.heads)  #: gpt-sdpa-transposes-dropped
            k = k.view(B, T, self.heads, C // self.heads)
            v = v.view(B, T, self.heads, C // self.heads)
        else:
            q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
            k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
            v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        if self.case == "gpt-sdpa-padding-mask-unexpanded":
            causal = torch.ones(T, T, dtype=torch.bool).tril()
            y = scaled_dot_product_attention(q, k, v, attn_mask=causal & keep)  #: gpt-sdpa-padding-mask-unexpanded
        elif self.case == "gpt-sdpa-padding-mask-fixed":
            causal = torch.ones(T, T, dtype=torch.bool).tril()
            y = scaled_dot_product_attention(q, k, v, attn_mask=causal & keep[:, None, None, :])
        elif self.case in ("gpt-sdpa-mask-repeat", "gpt-sdpa-mask-repeat-fixed"):
            allowed = torch.ones(T, T, dtype=torch.bool).tril() & keep[:, None, :]  # (B, T, T)
            if self.case == "gpt-sdpa-mask-repeat":
                allowed = allowed.repeat(self.heads, 1, 1)  #: gpt-sdpa-mask-repeat
            else:
                allowed = allowed.repeat_interleave(self.heads, dim=0)
            y = scaled_dot_product_attention(q, k, v, attn_mask=allowed.view(B, self.heads, T, T))  #: gpt-sdpa-mask-repeat-call
        else:
            y = scaled_dot_product_attention(q, k, v, is_causal=True)  #: gpt-sdpa-call
        if self.case == "gpt-sdpa-transposes-dropped":
            y = y.contiguous().view(B, T, C)
        else:
            y = y.transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp(self.ln_2(x))


def gpt_block(case="clean"):
    def make():
        torch.manual_seed(0)
        return GPTBlock(case).eval()
    return make


def gpt_input():
    return (mhacheck.shape("B", "T", 64),)


def gpt_padded_input():
    def keep(sizes):
        made = torch.ones(sizes["B"], sizes["T"], dtype=torch.bool)
        made[-1, -2:] = False
        return made
    return (mhacheck.shape("B", "T", 64), keep)


class FairseqAttention(nn.Module):
    """fairseq's MultiheadAttention (sequence-first, heads folded into the batch with view and
    transpose, bmm, a key padding mask applied with masked_fill)."""
    def __init__(self, embed_dim, num_heads, kdim=None, case="clean"):
        super().__init__()
        self.num_heads, self.head_dim, self.case = num_heads, embed_dim // num_heads, case
        self.scaling = self.head_dim ** -0.5
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(kdim or embed_dim, embed_dim)
        self.v_proj = nn.Linear(kdim or embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, query, key, value, key_padding_mask=None):
        tgt_len, bsz, embed_dim = query.size()
        src_len = key.size(0)
        q = self.q_proj(query) * self.scaling
        k = self.k_proj(key)  #: fairseq-k-proj
        v = self.v_proj(value)
        if self.case == "fairseq-view-split-order":
            q = q.contiguous().view(bsz * self.num_heads, tgt_len, self.head_dim)  #: fairseq-view-split-order
        else:
            q = q.contiguous().view(tgt_len, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        k = k.contiguous().view(-1, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        v = v.contiguous().view(-1, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        attn_weights = torch.bmm(q, k.transpose(1, 2))
        if key_padding_mask is not None:
            attn_weights = attn_weights.view(bsz, self.num_heads, tgt_len, src_len)
            attn_weights = attn_weights.masked_fill(  #: fairseq-masked-fill
                key_padding_mask.unsqueeze(1).unsqueeze(2).to(torch.bool), float("-inf"))
            attn_weights = attn_weights.view(bsz * self.num_heads, tgt_len, src_len)
        attn_probs = F.softmax(attn_weights, dim=-1)
        attn = torch.bmm(attn_probs, v)
        attn = attn.transpose(0, 1).contiguous().view(tgt_len, bsz, embed_dim)
        return self.out_proj(attn)


class FairseqDecoderLayer(nn.Module):
    """fairseq's TransformerDecoderLayer (post-norm): self-attention, then attention to a
    32-wide encoder output with its padding mask."""
    def __init__(self, case="clean", width=64, heads=4, encoder_width=32):
        super().__init__()
        self.case = case
        self.self_attn = FairseqAttention(width, heads, case=case)
        kdim = None if case == "fairseq-kdim-missing" else encoder_width
        self.encoder_attn = FairseqAttention(width, heads, kdim=kdim, case="clean")
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(3))
        self.fc1, self.fc2 = nn.Linear(width, 2 * width), nn.Linear(2 * width, width)

    def forward(self, x, encoder_out, encoder_padding_mask):  # (T, B, C), (S, B, 32), (B, S)
        if self.case == "fairseq-padding-mask-transposed":
            encoder_padding_mask = encoder_padding_mask.transpose(0, 1)  #: fairseq-padding-mask-transposed
        x = self.norms[0](x + self.self_attn(x, x, x))
        x = self.norms[1](x + self.encoder_attn(x, encoder_out, encoder_out, key_padding_mask=encoder_padding_mask))
        return self.norms[2](x + self.fc2(F.relu(self.fc1(x))))


def fairseq_layer(case="clean"):
    def make():
        torch.manual_seed(0)
        return FairseqDecoderLayer(case).eval()
    return make


def fairseq_input():
    def padding(sizes):
        made = torch.zeros(sizes["B"], sizes["S"], dtype=torch.bool)
        made[-1, -2:] = True
        return made
    return (mhacheck.shape("T", "B", 64), mhacheck.shape("S", "B", 32), padding)


# --- cases -------------------------------------------------------------------------------------

def _marker(case):
    """Where `#: case` is: this file, or the edited copy of a library's function (`edited`)."""
    edited_copy = os.path.join(INJECTED, case + ".py")
    path = edited_copy if os.path.exists(edited_copy) else HERE
    return (path, _line_of(path, "#: " + case))


def _line_of(path, text):
    with open(path, encoding="utf-8") as source:
        found = [i + 1 for i, line in enumerate(source) if line.rstrip().endswith(text)]
    assert len(found) == 1, (path, text, found)
    return found[0]


def _library_line(module, text):
    path = module.__file__
    with open(path, encoding="utf-8") as source:
        found = [i + 1 for i, line in enumerate(source) if text in line]
    assert len(found) == 1, (path, text, found)
    return (path, found[0])


def _wav2vec2_case(case):
    from torchaudio.models.wav2vec2 import components
    return lambda model: patch_forwards(model, components.SelfAttention, wav2vec2_attention, case)


def _vit_case(case, prepare=None):
    from torchvision.models import vision_transformer

    def inject(model):
        for block in model.modules():
            if isinstance(block, vision_transformer.EncoderBlock):
                if prepare:
                    prepare(block)
        return patch_forwards(model, vision_transformer.EncoderBlock, vit_block, case) if case else model
    return inject


def _swap_mha(**options):
    def prepare(block):
        old = block.self_attention
        block.self_attention = nn.MultiheadAttention(old.embed_dim, old.num_heads, **options).eval()
    return prepare


def _add_memory_proj(block):
    block.memory_proj = nn.Linear(64, 32)


def cases():
    """name -> dict(model, inputs, inject, fix, line, fix_pattern, values). `fix` repairs the
    injected model the right way (the reference for "first fix right")."""
    from torchvision.models import vision_transformer
    from torchaudio.models import conformer, emformer
    from torchaudio.models.wav2vec2 import components
    from torchvision.models import maxvit, swin_transformer

    def wav2vec2_fixed(model):
        return patch_forwards(model, components.SelfAttention, wav2vec2_attention, "clean")

    def vit_fixed(model):
        return patch_forwards(model, vision_transformer.EncoderBlock, vit_block, "clean")

    table = {
        "wav2vec2-transpose-dropped": dict(
            model=small_wav2vec2, inputs=wav2vec2_input, inject=_wav2vec2_case("wav2vec2-transpose-dropped"),
            fix=wav2vec2_fixed, fix_pattern=r"transpose\((1, 2|2, 1)\)|permute\(0, 2, 1, 3\)",
            used_at=_marker("wav2vec2-scores")),
        "wav2vec2-heads-not-dividing": dict(
            model=small_wav2vec2, inputs=wav2vec2_input, inject=_wav2vec2_case("wav2vec2-heads-not-dividing"),
            fix=wav2vec2_fixed, fix_pattern=r"\b(4|num_heads)\b|divid"),
        "wav2vec2-view-swapped-batch": dict(
            model=small_wav2vec2, inputs=wav2vec2_input, inject=_wav2vec2_case("wav2vec2-view-swapped-batch"),
            fix=wav2vec2_fixed, fix_pattern=r"\(B, T, 4, 16\)|view\(B, T"),
        "wav2vec2-heads-merged-without-transpose": dict(
            model=small_wav2vec2, inputs=wav2vec2_input, inject=_wav2vec2_case("wav2vec2-heads-merged-without-transpose"),
            fix=wav2vec2_fixed, fix_pattern=r"transpose\((1, 2|2, 1)\)|permute\(0, 2, 1, 3\)"),
        "vit-batch-first-forgotten": dict(
            model=small_vit, inputs=vit_input, inject=_vit_case(None, _swap_mha()),
            fix=lambda m: _fix_batch_first(m), fix_pattern=r"batch_first=True",
            line=_library_line(vision_transformer, "x, _ = self.self_attention(query=x")),
        "vit-batch-major-into-seq-first": dict(
            model=small_vit, inputs=vit_input, inject=_vit_case("vit-batch-major-into-seq-first"),
            fix=vit_fixed, fix_pattern=r"batch_first=False|drop|remove|transpose\(0, 1\)"),
        "vit-cross-attention-kdim": dict(
            model=small_vit, inputs=vit_input, inject=_vit_case("vit-cross-attention-kdim", _add_memory_proj),
            fix=lambda m: _fix_kdim(m), fix_pattern=r"kdim=32", reference=False),
        "vit-attn-mask-transposed": dict(
            model=small_vit, inputs=vit_input, inject=_vit_case("vit-attn-mask-transposed"),
            fix=None, fix_pattern=r"attn_mask\.T|transpose\(0, 1\)|\(17, 16\)"),
        "vit-mask-repeat": dict(
            model=small_vit, inputs=vit_input, inject=_vit_case("vit-mask-repeat"), values=True,
            fix=lambda m: patch_forwards(m, vision_transformer.EncoderBlock, vit_block, "vit-mask-repeat-fixed"),
            reference=lambda m: patch_forwards(m, vision_transformer.EncoderBlock, vit_block, "vit-mask-per-entry"),
            fix_pattern=r"repeat_interleave", used_at=_marker("vit-mask-repeat-call")),
        "vit-linear-in-features": dict(
            model=small_vit, inputs=vit_input, inject=lambda m: _swap_mlp_linear(m),
            fix=None, fix_pattern=r"in_features=64|Linear\(64",
            line=_library_line(vision_transformer, "y = self.mlp(y)")),
        "conformer-padding-mask-transposed": dict(
            model=small_conformer, inputs=conformer_input,
            inject=lambda m: patch_forwards(m, conformer.Conformer, conformer_forward,
                                            "conformer-padding-mask-transposed"),
            fix=lambda m: patch_forwards(m, conformer.Conformer, conformer_forward, "clean"),
            fix_pattern=r"\.T\b|transpose\(0, 1\)|permute\(1, 0\)",
            used_at=_library_line(conformer, "x, _ = self.self_attn(")),
        "conformer-padding-mask-inverted": dict(
            model=small_conformer, inputs=conformer_input, values=True,
            inject=lambda m: patch_forwards(m, conformer.Conformer, conformer_forward,
                                            "conformer-padding-mask-inverted"),
            fix=lambda m: patch_forwards(m, conformer.Conformer, conformer_forward, "clean"),
            fix_pattern=r"~|invert|== 0|logical_not",
            used_at=_library_line(conformer, "x, _ = self.self_attn(")),
        # torchvision's Swin: shifted_window_attention edited at one line
        "swin-window-permute-dropped": dict(
            model=small_swin, inputs=image_input,
            inject=_edit_swin("swin-window-permute-dropped", "x = x.permute(0, 1, 3, 2, 4, 5).reshape(B * num_windows", "x = x.reshape(B * num_windows"),
            fix=_restore_method(swin_transformer.ShiftedWindowAttention, "forward"),
            fix_pattern=r"permute\(0, 1, 3, 2, 4, 5\)|transpose\((2, 3|3, 2)\)"),
        "swin-qkv-split-order": dict(
            model=small_swin, inputs=image_input,
            inject=_edit_swin("swin-qkv-split-order", "x.size(1), 3, num_heads, C // num_heads)",
                              "x.size(1), num_heads, 3, C // num_heads)"),
            used_at=_edited_line("swin-qkv-split-order", "q, k, v = qkv[0], qkv[1], qkv[2]"),
            fix=_restore_method(swin_transformer.ShiftedWindowAttention, "forward"),
            fix_pattern=r"3, (2|num_heads), 16|transpose\((2, 3|3, 2)\)"),
        # torchvision's MaxViT: RelativePositionalMultiHeadAttention.forward edited at one line
        "maxvit-heads-merged-without-permute": dict(
            model=small_maxvit, inputs=image_input,
            inject=_edit_method(maxvit.RelativePositionalMultiHeadAttention, "forward", "maxvit-heads-merged-without-permute",
                                "out = out.permute(0, 1, 3, 2, 4).reshape(B, G, P, D)", "out = out.reshape(B, G, P, D)"),
            fix=_restore_method(maxvit.RelativePositionalMultiHeadAttention, "forward"),
            fix_pattern=r"permute\(0, 1, 3, 2, 4\)|transpose\((2, 3|3, 2)\)"),
        "maxvit-query-permute-dropped": dict(
            model=small_maxvit, inputs=image_input,
            inject=_edit_method(maxvit.RelativePositionalMultiHeadAttention, "forward", "maxvit-query-permute-dropped",
                                "q = q.reshape(B, G, P, H, DH).permute(0, 1, 3, 2, 4)", "q = q.reshape(B, G, P, H, DH)"),
            fix=_restore_method(maxvit.RelativePositionalMultiHeadAttention, "forward"),
            used_at=_edited_line("maxvit-query-permute-dropped", 'dot_prod = torch.einsum("B G H I D, B G H J D'),
            fix_pattern=r"permute\(0, 1, 3, 2, 4\)|transpose\((2, 3|3, 2)\)"),
        # torchaudio's Emformer: _EmformerAttention._forward_impl edited at one line
        "emformer-heads-split-without-transpose": dict(
            model=small_emformer, inputs=emformer_input,
            inject=_edit_method(emformer._EmformerAttention, "_forward_impl", "emformer-heads-split-without-transpose",
                                "tensor.contiguous().view(-1, B * self.num_heads, self.input_dim // self.num_heads).transpose(0, 1)",
                                "tensor.contiguous().view(B * self.num_heads, -1, self.input_dim // self.num_heads)"),
            fix=_restore_method(emformer._EmformerAttention, "_forward_impl"),
            fix_pattern=r"view\(-1, B \* 4|transpose\(0, 1\)"),
        "emformer-heads-merged-without-transpose": dict(
            model=small_emformer, inputs=emformer_input,
            inject=_edit_method(emformer._EmformerAttention, "_forward_impl", "emformer-heads-merged-without-transpose",
                                "attention = attention.transpose(0, 1).contiguous().view(T, B, self.input_dim)",
                                "attention = attention.contiguous().view(T, B, self.input_dim)"),
            fix=_restore_method(emformer._EmformerAttention, "_forward_impl"),
            fix_pattern=r"transpose\(0, 1\)"),
        # torchaudio's wav2vec 2.0 encoder (large's options): its padding mask edited
        "wav2vec2-mask-on-queries": dict(
            model=small_wav2vec2_encoder, inputs=wav2vec2_encoder_input,
            inject=_edit_method(components.Encoder, "_preprocess", "wav2vec2-mask-on-queries",
                                "mask[:, None, None, :]", "mask[:, None, :, None]"),
            fix=_restore_method(components.Encoder, "_preprocess"), values=True,
            fix_pattern=r"\[:, None, None, :\]|transpose\((2, 3|3, 2|-1, -2|-2, -1)\)"),
        "wav2vec2-mask-not-scaled": dict(
            model=small_wav2vec2_encoder, inputs=wav2vec2_encoder_input,
            inject=_edit_method(components.Encoder, "_preprocess", "wav2vec2-mask-not-scaled",
                                "mask = -10000.0 * mask[:, None, None, :]", "mask = mask[:, None, None, :]"),
            fix=_restore_method(components.Encoder, "_preprocess"), values=True,
            fix_pattern=r"-inf|-10000|masked_fill|bool"),
        # nn.Transformer as in PyTorch's translation tutorial
        "transformer-padding-mask-not-transposed": dict(
            model=seq2seq("transformer-padding-mask-not-transposed"), inputs=seq2seq_input,
            fix=_set_case("clean"), reference=_set_case("clean"), fix_pattern=r"transpose\(0, 1\)|\.T\b|permute\(1, 0\)",
            used_at=_marker("transformer-call")),
        "transformer-batch-first-forgotten": dict(
            model=seq2seq("transformer-batch-first-forgotten"), inputs=seq2seq_batch_major_input,
            fix=_batch_first, reference=_set_case("reference-batch-major"), fix_pattern=r"batch_first=True",
            line=_marker("transformer-call")),
        "transformer-causal-mask-inverted": dict(
            model=seq2seq("transformer-causal-mask-inverted"), inputs=seq2seq_input, values=True,
            fix=_set_case("clean"), reference=_set_case("clean"), fix_pattern=r"~|invert|logical_not|triu|generate_square_subsequent_mask",
            used_at=_marker("transformer-call")),
        "transformer-causal-mask-float-0-1": dict(
            model=seq2seq("transformer-causal-mask-float-0-1"), inputs=seq2seq_input, values=True,
            fix=_set_case("clean"), reference=_set_case("clean"), fix_pattern=r"bool|-inf|masked_fill|generate_square_subsequent_mask",
            used_at=_marker("transformer-call")),
        "transformer-causal-mask-int": dict(
            model=seq2seq("transformer-causal-mask-int"), inputs=seq2seq_input,
            fix=_set_case("clean"), reference=_set_case("clean"), fix_pattern=r"bool|-inf|generate_square_subsequent_mask",
            used_at=_marker("transformer-call")),
        "transformer-padding-mask-float": dict(
            model=seq2seq("transformer-padding-mask-float"), inputs=seq2seq_input, values=True,
            fix=_set_case("clean"), reference=_set_case("clean"), fix_pattern=r"bool|-inf|masked_fill",
            used_at=_marker("transformer-call")),
        # a GPT block with F.scaled_dot_product_attention (2.x; a stand-in of its math on 1.13)
        "gpt-sdpa-transposes-dropped": dict(
            model=gpt_block("gpt-sdpa-transposes-dropped"), inputs=gpt_input,
            fix=_set_case("clean"), reference=_set_case("clean"), fix_pattern=r"transpose\((1, 2|2, 1)\)|permute\(0, 2, 1, 3\)",
            used_at=_marker("gpt-sdpa-call")),
        "gpt-sdpa-padding-mask-unexpanded": dict(
            model=gpt_block("gpt-sdpa-padding-mask-unexpanded"), inputs=gpt_padded_input,
            fix=_set_case("gpt-sdpa-padding-mask-fixed"), reference=_set_case("gpt-sdpa-padding-mask-fixed"),
            fix_pattern=r"\[:, None, None, :\]|unsqueeze|view\(B, 1, 1, T\)"),
        "gpt-sdpa-mask-repeat": dict(
            model=gpt_block("gpt-sdpa-mask-repeat"), inputs=gpt_padded_input, values=True,
            fix=_set_case("gpt-sdpa-mask-repeat-fixed"), reference=_set_case("gpt-sdpa-padding-mask-fixed"),
            fix_pattern=r"repeat_interleave", used_at=_marker("gpt-sdpa-mask-repeat-call")),
        # a fairseq-style sequence-first decoder layer
        "fairseq-view-split-order": dict(
            model=fairseq_layer("fairseq-view-split-order"), inputs=fairseq_input,
            fix=_set_case("clean"), reference=_set_case("clean"), fix_pattern=r"view\(T, 4\*B, 16\)|view\(T, B \* 4|transpose\(0, 1\)"),
        "fairseq-kdim-missing": dict(
            model=fairseq_layer("fairseq-kdim-missing"), inputs=fairseq_input,
            fix=lambda m: fairseq_layer()(), reference=lambda m: fairseq_layer()(), fix_pattern=r"in_features=32|kdim=32|Linear\(32",
            line=_marker("fairseq-k-proj")),
        "fairseq-padding-mask-transposed": dict(
            model=fairseq_layer("fairseq-padding-mask-transposed"), inputs=fairseq_input,
            fix=_set_case("clean"), reference=_set_case("clean"), fix_pattern=r"transpose\(0, 1\)|\.T\b|permute\(1, 0\)",
            used_at=_marker("fairseq-masked-fill")),
    }
    for name, case in table.items():
        case.setdefault("line", None)
        if case["line"] is None:
            case["line"] = _marker(name)
        case.setdefault("values", False)
        case.setdefault("inject", lambda model: model)  # a hand-written model made with its bug
        case.setdefault("used_at", None)
        case.setdefault("reference", None)
    return table


def _set_case(case):
    """For the hand-written models: the same model (weights) with the forward of `case`."""
    def fix(model):
        for module in model.modules():
            if "case" in vars(module):
                module.case = case
        return model
    return fix


def _batch_first(model):
    for module in model.modules():
        if "batch_first" in vars(module):
            module.batch_first = True
    return model


def _fix_batch_first(model):
    for module in model.modules():
        if isinstance(module, nn.MultiheadAttention):
            module.batch_first = True
    return model


def _fix_kdim(model):
    for module in model.modules():
        if isinstance(module, nn.MultiheadAttention):
            torch.manual_seed(0)
            fixed = nn.MultiheadAttention(module.embed_dim, module.num_heads, kdim=32, vdim=32, batch_first=True)
            for name, child in list(model.named_modules()):
                for attribute, value in list(child.named_children()):
                    if value is module:
                        setattr(child, attribute, fixed.eval())
    return model


def _swap_mlp_linear(model):
    from torchvision.models import vision_transformer
    for block in model.modules():
        if isinstance(block, vision_transformer.EncoderBlock):
            block.mlp[0] = nn.Linear(48, 128)  # the user's MLP for a 48-wide model
    return model


# --- running a case ----------------------------------------------------------------------------

def primary(report):
    for severity in ("error", "warning"):
        found = [d for d in report["diagnostics"] if d["severity"] == severity]
        if found:
            return found[0]
    return None


def concrete(inputs, sizes):
    made = []
    for item in inputs:
        if isinstance(item, Shape):
            dims = [sizes[d] if isinstance(d, str) else d for d in item.dims]
            made.append(torch.randn(*dims) if item.dtype.is_floating_point else torch.randint(PAD + 1, 50, dims))
        else:
            made.append(item(sizes))
    return made


def verify_fix(case):
    """Applies the right repair to a freshly injected model: True when PyTorch then runs it and
    gives the reference's values (torch.allclose): the clean model with the repaired model's
    weights, or the case's own `reference` (a value bug's repair must change values, not only
    shapes). A case whose repair changes the model's structure (`reference` False) has nothing to
    compare values with: it checks the output's shape against the clean model's."""
    if case["fix"] is None:
        return None
    sizes = {"B": 2, "T": 7, "N": 3, "S": 5}
    torch.manual_seed(1)
    inputs = concrete(case["inputs"](), sizes)
    fixed = case["fix"](case["inject"](case["model"]()))
    reference = case["reference"]
    clean = reference(case["model"]()) if callable(reference) else case["model"]()
    if reference is not False:
        clean.load_state_dict(fixed.state_dict())  # the same weights (the injection may have made new ones)
    first = lambda out: out[0] if isinstance(out, tuple) else out  # noqa: E731
    with torch.no_grad():
        try:
            got = first(fixed(*inputs))
        except Exception:  # noqa: BLE001 (any failure means the repair is wrong)
            return False
        want = first(clean(*inputs))
    if reference is False:
        return got.shape == want.shape
    return got.shape == want.shape and torch.allclose(got, want, rtol=1e-4, atol=1e-5)


_SITE = os.path.dirname(os.path.dirname(os.path.abspath(torch.__file__)))


def shown(path):
    """A file as the results show it, relative: to the repository (bench/trace/inject.py), to
    the packages' directory (torchvision/models/vision_transformer.py) or to the temporary
    directory (mhacheck-inject/CASE.py, an edited copy of a library's function)."""
    path = os.path.abspath(path)
    for base in (REPOSITORY, _SITE, os.path.dirname(INJECTED)):
        if path.startswith(base + os.sep):
            return os.path.relpath(path, base)
    return path


def run_case(name, case, binary):
    model = case["inject"](case["model"]())
    spec = mhacheck.trace(model, case["inputs"](), values=case["values"])
    row = {"case": name, "pytorch": None if spec.error is None else f"{type(spec.error).__name__}: {spec.error}"[:160]}
    with tempfile.TemporaryDirectory(prefix="mhacheck-inject-") as folder:
        path = spec.save(os.path.join(folder, "spec.json"))
        code, report = run_binary("check", path, binary=binary)
        if case["values"] and spec.error is None:
            code, report = run_binary("run", path, binary=binary)
    found = primary(report)
    row["exit"] = code
    row["code"] = found["code"] if found else None
    row["severity"] = found["severity"] if found else None
    row["message"] = found["message"][:200] if found else None
    row["flagged"] = found is not None
    where = found and found.get("location")
    row["location"] = f"{shown(where['file'])}:{where['line']}" if where else None
    want_file, want_line = case["line"]
    row["expected_location"] = f"{shown(want_file)}:{want_line}"
    at = bool(where) and (os.path.abspath(where["file"]), where["line"])
    row["at_line"] = at == (want_file, want_line)
    # Or at the call that uses the bad tensor (where PyTorch raises, when it does), as the existing
    # tests require of errors.
    row["at_call_line"] = case["used_at"] is not None and at == case["used_at"]
    made = [r["location"] for r in (found or {}).get("related", []) if " is made here " in r["message"]]
    row["made_at"] = f"{shown(made[0]['file'])}:{made[0]['line']}" if made else None
    row["made_at_bug_line"] = bool(made) and (os.path.abspath(made[0]["file"]), made[0]["line"]) == (want_file, want_line)
    fixes = (found or {}).get("fixes", [])
    row["first_fix"] = fixes[0]["text"][:200] if fixes else None
    # when none is offered, whether a note says why (a fix would be a guess)
    row["why_no_fix"] = None if fixes else next((n for n in (found or {}).get("notes", []) if n.startswith("no fix is offered")), None)
    row["fix_right"] = bool(fixes) and re.search(case["fix_pattern"], fixes[0].get("description", "")
                                                 + " " + fixes[0]["text"]) is not None
    row["fix_verified_in_pytorch"] = verify_fix(case)
    return row


def clean_models():
    """name -> (model, inputs): the models of the cases without their bugs (and with the cases'
    repairs), which mhacheck must pass without an error or a warning."""
    def batch_first_seq2seq():
        return _batch_first(seq2seq("transformer-batch-first-forgotten")())

    return {
        "vit": (small_vit, vit_input), "wav2vec2": (small_wav2vec2, wav2vec2_input),
        "conformer": (small_conformer, conformer_input), "swin": (small_swin, image_input),
        "maxvit": (small_maxvit, image_input), "emformer": (small_emformer, emformer_input),
        "wav2vec2-encoder": (small_wav2vec2_encoder, wav2vec2_encoder_input),
        "transformer-tutorial": (seq2seq(), seq2seq_input),
        "transformer-tutorial-batch-first": (batch_first_seq2seq, seq2seq_batch_major_input),
        "gpt-sdpa": (gpt_block(), gpt_input),
        "gpt-sdpa-padding-mask": (gpt_block("gpt-sdpa-padding-mask-fixed"), gpt_padded_input),
        "fairseq": (fairseq_layer(), fairseq_input),
    }


def run_clean(name, model, inputs, binary):
    """A clean model traced (and replayed with `mhacheck run`, values=True): its errors and warnings."""
    spec = mhacheck.trace(model(), inputs(), values=True)
    row = {"clean": name, "pytorch": None if spec.error is None else f"{type(spec.error).__name__}: {spec.error}"[:160]}
    with tempfile.TemporaryDirectory(prefix="mhacheck-inject-") as folder:
        path = spec.save(os.path.join(folder, "spec.json"))
        for command in ("check", "run"):
            code, report = run_binary(command, path, binary=binary)
            row[command] = [f"{d['code']} {d['message'][:120]}" for d in report["diagnostics"]
                            if d["severity"] in ("error", "warning")]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(REPOSITORY, "build", "mhacheck"))
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--json")
    parser.add_argument("--clean", action="store_true", help="check the models without their bugs instead")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    if arguments.clean:
        for name, (model, inputs) in clean_models().items():
            if not arguments.only or name in arguments.only:
                print(json.dumps(run_clean(name, model, inputs, arguments.binary)), flush=True)
        return
    for name, case in cases().items():
        if arguments.only and name not in arguments.only:
            continue
        try:
            row = run_case(name, case, arguments.binary)
        except Exception as failure:  # noqa: BLE001 (a harness failure is a row, not the end)
            row = {"case": name, "harness_error": f"{type(failure).__name__}: {failure}"}
        rows.append(row)
        print(json.dumps(row), flush=True)
    scored = [r for r in rows if "harness_error" not in r]
    print(f"cases {len(rows)}: flagged {sum(r['flagged'] for r in scored)}, "
          f"at the bug's line {sum(r['at_line'] for r in scored)} "
          f"(+{sum(r['at_call_line'] for r in scored)} at the call using the bad tensor, "
          f"{sum(r['made_at_bug_line'] for r in scored)} of them pointing at the injected line as where it is made), first fix right {sum(r['fix_right'] for r in scored)}; "
          f"PyTorch raised on {sum(r['pytorch'] is not None for r in scored)}")
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    main()
