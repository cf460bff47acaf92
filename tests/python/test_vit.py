"""torchvision's Vision Transformer: vit_b_16 itself on the meta device, a small one with values."""
import unittest

import torch
import torchvision
from torchvision.models import vision_transformer

import mhacheck
from trace_support import by_severity, check, main, module_calls, replay, source_line

TORCHVISION_VIT = vision_transformer.__file__


def small_vit():
    torch.manual_seed(0)
    return vision_transformer.VisionTransformer(image_size=32, patch_size=16, num_layers=2, num_heads=4,
                                                hidden_dim=64, mlp_dim=128).eval()


class VitTest(unittest.TestCase):
    def test_vit_b_16_checks_with_every_attention_call(self):
        model = torchvision.models.vit_b_16().eval().to("meta")
        spec = mhacheck.trace(model, (mhacheck.shape("B", 3, 224, 224),))
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        attention = module_calls(spec, "MultiheadAttention")
        self.assertEqual(len(attention), 12)
        self.assertEqual([c["module"] for c in attention],
                         [f"encoder.layers.encoder_layer_{i}.self_attention" for i in range(12)])
        for call in attention:
            self.assertEqual(spec.document["modules"][call["module"]]["batch_first"], True)
            self.assertFalse(call["need_weights"])
        self.assertEqual(spec.document["tensors"]["x"]["shape"], ["B", 3, 224, 224])
        # the patch embedding is a checked nn.Conv2d call, and its input is the model's input
        conv = module_calls(spec, "Conv2d")
        self.assertEqual([c["module"] for c in conv], ["conv_proj"])
        self.assertEqual(spec.document["modules"]["conv_proj"]["kernel_size"], [16, 16])
        self.assertEqual(spec.document["modules"]["conv_proj"]["stride"], [16, 16])
        self.assertEqual(conv[0]["input"], "x")
        self.assertEqual(spec.calls[-1]["module"], "heads.head")
        # The class token's expand keeps B; every MLP's nn.GELU and each nn.Dropout are calls.
        expand = [c for c in spec.calls if c.get("op") == "expand"]
        self.assertEqual([c["size"] for c in expand], [["B", -1, -1]])
        ops = [c.get("op") for c in spec.calls]
        self.assertEqual(ops.count("gelu"), 12)
        self.assertGreaterEqual(ops.count("dropout"), 12)
        self.assertFalse([n for n, t in spec.document["tensors"].items() if "expand" in t.get("note", "") or "gelu" in t.get("note", "")])

    def test_small_vit_replays(self):
        spec = mhacheck.trace(small_vit(), (mhacheck.shape("B", 3, 32, 32),), values=True)
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        # the class token, x[:, 0], is a checked call, run by the replay below
        class_token = [c for c in spec.calls if c.get("op") == "getitem"]
        self.assertEqual([c["index"] for c in class_token], ["[:, 0]"])
        file, _, line = class_token[0]["source"].rpartition(":")
        self.assertEqual(file, TORCHVISION_VIT)
        with open(file, encoding="utf-8") as source:
            self.assertIn("x[:, 0]", source.read().splitlines()[int(line) - 1])
        replay(self, spec)

    def test_batch_first_flipped_is_a_warning_at_torchvisions_line(self):
        model = small_vit()
        for module in model.modules():
            if isinstance(module, torch.nn.MultiheadAttention):
                module.batch_first = False  # (B, 5, 64) now reads as (L=B, N=5): PyTorch runs it
        spec = mhacheck.trace(model, (mhacheck.shape("B", 3, 32, 32),))
        self.assertIsNone(spec.error)
        report = check(spec)
        self.assertEqual(by_severity(report, "error"), [])
        warnings = by_severity(report, "warning")
        self.assertEqual({w["code"] for w in warnings}, {"MHA081"})
        self.assertEqual({w["call"] for w in warnings},
                         {f"encoder.layers.encoder_layer_{i}.self_attention" for i in range(2)})
        for warning in warnings:
            path, _, text = source_line(warning)
            self.assertEqual(path, TORCHVISION_VIT)
            self.assertIn("self.self_attention(", text)


if __name__ == "__main__":
    main()
