"""A GPT-2 style block written with matmul and softmax, traced clean and with bugs injected."""
import os
import unittest

import torch
import torch.nn as nn
import torch.nn.functional as F

import mhacheck
from trace_support import by_severity, check, line_number, main, replay, source_line

HERE = os.path.abspath(__file__)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_head, bug=None):
        super().__init__()
        self.n_head, self.bug = n_head, bug
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.register_buffer("bias", torch.full((64, 64), float("-inf")).triu(1))
        self.drop = nn.Dropout(0.1)
        self.gain = 0.5

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)  #: qkv
        head = C // self.n_head if self.bug != "heads" else C // (self.n_head + 1)
        n_head = self.n_head if self.bug != "heads" else self.n_head + 1
        q = q.view(B, T, n_head, head).transpose(1, 2)  #: split heads
        k = k.view(B, T, n_head, head)
        if self.bug != "transpose":
            k = k.transpose(1, 2)
        v = v.view(B, T, n_head, head).transpose(1, 2)
        att = q @ k.transpose(-2, -1)  #: scores
        att = att + self.bias[:T, :T]
        att = F.softmax(att, dim=-1)  #: weights
        y = att @ v  #: context
        y = y.transpose(1, 2).contiguous().view(B, T, C)  #: merge heads
        y = self.drop(y) * self.gain  #: scaled dropout
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, d_model=64, n_head=4, bug=None):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_head, bug)
        self.ln_2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.proj = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))  #: attention residual
        return x + self.proj(F.gelu(self.fc(self.ln_2(x))))


def gpt(bug=None):
    torch.manual_seed(0)
    return nn.Sequential(Block(bug=bug), Block()).eval()


class Gpt2Test(unittest.TestCase):
    def test_clean_block_checks_with_every_attention_call(self):
        spec = mhacheck.trace(gpt(), (mhacheck.shape("B", "T", 64),))
        self.assertIsNone(spec.error)
        report = check(spec)
        self.assertEqual(by_severity(report, "error", "warning"), [])
        # Both blocks' scores, weights and context, at their own lines, in execution order.
        lines = {op: [c["source"] for c in spec.calls if c.get("op") == op] for op in ("matmul", "softmax")}
        scores, weights, context = (f"{HERE}:{line_number(HERE, m)}" for m in ("scores", "weights", "context"))
        self.assertEqual(lines["matmul"], [scores, context, scores, context])
        self.assertEqual(lines["softmax"], [weights, weights])
        # Symbols survive: the head split is written with B and T.
        views = [c for c in spec.calls if c.get("op") == "view"]
        self.assertEqual(views[0]["shape"], ["B", "T", 4, 16])
        self.assertEqual(spec.document["tensors"]["input"]["shape"], ["B", "T", 64])
        # q, k, v = ....split(C, dim=2): one call per block, each output wired to its view.
        splits = [c for c in spec.calls if c.get("op") == "split"]
        self.assertEqual([(c["split_size"], c["dim"], c["source"]) for c in splits], [(64, 2, f"{HERE}:{line_number(HERE, 'qkv')}")] * 2)
        self.assertEqual(splits[0]["outputs"], ["split", "split.1", "split.2"])
        self.assertEqual([c["input"] for c in views[:3]], splits[0]["outputs"])
        self.assertFalse([t for t in spec.document["tensors"].values() if "split" in t.get("note", "")])
        # contiguous, dropout (nn.Dropout in eval mode), mul by a number and gelu are calls of their own.
        ops = [c.get("op") for c in spec.calls]
        for op in ("contiguous", "dropout", "mul", "gelu"):
            self.assertEqual(ops.count(op), 2, op)
        dropout = next(c for c in spec.calls if c.get("op") == "dropout")
        self.assertEqual((dropout["p"], dropout["training"]), (0.1, False))
        self.assertEqual(dropout["source"], f"{HERE}:{line_number(HERE, 'scaled dropout')}")
        self.assertEqual(next(c for c in spec.calls if c.get("op") == "mul")["other"], 0.5)
        self.assertFalse([t for t in spec.document["tensors"].values() if "gelu" in t.get("note", "") or "contiguous" in t.get("note", "")])

    def test_replay_reproduces_the_traced_outputs(self):
        spec = mhacheck.trace(gpt(), (mhacheck.shape("B", "T", 64),), values=True)
        self.assertIsNone(spec.error)
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        replay(self, spec)

    def test_transpose_removed_fails_at_the_scores_line(self):
        spec = mhacheck.trace(gpt("transpose"), (mhacheck.shape("B", "T", 64),))
        self.assertIsInstance(spec.error, RuntimeError)
        # the matmul PyTorch raised on is recorded, and a stand-in took the trace on past it to the
        # next call PyTorch raises on, the causal mask's add (tracing.md)
        raised = [c for c in spec.calls if "PyTorch raised" in c.get("note", "")]
        self.assertEqual([c["op"] for c in raised], ["matmul", "add"])
        self.assertIn("stand-in output", raised[0]["note"])
        errors = by_severity(check(spec), "error")
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["code"], "MHA308")
        path, line, _ = source_line(errors[0])
        self.assertEqual((path, line), (HERE, line_number(HERE, "scores")))

    def test_heads_not_dividing_fails_at_the_split(self):
        spec = mhacheck.trace(gpt("heads"), (mhacheck.shape("B", "T", 64),))
        self.assertIsInstance(spec.error, RuntimeError)
        errors = by_severity(check(spec), "error")
        self.assertEqual([e["code"] for e in errors], ["MHA302"])
        path, line, _ = source_line(errors[0])
        self.assertEqual((path, line), (HERE, line_number(HERE, "split heads")))


if __name__ == "__main__":
    main()
