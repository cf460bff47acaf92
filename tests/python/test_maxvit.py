"""torchvision's MaxViT: window and grid attention written with torch.einsum ("B G H I D, B G H J D
-> B G H I J" for q.k, "B G H I J, B G H J D -> B G H I D" for p.v), and einsum attention with a bug."""
import os
import unittest

import torch
import torchvision
from torch import nn
from torchvision.models import maxvit

import mhacheck
from trace_support import by_severity, check, line_number, line_with, main, replay, source_line

TORCHVISION_MAXVIT = maxvit.__file__


def einsums(spec):
    return [c for c in spec.calls if c.get("op") == "einsum"]


def small_maxvit():
    # 64x64 images: a 32x32 stem, then stages of 16x16 and 8x8 in 2x2 windows and grids.
    torch.manual_seed(0)
    return maxvit.MaxVit(input_size=(64, 64), stem_channels=16, partition_size=2, block_channels=[32, 64], block_layers=[1, 1],
                         head_dim=16, stochastic_depth_prob=0.0, num_classes=10).eval()


class EinsumAttention(nn.Module):
    """Multi-head attention with einsum, as research code writes it."""

    def __init__(self, dim=32, heads=4, transpose_keys=True):
        super().__init__()
        self.heads, self.transpose_keys = heads, transpose_keys
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, e = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (y.view(b, t, self.heads, e // self.heads).transpose(1, 2) for y in (q, k, v))
        if not self.transpose_keys:
            k = k.transpose(-2, -1)  # (b, h, d, t): the layout a matmul would want, not this einsum
        scores = torch.einsum("bhid,bhjd->bhij", q, k) * (e // self.heads) ** -0.5  #: scores
        context = torch.einsum("bhij,bhjd->bhid", scores.softmax(-1), v)
        return self.out(context.transpose(1, 2).reshape(b, t, e))


class MaxVitTest(unittest.TestCase):
    def test_maxvit_t_checks_with_every_attention_einsum(self):
        model = torchvision.models.maxvit_t().eval().to("meta")
        spec = mhacheck.trace(model, (mhacheck.shape("B", 3, 224, 224),))
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        # 11 MaxViT layers, each a window and a grid attention: q.k and p.v per attention
        calls = einsums(spec)
        self.assertEqual(len(calls), 44)
        self.assertEqual([c["equation"] for c in calls[:2]],
                         ["B G H I D, B G H J D -> B G H I J", "B G H I J, B G H J D -> B G H I D"])
        lines = {line_with(TORCHVISION_MAXVIT, 'torch.einsum("B G H I D, B G H J D -> B G H I J", q, k)'),
                 line_with(TORCHVISION_MAXVIT, 'torch.einsum("B G H I J, B G H J D -> B G H I D", dot_prod, v)')}
        self.assertEqual({int(c["source"].rsplit(":", 1)[1]) for c in calls}, lines)
        # each einsum takes the outputs of recorded calls: the graph is not cut at the attention
        produced = {name for c in spec.calls for name in c.get("outputs", [])}
        self.assertTrue(all(operand in produced for c in calls for operand in c["operands"]))

    def test_small_maxvit_replays(self):
        spec = mhacheck.trace(small_maxvit(), (mhacheck.shape("B", 3, 64, 64),), dims={"B": 2}, values=True)
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        self.assertEqual(len(einsums(spec)), 8)
        replay(self, spec)

    def test_einsum_attention_replays_and_a_wrong_key_layout_is_located(self):
        spec = mhacheck.trace(EinsumAttention(), (mhacheck.shape("B", "T", 32),), values=True)
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        self.assertEqual([c["equation"] for c in einsums(spec)], ["bhid,bhjd->bhij", "bhij,bhjd->bhid"])
        replay(self, spec)
        spec = mhacheck.trace(EinsumAttention(transpose_keys=False), (mhacheck.shape("B", "T", 32),))
        self.assertIsInstance(spec.error, RuntimeError)
        self.assertIn("einsum(): subscript", str(spec.error))
        errors = by_severity(check(spec), "error")
        self.assertEqual([d["code"] for d in errors], ["MHA364"])
        path, line, _ = source_line(errors[0])
        self.assertEqual((path, line), (os.path.abspath(__file__), line_number(__file__, "scores")))


if __name__ == "__main__":
    main()
