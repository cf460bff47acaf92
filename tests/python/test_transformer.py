"""PyTorch's own nn.Transformer inside a user's model, traced clean and with bugs injected."""
import os
import unittest

import torch
import torch.nn as nn

import mhacheck
from trace_support import by_severity, check, line_number, main, module_calls, replay, source_line

HERE = os.path.abspath(__file__)


class Seq2Seq(nn.Module):
    def __init__(self, batch_first=True, mask_layout="(B, S)"):
        super().__init__()
        self.transformer = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                                          dim_feedforward=64, batch_first=batch_first)
        self.mask_layout = mask_layout

    def forward(self, src, tgt, padding):
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        if self.mask_layout == "(S, B)":
            padding = padding.t()
        return self.transformer(src, tgt, tgt_mask=causal, src_key_padding_mask=padding, memory_key_padding_mask=padding)  #: transformer


def inputs():
    return (mhacheck.shape("B", "S", 32), mhacheck.shape("B", "T", 32), mhacheck.shape("B", "S", dtype=torch.bool))


def model(**options):
    torch.manual_seed(0)
    return Seq2Seq(**options).eval()


class TransformerTest(unittest.TestCase):
    def test_clean_model_checks_with_every_attention_call(self):
        m = model()
        attention_calls = []
        hooks = [a.register_forward_hook(lambda *_: attention_calls.append(1))
                 for a in m.modules() if isinstance(a, nn.MultiheadAttention)]
        spec = mhacheck.trace(m, inputs())
        for hook in hooks:
            hook.remove()
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        (call,) = module_calls(spec, "Transformer")
        options = spec.document["modules"][call["module"]]
        # The one recorded call runs every attention block: 2 encoder self-attentions, and
        # self- and cross-attention in each of the 2 decoder layers; the tracer runs the model
        # twice (at two sets of probes).
        self.assertEqual(len(attention_calls), 2 * 6)
        self.assertEqual(2 * (options["num_encoder_layers"] + 2 * options["num_decoder_layers"]), len(attention_calls))
        self.assertEqual((options["d_model"], options["nhead"], options["batch_first"]), (32, 4, True))
        self.assertEqual(call["source"], f"{HERE}:{line_number(HERE, 'transformer')}")
        (made,) = [c for c in spec.calls if c.get("outputs", [None])[0] == call["tgt_mask"]]
        self.assertEqual(made["op"], "triu")  # generate_square_subsequent_mask's torch.triu, recorded
        outputs = {name: value["shape"] for c in check(spec)["files"][0]["calls"] for name, value in c["outputs"].items()}
        self.assertEqual(outputs[call["tgt_mask"]], ["T", "T"])
        self.assertEqual(spec.document["tensors"][call["src_key_padding_mask"]]["shape"], ["B", "S"])

    def test_replay_reproduces_the_traced_outputs(self):
        spec = mhacheck.trace(model(), inputs(), values=True)
        self.assertIsNone(spec.error)
        replay(self, spec)

    def test_batch_first_flipped_is_an_error_at_the_call(self):
        spec = mhacheck.trace(model(batch_first=False), inputs())
        self.assertIsInstance(spec.error, RuntimeError)
        errors = by_severity(check(spec), "error")
        self.assertEqual([e["code"] for e in errors], ["MHA408"])
        path, line, _ = source_line(errors[0])
        self.assertEqual((path, line), (HERE, line_number(HERE, "transformer")))

    def test_padding_mask_of_the_wrong_layout_is_an_error_at_the_call(self):
        spec = mhacheck.trace(model(mask_layout="(S, B)"), inputs())
        self.assertIsNotNone(spec.error)
        errors = by_severity(check(spec), "error")
        self.assertTrue(errors)
        self.assertIn("src_key_padding_mask", errors[0]["message"])
        for error in errors:
            path, line, _ = source_line(error)
            self.assertEqual((path, line), (HERE, line_number(HERE, "transformer")))


if __name__ == "__main__":
    main()
