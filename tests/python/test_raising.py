"""A model PyTorch raises in: the call that raised is recorded with PyTorch's error, and where a
shape rule gives its output a stand-in goes on, so that the spec holds the calls after the bug
(python/mhacheck/_stand_in.py), with the probe sizes PyTorch raised at bound under "dims". Also: the corpus verdict script runs
such a spec (its `note`, a module's `dtype`, LayerNorm's 2.x `bias`) on the installed PyTorch."""
import importlib.util
import os
import unittest

import torch
import torch.nn as nn
from torchaudio.models.conformer import ConformerLayer
from torchvision.models.vision_transformer import Encoder

import mhacheck
from trace_support import by_severity, check, main

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


def raised(spec):
    return [c["id"] for c in spec.calls if c.get("note", "").startswith("PyTorch raised")]


class MemoryConcat(nn.Module):
    """Memories (M, B, D) prepended to seq-first tokens (T, B, D) on the batch dim by mistake."""
    def __init__(self, dim=1):
        super().__init__()
        self.dim = dim
        self.attn = nn.MultiheadAttention(32, 2)
        self.out = nn.Linear(32, 16)

    def forward(self, x, mem):
        kv = torch.cat([mem, x], dim=self.dim)
        o, _ = self.attn(x, kv, kv, need_weights=False)
        return self.out(o).softmax(-1)


class Queries(nn.Module):
    """Learned queries (1, Q, D) not expanded to the batch before cross-attention, then projected."""
    def __init__(self, expand):
        super().__init__()
        self.expand = expand
        self.queries = nn.Parameter(torch.randn(1, 8, 32))
        self.attn = nn.MultiheadAttention(32, 4, kdim=24, vdim=24, batch_first=True)
        self.proj = nn.Linear(32, 32)

    def forward(self, feats):
        q = self.queries.expand(feats.shape[0], -1, -1) if self.expand else self.queries
        o, w = self.attn(q, feats, feats)
        return self.proj(o) + o, w


class RaisingTraceTest(unittest.TestCase):
    def test_a_raising_cat_is_stood_in_for_and_the_attention_after_it_is_traced(self):
        spec = mhacheck.trace(MemoryConcat(), (mhacheck.shape("T", "B", 32), mhacheck.shape("M", "B", 32)))
        self.assertIsInstance(spec.error, RuntimeError)  # the cat's error, the first PyTorch raised
        self.assertIn("Sizes of tensors must match", str(spec.error))
        # the attention then raises on key batch 2*B: a second error, where the trace stops (only
        # the first is stepped over)
        self.assertEqual([c.get("op", c.get("module")) for c in spec.calls], ["cat", "attn"])
        cat = spec.calls[0]
        self.assertEqual(cat["outputs"], ["cat"])
        self.assertIn("stand-in output of zeros shaped (M, 2*B, 32)", cat["note"])
        self.assertIn("traced at", cat["note"])
        self.assertEqual(raised(spec), ["cat", "attn"])
        self.assertNotIn("outputs", spec.calls[1])
        self.assertEqual(set(spec.document["dims"]), {"T", "B", "M"})  # the sizes PyTorch raised at ...
        self.assertIn('binds those probe sizes under "dims"', cat["note"])  # ... and the note says so
        errors = by_severity(check(spec), "error")
        self.assertEqual(errors[0]["code"], "MHA311")
        self.assertIn("along dim 0", errors[0]["fixes"][0]["description"])

    def test_the_correct_model_is_traced_as_before_and_checks_clean(self):
        spec = mhacheck.trace(MemoryConcat(0), (mhacheck.shape("T", "B", 32), mhacheck.shape("M", "B", 32)))
        self.assertIsNone(spec.error)
        self.assertEqual(raised(spec), [])
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])

    def test_a_raising_attention_is_stood_in_for_with_its_weights(self):
        spec = mhacheck.trace(Queries(False), (mhacheck.shape("B", 50, 24),))
        self.assertIsNotNone(spec.error)
        self.assertEqual([c.get("op", c.get("module")) for c in spec.calls], ["attn", "proj", "add"])
        attn = spec.calls[0]
        self.assertEqual(len(attn["outputs"]), 2)  # attn_output (1, 8, 32) and the weights (1, 8, 50)
        self.assertIn("(1, 8, 32), (1, 8, 50)", attn["note"])
        self.assertEqual([d["code"] for d in by_severity(check(spec), "error")][:1], ["MHA040"])  # batch 1 against B
        correct = mhacheck.trace(Queries(True), (mhacheck.shape("B", 50, 24),))
        self.assertIsNone(correct.error)
        self.assertEqual(by_severity(check(correct), "error", "warning"), [])

    def test_a_raising_last_call_binds_the_probes_and_says_so(self):
        class Last(nn.Module):
            def forward(self, a, b):
                return a @ b  # (B, T, 8) @ (B, T, 8): the inner sizes differ

        spec = mhacheck.trace(Last(), (mhacheck.shape("B", "T", 8), mhacheck.shape("B", "T", 8)))
        self.assertEqual(raised(spec), ["matmul"])
        self.assertEqual(set(spec.document["dims"]), {"B", "T"})
        self.assertIn('binds those probe sizes under "dims"', spec.calls[-1]["note"])

    def test_an_error_outside_the_recorded_calls_leaves_the_symbols(self):
        class Checks(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = nn.LayerNorm(16)

            def forward(self, x):
                y = self.norm(x)
                if y.shape[1] % 2:
                    raise ValueError("an even length is needed")  # the model's own check
                return y

        spec = mhacheck.trace(Checks(), (mhacheck.shape("B", "T", 16),))
        self.assertIsInstance(spec.error, ValueError)
        self.assertNotIn("dims", spec.document)  # no call PyTorch raised on needs the probe sizes
        self.assertEqual(spec.document["tensors"]["x"]["shape"], ["B", "T", 16])

    def test_a_reshape_that_cannot_hold_stops_the_trace_there(self):
        class Split(nn.Module):
            def forward(self, x):
                return x.view(x.shape[0], x.shape[1], 5, 12).softmax(-1)  # 64 features into 5 x 12

        spec = mhacheck.trace(Split(), (mhacheck.shape("B", "T", 64),))
        self.assertEqual([c["op"] for c in spec.calls], ["view"])  # no shape rule: nothing after it
        self.assertIn("B", spec.document["dims"])
        self.assertEqual([d["code"] for d in by_severity(check(spec), "error")], ["MHA302"])

    def test_values_true_stops_at_the_raising_call(self):
        spec = mhacheck.trace(MemoryConcat(), (mhacheck.shape("T", "B", 32), mhacheck.shape("M", "B", 32)), values=True)
        self.assertEqual([c["op"] for c in spec.calls], ["cat"])  # a stand-in's zeros are no values to replay


class RealModulesTest(unittest.TestCase):
    def test_torchvision_encoder_with_a_token_too_few_is_traced_to_its_end(self):
        model = Encoder(seq_length=50, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128, dropout=0.0,
                        attention_dropout=0.0).eval()
        spec = mhacheck.trace(model, (mhacheck.shape("B", 49, 64),))
        self.assertIsNotNone(spec.error)  # the positional embedding (1, 50, 64) added to 49 tokens
        self.assertEqual(raised(spec), ["add"])
        modules = [c["module"] for c in spec.calls if "module" in c]
        self.assertIn("layers.encoder_layer_1.self_attention", modules)
        self.assertEqual(modules[-1], "ln")  # the final LayerNorm: the whole forward is in the spec
        self.assertIn("MHA305", [d["code"] for d in by_severity(check(spec), "error")])
        correct = mhacheck.trace(model, (mhacheck.shape("B", 50, 64),))
        self.assertEqual(len(correct.calls), len(spec.calls))
        self.assertEqual(by_severity(check(correct), "error", "warning"), [])

    def test_torchaudio_conformer_layer_with_a_transposed_padding_mask(self):
        model = ConformerLayer(input_dim=64, ffn_dim=128, num_attention_heads=4, depthwise_conv_kernel_size=7,
                               dropout=0.0).eval()
        wrong = mhacheck.trace(model, (mhacheck.shape("T", "B", 64),
                                       lambda s: torch.zeros(s["T"], s["B"], dtype=torch.bool)))
        right = mhacheck.trace(model, (mhacheck.shape("T", "B", 64),
                                       lambda s: torch.zeros(s["B"], s["T"], dtype=torch.bool)))
        self.assertIsInstance(wrong.error, AssertionError)  # nn.MultiheadAttention's mask shape check
        self.assertIsNone(right.error)
        self.assertEqual(len(wrong.calls), len(right.calls))  # the conv module and FFN after it too
        self.assertEqual(raised(wrong), ["self_attn"])
        errors = by_severity(check(wrong), "error")
        self.assertEqual(errors[0]["code"], "MHA052")
        self.assertIn("key_padding_mask.T", errors[0]["fixes"][0]["text"])
        self.assertEqual(by_severity(check(right), "error", "warning"), [])


def verdict_script():
    path = os.path.join(REPOSITORY, "tests", "corpus", "gen_pytorch_verdicts.py")
    loaded = importlib.util.spec_from_file_location("gen_pytorch_verdicts", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


class VerdictScriptTest(unittest.TestCase):
    def test_a_traced_spec_with_notes_dtypes_and_a_layer_norm_bias_runs_in_the_verdict_script(self):
        g = verdict_script()

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = nn.LayerNorm(32)
                self.attn = nn.MultiheadAttention(32, 4, batch_first=True)

            def forward(self, x, bias):
                y = self.norm(x)
                return self.attn(y, y, y, attn_mask=bias, need_weights=False)[0]

        spec = mhacheck.trace(Block(), (mhacheck.shape("B", "T", 32), mhacheck.shape("T", "S")))
        attn = spec.calls[-1]
        self.assertIn("note", attn)  # PyTorch raised on the (T, S) mask
        document = spec.document
        document["modules"]["norm"]["bias"] = False  # as PyTorch 2.1+ writes a LayerNorm(bias=False)
        self.assertEqual(document["modules"]["attn"]["dtype"], "float32")
        built = g.build_modules(document["modules"])
        self.assertIsNone(built["norm"].bias)
        symbols = {"B": 2, "T": 3, "S": 5}
        values = g.make_values(document["tensors"], symbols, document["calls"], torch.Generator().manual_seed(0))
        with self.assertRaisesRegex(RuntimeError, "attn_mask"):  # PyTorch's own error, not a TypeError on `note`
            g.run_spec(document["modules"], document["calls"], built, values, symbols)


if __name__ == "__main__":
    main()
