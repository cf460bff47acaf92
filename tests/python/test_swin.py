"""torchvision's Swin Transformer (v1 and v2): windowed attention written with F.linear, reshape,
permute, qkv[0], matmul and softmax, shifted windows with a mask built in place."""
import unittest

import torch
import torchvision
from torchvision.models import swin_transformer

import mhacheck
from trace_support import by_severity, check, line_with, main, module_calls, replay, source_line

TORCHVISION_SWIN = swin_transformer.__file__


def small_swin(version=1, **options):
    # 56x56 images, 4x4 patches: 14x14 tokens in 2x2 windows of 7x7, so the second block shifts
    # and masks; then one 7x7 window.
    torch.manual_seed(0)
    parts = {} if version == 1 else {"block": swin_transformer.SwinTransformerBlockV2,
                                     "downsample_layer": swin_transformer.PatchMergingV2}
    return swin_transformer.SwinTransformer(patch_size=[4, 4], embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                                            window_size=[7, 7], num_classes=10, **parts, **options).eval()


def ops(spec, op):
    return [c for c in spec.calls if c.get("op") == op]


class SwinTest(unittest.TestCase):
    def test_swin_t_checks_with_every_attention_call(self):
        model = torchvision.models.swin_t().eval().to("meta")
        spec = mhacheck.trace(model, (mhacheck.shape("B", 3, 224, 224),))
        self.assertIsNone(spec.error)
        report = check(spec)
        self.assertEqual(by_severity(report, "error", "warning"), [])
        # 12 blocks: each one softmax over q @ k^T, with q, k and v indexed out of the permuted qkv
        self.assertEqual(len(ops(spec, "softmax")), 12)
        self.assertEqual(len(ops(spec, "matmul")), 24)
        qkv = [c["index"] for c in ops(spec, "getitem") if c["index"] in ("[0]", "[1]", "[2]")]
        self.assertEqual(qkv, ["[0]", "[1]", "[2]"] * 12)
        self.assertEqual(spec.document["tensors"]["x"]["shape"], ["B", 3, 224, 224])
        self.assertEqual(spec.calls[-1]["module"], "head")
        # F.linear(x, self.qkv.weight, self.qkv.bias) is that nn.Linear's call
        linear = [c["module"] for c in module_calls(spec, "Linear")]
        self.assertEqual(sum(m.endswith(".attn.qkv") for m in linear), 12)
        self.assertEqual(sum(m.endswith(".attn.proj") for m in linear), 12)
        notes = [t.get("note", "") for t in spec.document["tensors"].values()]
        self.assertFalse([n for n in notes if "made before tracing" in n or "torch linear" in n])
        # B survives the window partition: q is (64*B windows, 3 heads, 49 tokens, 32) in the first stage
        q = ops(spec, "getitem")[0]["id"]
        (checked,) = [c for c in report["files"][0]["calls"] if c["id"] == q]
        self.assertEqual(checked["outputs"][q]["shape"], ["64*B", 3, 49, 32])

    def test_small_swin_v1_and_v2_replay(self):
        for version in (1, 2):
            with self.subTest(version=version):
                spec = mhacheck.trace(small_swin(version), (mhacheck.shape("B", 3, 56, 56),), dims={"B": 2}, values=True)
                self.assertIsNone(spec.error)
                self.assertEqual(by_severity(check(spec), "error", "warning"), [])
                self.assertEqual(len(ops(spec, "softmax")), 4)
                self.assertEqual(len(ops(spec, "masked_fill")), 2)  # the shifted block's mask
                # v2's qkv is F.linear with the module's weight and a clone of its bias whose key
                # third is zeroed: the function linear, one per block
                self.assertEqual(len(ops(spec, "linear")), 0 if version == 1 else 4)
                replay(self, spec)

    def test_symbolic_image_sizes_keep_the_windows_batch_symbolic(self):
        # At B,3,H,W the windows per image (padded H/28 times W/28) are numbers that follow H and W
        # in a way no spec dim writes; reshape(B * num_windows, 49, C) is then 6*B, which the
        # attention's view(-1, heads, 49, 49) of (B, 6, heads, 49, 49) derives too.
        for version in (1, 2):
            with self.subTest(version=version):
                spec = mhacheck.trace(small_swin(version).to("meta"), (mhacheck.shape("B", 3, "H", "W"),))
                self.assertIsNone(spec.error)
                self.assertEqual(by_severity(check(spec), "error", "warning"), [])
                windows = [c["shape"][0] for c in ops(spec, "reshape") if c["shape"][1:] == [49, 3, 2, 16]]
                self.assertTrue(windows)
                self.assertTrue(all(isinstance(w, str) and w.endswith("*B") for w in windows), windows)

    def test_a_model_in_training_mode_replays(self):
        # Dropout that zeroes elements, and stochastic depth's bernoulli_ noise, are random: their
        # traced values enter the spec, so the replay still reproduces every call.
        model = small_swin(dropout=0.2, stochastic_depth_prob=0.5).train()
        spec = mhacheck.trace(model, (mhacheck.shape("B", 3, 56, 56),), dims={"B": 2}, values=True)
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        notes = [t.get("note", "") for t in spec.document["tensors"].values()]
        self.assertTrue([n for n in notes if n.startswith("made by torch dropout")])
        # torchvision's noise: torch.empty(...).bernoulli_(survival).div_(survival), written in place
        self.assertTrue([n for n in notes if n.startswith(("made by torch bernoulli_", "made by torch div_"))])
        replay(self, spec)

    def test_heads_not_dividing_is_an_error_at_the_qkv_reshape(self):
        model = small_swin()
        model.features[1][0].attn.num_heads = 5  # 32 channels in 5 heads
        spec = mhacheck.trace(model, (mhacheck.shape("B", 3, 56, 56),))
        self.assertIsInstance(spec.error, RuntimeError)
        errors = by_severity(check(spec), "error")
        self.assertEqual([e["code"] for e in errors], ["MHA302"])
        path, line, text = source_line(errors[0])
        self.assertEqual((path, line), (TORCHVISION_SWIN, line_with(TORCHVISION_SWIN, "qkv = qkv.reshape(")))


if __name__ == "__main__":
    main()
