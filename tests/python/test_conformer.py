"""torchaudio's Conformer: (B, T, D) input and lengths, transposed inside to (T, B, D)."""
import unittest
from unittest import mock

import torch
import torchaudio
from torchaudio.models import conformer

import mhacheck
from trace_support import by_severity, check, main, module_calls, replay, source_line


def model():
    torch.manual_seed(0)
    return torchaudio.models.Conformer(input_dim=32, num_heads=4, ffn_dim=64, num_layers=2,
                                       depthwise_conv_kernel_size=7).eval()


def inputs():
    # lengths must be (B,) with values up to T: made from the traced sizes.
    return (mhacheck.shape("B", "T", 32), lambda sizes: torch.full((sizes["B"],), sizes["T"]))


class ConformerTest(unittest.TestCase):
    def test_clean_model_checks_with_every_attention_call(self):
        spec = mhacheck.trace(model(), inputs())
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        attention = module_calls(spec, "MultiheadAttention")
        self.assertEqual([c["module"] for c in attention], ["conformer_layers.0.self_attn", "conformer_layers.1.self_attn"])
        tensors = spec.document["tensors"]
        self.assertEqual(tensors["lengths"]["shape"], ["B"])
        # torchaudio's _lengths_to_padding_mask: arange(T) >= lengths[:, None], a traced comparison.
        made = [c for c in spec.calls if attention[0]["key_padding_mask"] in c.get("outputs", [])]
        self.assertEqual([c.get("op") for c in made], ["ge"])
        self.assertIn(conformer.__file__, made[0]["source"])
        for call in attention:
            _, _, text = source_line({"location": {"file": call["source"].rpartition(":")[0],
                                                   "line": int(call["source"].rpartition(":")[2])}})
            self.assertIn("self.self_attn(", text)

    def test_replay_reproduces_the_traced_outputs(self):
        spec = mhacheck.trace(model(), inputs(), values=True)
        self.assertIsNone(spec.error)
        replay(self, spec)

    def test_padding_mask_of_the_wrong_layout_is_an_error_at_the_attention_line(self):
        make_mask = conformer._lengths_to_padding_mask
        with mock.patch.object(conformer, "_lengths_to_padding_mask", lambda lengths: make_mask(lengths).t()):
            spec = mhacheck.trace(model(), inputs())
        self.assertIsNotNone(spec.error)
        errors = by_severity(check(spec), "error")
        self.assertEqual([e["code"] for e in errors], ["MHA052"])
        self.assertEqual(errors[0]["argument"], "key_padding_mask")
        path, _, text = source_line(errors[0])
        self.assertEqual(path, conformer.__file__)
        self.assertIn("self.self_attn(", text)


if __name__ == "__main__":
    main()
