"""torchaudio's wav2vec 2.0 / HuBERT (a convolution front end, then self-attention written with
Linear, view, transpose/permute, @ and softmax) and Emformer (segments, memory, bmm)."""
import unittest

import torch
import torchaudio
from torchaudio.models.wav2vec2 import components

import mhacheck
from trace_support import by_severity, check, line_with, main, module_calls, replay, source_line


def lengths(sizes):
    return torch.full((sizes["B"],), sizes["T"])


def ops(spec, op):
    return [c for c in spec.calls if c.get("op") == op]


class Wav2Vec2Test(unittest.TestCase):
    def test_wav2vec2_and_hubert_with_symbolic_length_check_with_every_attention_call(self):
        for build in (torchaudio.models.wav2vec2_base, torchaudio.models.hubert_base):
            with self.subTest(model=build.__name__):
                torch.manual_seed(0)
                # T=53 samples are too few for the 400-sample front end: T is traced at a larger probe.
                spec = mhacheck.trace(build().eval(), (mhacheck.shape("B", "T"), lengths))
                self.assertIsNone(spec.error)
                self.assertGreaterEqual(spec.sizes["T"], 1000)
                self.assertEqual(by_severity(check(spec), "error", "warning"), [])
                self.assertEqual(len(ops(spec, "softmax")), 12)
                projections = [c["module"] for c in module_calls(spec, "Linear") if c["module"].endswith("_proj")]
                self.assertEqual(len(projections), 48)  # q, k, v and out in each of the 12 layers
                self.assertEqual(spec.document["tensors"]["waveforms"]["shape"], ["B", "T"])
                for call in ops(spec, "softmax"):
                    self.assertTrue(call["source"].startswith(components.__file__ + ":"))

    def test_wav2vec2_replays(self):
        torch.manual_seed(0)
        spec = mhacheck.trace(torchaudio.models.wav2vec2_base().eval(), (mhacheck.shape(1, 4000),), values=True)
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        replay(self, spec)

    def test_heads_not_dividing_is_an_error_at_the_view(self):
        torch.manual_seed(0)
        model = torchaudio.models.wav2vec2_base().eval()
        attention = model.encoder.transformer.layers[3].attention
        attention.num_heads, attention.head_dim = 5, 768 // 5
        # T=53 first fails in the convolutions; at the larger probe, in layer 3's view: that is kept.
        spec = mhacheck.trace(model, (mhacheck.shape("B", "T"),))
        self.assertIsInstance(spec.error, RuntimeError)
        self.assertGreaterEqual(spec.sizes["T"], 1000)
        errors = by_severity(check(spec), "error")
        self.assertEqual([e["code"] for e in errors], ["MHA302"])
        path, line, _ = source_line(errors[0])
        self.assertEqual((path, line), (components.__file__, line_with(components.__file__, "q = self.q_proj(x).view(*shape)")))


class EmformerTest(unittest.TestCase):
    def model(self):
        torch.manual_seed(0)
        return torchaudio.models.Emformer(input_dim=32, num_heads=4, ffn_dim=64, num_layers=2, segment_length=4,
                                          right_context_length=1).eval()

    def test_emformer_checks_and_replays(self):
        inputs = (mhacheck.shape("B", 21, 32), lambda sizes: torch.full((sizes["B"],), 21))
        spec = mhacheck.trace(self.model(), inputs)
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        self.assertEqual(len(ops(spec, "softmax")), 2)
        self.assertEqual(spec.document["tensors"]["input"]["shape"], ["B", 21, 32])
        spec = mhacheck.trace(self.model(), inputs, dims={"B": 2}, values=True)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        replay(self, spec)


if __name__ == "__main__":
    main()
