"""torchaudio's Emformer RNN-T (a time reduction that keeps T - T % stride frames, the Emformer's
attention written with bmm, an LSTM predictor and a joiner), small; and bugs injected into it."""
import unittest

import torch
import torchaudio
from torchaudio.models import emformer, rnnt

import mhacheck
from trace_support import by_severity, check, line_with, main, replay, source_line

EMFORMER = emformer.__file__


def model():
    torch.manual_seed(0)
    return torchaudio.models.emformer_rnnt_model(
        input_dim=20, encoding_dim=24, num_symbols=10, segment_length=4, right_context_length=1,
        time_reduction_input_dim=32, time_reduction_stride=2, transformer_num_heads=4, transformer_ffn_dim=48,
        transformer_num_layers=2, transformer_dropout=0.0, transformer_activation="gelu",
        transformer_left_context_length=8, transformer_max_memory_size=0,
        transformer_weight_init_scale_strategy="depthwise", transformer_tanh_on_mem=True, symbol_embedding_dim=16,
        num_lstm_layers=1, lstm_layer_norm=True, lstm_layer_norm_epsilon=1e-3, lstm_dropout=0.0).eval()


def inputs(features=("B", "T", 20)):
    # sources (B, T, 20) with their lengths, and 5 target symbols per utterance
    return (mhacheck.shape(*features), lambda s: torch.full((s["B"],), s["T"], dtype=torch.int32),
            lambda s: torch.randint(0, 10, (s["B"], 5), dtype=torch.int32),
            lambda s: torch.full((s["B"],), 5, dtype=torch.int32))


def ops(spec, op):
    return [c for c in spec.calls if c.get("op") == op]


class EmformerRNNTTest(unittest.TestCase):
    def test_clean_model_checks_with_every_attention_call(self):
        spec = mhacheck.trace(model(), inputs())
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        self.assertEqual(len(ops(spec, "softmax")), 2)  # one per Emformer layer
        for call in ops(spec, "softmax"):
            self.assertTrue(call["source"].startswith(EMFORMER + ":"))
        # The time reduction reshapes T - T % 2 frames (T-1 at an odd probe) into (T-1)/2 groups,
        # a size the spec cannot write: that reshape stays a traced tensor, noted at its line.
        notes = [t.get("note", "") for t in spec.document["tensors"].values()]
        self.assertTrue([n for n in notes if n.startswith("made by torch reshape at " + rnnt.__file__)])

    def test_replay_reproduces_the_traced_outputs(self):
        spec = mhacheck.trace(model(), inputs(), dims={"B": 2, "T": 9}, values=True)
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        replay(self, spec)

    def test_heads_not_dividing_is_an_error_at_the_head_split(self):
        broken = model()
        broken.transcriber.transformer.emformer_layers[1].attention.num_heads = 3  # 32 channels in 3 heads
        spec = mhacheck.trace(broken, inputs())
        self.assertIsInstance(spec.error, RuntimeError)
        errors = by_severity(check(spec), "error")
        self.assertEqual([e["code"] for e in errors], ["MHA302"])
        path, line, _ = source_line(errors[0])
        self.assertEqual((path, line), (EMFORMER, line_with(EMFORMER, "tensor.contiguous().view(-1, B * self.num_heads")))

    def test_time_major_sources_are_an_error_at_the_padding_mask(self):
        # (T, B, 20) given to a model that reads (B, T, 20): the lengths' padding mask no longer
        # lines up with the attention weights.
        spec = mhacheck.trace(model(), inputs(features=("T", "B", 20)))
        self.assertIsInstance(spec.error, RuntimeError)
        errors = by_severity(check(spec), "error")
        self.assertEqual([e["code"] for e in errors], ["MHA320"])
        self.assertEqual(errors[0]["argument"], "mask")
        path, _, text = source_line(errors[0])
        self.assertEqual(path, EMFORMER)
        self.assertIn("masked_fill", text)


if __name__ == "__main__":
    main()
