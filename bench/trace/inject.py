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
import json
import os
import re
import subprocess
import sys
import tempfile
import types

import torch
from torch import nn

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


# --- cases -------------------------------------------------------------------------------------

def _marker(case):
    return (HERE, _line_of(HERE, "#: " + case))


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
    from torchaudio.models import conformer
    from torchaudio.models.wav2vec2 import components

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
    }
    for name, case in table.items():
        case.setdefault("line", None)
        if case["line"] is None:
            case["line"] = _marker(name)
        case.setdefault("values", False)
        case.setdefault("used_at", None)
        case.setdefault("reference", None)
    return table


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
            made.append(torch.randn(*[sizes[d] if isinstance(d, str) else d for d in item.dims]))
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
    sizes = {"B": 2, "T": 7}
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
    row["location"] = f"{where['file']}:{where['line']}" if where else None
    want_file, want_line = case["line"]
    row["expected_location"] = f"{want_file}:{want_line}"
    at = bool(where) and (os.path.abspath(where["file"]), where["line"])
    row["at_line"] = at == (want_file, want_line)
    # Or at the call that uses the bad tensor (where PyTorch raises, when it does), as the existing
    # tests require of errors.
    row["at_call_line"] = case["used_at"] is not None and at == case["used_at"]
    made = [r["location"] for r in (found or {}).get("related", []) if " is made here " in r["message"]]
    row["made_at"] = f"{made[0]['file']}:{made[0]['line']}" if made else None
    row["made_at_bug_line"] = bool(made) and (os.path.abspath(made[0]["file"]), made[0]["line"]) == (want_file, want_line)
    fixes = (found or {}).get("fixes", [])
    row["first_fix"] = fixes[0]["text"][:200] if fixes else None
    # when none is offered, whether a note says why (a fix would be a guess)
    row["why_no_fix"] = None if fixes else next((n for n in (found or {}).get("notes", []) if n.startswith("no fix is offered")), None)
    row["fix_right"] = bool(fixes) and re.search(case["fix_pattern"], fixes[0].get("description", "")
                                                 + " " + fixes[0]["text"]) is not None
    row["fix_verified_in_pytorch"] = verify_fix(case)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(REPOSITORY, "build", "mhacheck"))
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--json")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
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
