"""The package itself: pip install, the command line, shape(), probe sizes and symbol readings,
declared tensors, dims=, check()'s binary lookup."""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import torch
import torch.nn as nn

import mhacheck
from mhacheck._symbols import DimNamer, choose_probes
from trace_support import BINARY, by_severity, check, line_number, main, replay, source_line

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))

MODEL_PY = textwrap.dedent("""\
    import torch.nn as nn

    class Attend(nn.Module):
        def __init__(self, heads):
            super().__init__()
            self.attn = nn.MultiheadAttention(64, heads, batch_first=True)

        def forward(self, x, memory):
            return self.attn(x, memory, memory, need_weights=False)[0]

    def build():
        return Attend(4)

    class FrontEnd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(1, 8, kernel_size=400, stride=160)
            self.proj = nn.Linear(8, 8)

        def forward(self, waveforms):
            frames = self.conv(waveforms.unsqueeze(1))
            return self.proj(frames.transpose(1, 2))

    def front_end():
        return FrontEnd()

    def wide_front_end():
        model = FrontEnd()
        model.conv = nn.Conv1d(1, 8, kernel_size=100000)
        return model

    def volume_front_end():
        model = FrontEnd()
        model.conv = nn.Conv3d(1, 8, kernel_size=3)  # a 3-D waveform batch is no volume: always raises
        return model
    """)


class PackageTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="mhacheck-package-")
        self.addCleanup(shutil.rmtree, self.folder)

    def test_pip_installs_the_package_without_an_index(self):
        source = shutil.copytree(os.path.join(REPOSITORY, "python"), os.path.join(self.folder, "src"))
        target = os.path.join(self.folder, "site")
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                               "--target", target, source], capture_output=True, text=True, check=False)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        probe = subprocess.run([sys.executable, "-c", "import mhacheck; print(mhacheck.__file__, mhacheck.trace.__name__)"],
                               capture_output=True, text=True, check=False, env=dict(os.environ, PYTHONPATH=target))
        self.assertEqual(probe.returncode, 0, probe.stderr)
        self.assertTrue(probe.stdout.startswith(os.path.join(target, "mhacheck")), probe.stdout)

    def run_cli(self, *args):
        with open(os.path.join(self.folder, "usermodel.py"), "w", encoding="utf-8") as out:
            out.write(MODEL_PY)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPOSITORY, "python"), self.folder]))
        return subprocess.run([sys.executable, "-m", "mhacheck", "trace", *args, "--binary", BINARY],
                              capture_output=True, text=True, check=False, cwd=self.folder, env=env)

    def test_command_line_traces_and_checks(self):
        done = self.run_cli("usermodel:build", "--input", "x=B,T,64", "--input", "memory=B,S,64", "--dim", "B=3",
                            "-o", "good.json", "--check")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("OK: 0 errors, 0 warnings", done.stdout)
        spec = mhacheck.check(os.path.join(self.folder, "good.json"), binary=BINARY)
        self.assertEqual(spec["diagnostics"], [])
        self.assertEqual(spec["files"][0]["calls"][0]["outputs"]["attn"]["shape"], [3, "T", 64])

    def test_command_line_check_fails_at_the_models_line(self):
        done = self.run_cli("usermodel:build", "--input", "x=B,T,64", "--input", "memory=B,S,32",
                            "-o", "bad.json", "--check")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("the model raised", done.stderr)
        self.assertIn("error[MHA", done.stdout)
        self.assertIn(" --> usermodel.py:9:9\n", done.stdout)
        self.assertIn("return self.attn(x, memory, memory, need_weights=False)[0]", done.stdout)

    def test_a_symbol_too_small_for_the_model_is_traced_at_a_larger_probe(self):
        # A 400-sample convolution cannot run on a waveform of T=53 samples: T is traced at >= 1000.
        done = self.run_cli("usermodel:front_end", "--input", "waveforms=B,T", "-o", "front.json", "--check")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("OK: 0 errors, 0 warnings", done.stdout)
        self.assertRegex(done.stdout, r"sizes \{'B': 43, 'T': 1\d\d\d\}")

    def test_command_line_check_fails_when_the_model_raises_in_an_op_mhacheck_does_not_model(self):
        # The model raises in Conv3d, which mhacheck does not model, at every probe: the spec's
        # calls check clean, the exit code is 1.
        done = self.run_cli("usermodel:volume_front_end", "--input", "waveforms=B,T", "-o", "volume.json", "--check")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("OK: 0 errors", done.stdout)
        self.assertIn("the model raised RuntimeError", done.stderr)

    def test_a_kernel_no_probe_fits_is_explained_at_the_models_line(self):
        # The convolution is modelled: its kernel longer than any probe is the error mhacheck explains.
        done = self.run_cli("usermodel:wide_front_end", "--input", "waveforms=B,T", "-o", "wide.json", "--check")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("error[MHA356]", done.stdout)
        self.assertIn(" --> usermodel.py:21:9\n", done.stdout)
        self.assertIn("the model raised RuntimeError", done.stderr)

    def test_command_line_traces_on_the_meta_device(self):
        done = self.run_cli("usermodel:build", "--input", "x=B,T,64", "--input", "memory=B,S,64", "--device", "meta",
                            "-o", "meta.json", "--check")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("attn (B, T, 64) float32", done.stdout)
        refused = self.run_cli("usermodel:build", "--input", "x=B,T,64", "--input", "memory=B,S,64", "--device", "meta",
                               "--values", "-o", "meta.json")
        self.assertEqual(refused.returncode, 2)
        self.assertIn("values=True needs real tensors", refused.stderr)

    def test_command_line_refuses_bad_inputs(self):
        done = self.run_cli("usermodel:build", "--input", "x=B,T+1,64", "-o", "x.json")
        self.assertEqual(done.returncode, 2)
        self.assertIn("'T+1' in 'x=B,T+1,64' is not a size or a symbol name", done.stderr)

    def test_shape_validates_its_dims(self):
        self.assertEqual(mhacheck.shape("B", 3, dtype=torch.bool).dims, ("B", 3))
        with self.assertRaises(ValueError):
            mhacheck.shape("B+1")
        with self.assertRaises(TypeError):
            mhacheck.shape(2.0)
        with self.assertRaises(ValueError):
            mhacheck.shape(-1)

    def test_probe_sizes_avoid_the_models_sizes_and_each_other(self):
        sizes = choose_probes(["B", "T", "S"], {43, 64, 12}, {"S": 7})
        self.assertEqual(sizes["S"], 7)
        self.assertNotIn(sizes["B"], {43, 64, 12, 7})
        self.assertNotEqual(sizes["B"], sizes["T"])
        self.assertEqual(sizes, {"S": 7, "B": 53, "T": 67})  # 43 is taken, 47 is next to 48, 59 next to 60
        namer = DimNamer({"B": 53, "T": 67}, {64})
        self.assertEqual(namer.name(53)[0], "B")
        self.assertEqual(namer.name(8 * 53)[0], "8*B")
        self.assertEqual(namer.name(68)[0], "T+1")
        self.assertEqual(namer.name(64), (64, None))
        # Products of probes, factors sorted as mhacheck writes them, powers repeated.
        self.assertEqual(namer.name(67 * 53), ("B*T", None))
        self.assertEqual(namer.name(8 * 53 * 67), ("8*B*T", None))
        self.assertEqual(namer.name(67 * 67 * 53), ("B*T*T", None))
        self.assertEqual(namer.name(5000 * 53)[0], 5000 * 53)  # a constant factor this large is not a reading
        ambiguous = DimNamer({"B": 11, "T": 13}, set())
        value, note = ambiguous.name(12)
        self.assertEqual(value, 12)
        self.assertIn("B+1 or T-1", note)

    def test_probe_products_are_not_next_to_a_size_of_the_model(self):
        self.assertEqual(choose_probes(["B", "T"], set(), {}), {"B": 43, "T": 53})
        # 43*53 = 2279 is next to 2280, a size of the model: B*T would read as 2280-1 or stay
        # ambiguous, so T moves on to 67 (59 and 61 are next to 60).
        self.assertEqual(choose_probes(["B", "T"], {2280}, {}), {"B": 43, "T": 67})

    def test_a_product_of_symbols_is_written_b_times_t_and_replays(self):
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(16, 24)

            def forward(self, x):
                B, T, C = x.shape
                tokens = torch.erf(x.reshape(B * T, C))  # not modelled: declared with its traced shape
                return self.proj(tokens).view(B, T, -1).flatten(0, 1)

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", "T", 16),), values=True)
        self.assertIsNone(spec.error)
        sizes = [(c["op"], c.get("shape")) for c in spec.calls if c.get("op") in ("reshape", "view", "flatten")]
        self.assertEqual(sizes, [("reshape", ["B*T", 16]), ("view", ["B", "T", -1]), ("flatten", None)])
        (tokens,) = [t for t in spec.document["tensors"].values() if "erf" in t.get("note", "")]
        self.assertEqual(tokens["shape"], ["B*T", 16])
        report = check(spec)
        self.assertEqual(by_severity(report, "error", "warning"), [])
        flattened = report["files"][0]["calls"][-1]["outputs"]
        self.assertEqual([o["shape"] for o in flattened.values()], [[spec.sizes["B"] * spec.sizes["T"], 24]])
        replay(self, spec)

    def test_unmodelled_ops_become_declared_tensors_and_dims_fix_a_size(self):
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(16, 16)

            def forward(self, x):
                return self.proj(torch.erf(x))  #: erf

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", "T", 16),), dims={"B": 2})
        self.assertEqual(spec.document["dims"], {"B": 2})
        self.assertEqual(spec.sizes["B"], 2)
        (unmodelled,) = [t for t in spec.document["tensors"].values() if "erf" in t.get("note", "")]
        self.assertEqual(unmodelled["shape"], [2, "T", 16])
        self.assertRegex(unmodelled["note"], r"made by torch erf at .*test_package.py:\d+, which mhacheck does not model")
        self.assertEqual(spec.calls[0]["input"], [n for n, t in spec.document["tensors"].items() if t is unmodelled][0])
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])

    def test_indexing_select_and_narrow_are_recorded_and_replay(self):
        class Model(nn.Module):
            def forward(self, x):
                head = x[..., :8]
                first = x.select(1, 0)
                window = torch.narrow(x, 2, 4, 8)
                last = x[:, -1, None]
                upto = x[:, :x.shape[1]]  # a position that is the symbol T: stays a traced tensor
                return head, first, window, last, torch.cat([upto, x], 1)

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", "T", 16),), values=True)
        self.assertIsNone(spec.error)
        recorded = [(c["op"], c.get("index", c.get("dim"))) for c in spec.calls]
        self.assertEqual(recorded, [("getitem", "[..., :8]"), ("select", 0), ("narrow", 2), ("getitem", "[:, -1, None]"),
                                    ("cat", 1)])
        (upto,) = [t for t in spec.document["tensors"].values() if "__getitem__" in t.get("note", "")]
        self.assertEqual(upto["shape"], ["B", "T", 16])
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        replay(self, spec)

    def test_split_and_chunk_wire_each_output_and_replay(self):
        class Model(nn.Module):
            def forward(self, x):
                q, k, v = x.split(16, dim=2)
                a, b = torch.split(x, [40, 8], -1)
                c, d, e = x.chunk(3, -1)
                g, h = x.chunk(2, dim=1)  # a dim of the symbol T: stays traced
                return (q @ k.transpose(1, 2)).softmax(-1) @ v + a[..., :16] + b.mean() + c * d * e, torch.cat([g, h], 1)

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", "T", 48),), values=True)
        self.assertIsNone(spec.error)
        splits = [(c["op"], c.get("split_size", c.get("split_sizes", c.get("chunks"))), c["outputs"]) for c in spec.calls
                  if c["op"] in ("split", "split_with_sizes", "chunk")]
        self.assertEqual(splits, [("split", 16, ["split", "split.1", "split.2"]),
                                  ("split_with_sizes", [40, 8], ["split_with_sizes", "split_with_sizes.1"]),
                                  ("chunk", 3, ["chunk", "chunk.1", "chunk.2"])])
        transpose = [c for c in spec.calls if c["op"] == "transpose"][0]
        self.assertEqual(transpose["input"], "split.1")
        report = check(spec)
        self.assertEqual(by_severity(report, "error", "warning"), [])
        outputs = report["files"][0]["calls"][0]["outputs"]
        self.assertEqual([outputs[n]["shape"] for n in ("split", "split.1", "split.2")], [[spec.sizes["B"], spec.sizes["T"], 16]] * 3)
        traced = [t for t in spec.document["tensors"].values() if "made by torch chunk" in t.get("note", "")]
        self.assertEqual([(t["shape"][0], t["shape"][2]) for t in traced], [("B", 48), ("B", 48)])
        replay(self, spec)

    def test_split_sizes_that_miss_the_dim_fail_at_the_models_line(self):
        class Model(nn.Module):
            def forward(self, x):
                q, k, v = x.split([32, 32, 32], dim=-1)  #: sizes miss
                return q + k + v

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", "T", 80),))
        self.assertIsInstance(spec.error, RuntimeError)
        self.assertEqual((spec.calls[-1]["op"], spec.calls[-1]["split_sizes"]), ("split_with_sizes", [32, 32, 32]))
        errors = by_severity(check(spec), "error")
        self.assertEqual([e["code"] for e in errors], ["MHA345"])
        here = os.path.abspath(__file__)
        self.assertEqual(source_line(errors[0])[:2], (here, line_number(here, "sizes miss")))

    def test_a_chunk_the_model_unpacks_into_more_names_fails_at_its_line(self):
        class Model(nn.Module):
            def forward(self, x):
                a, b = x.chunk(2, -1)  # two of two: fine
                q, k, v = x.chunk(3, -1)  #: unpack
                return q + k + v + a + b

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", "T", 4),))
        self.assertIsInstance(spec.error, ValueError)
        self.assertEqual([c["outputs"] for c in spec.calls], [["chunk", "chunk.1"], ["chunk#2", "chunk#2.1", "chunk#2.2"]])
        errors = by_severity(check(spec), "error")
        self.assertEqual([e["code"] for e in errors], ["MHA347"])
        self.assertIn("not enough values to unpack (expected 3, got 2)", errors[0]["pytorch_error"]["message"])
        here = os.path.abspath(__file__)
        self.assertEqual(source_line(errors[0])[:2], (here, line_number(here, "unpack")))

    def test_a_chunk_the_model_unpacks_into_fewer_names_is_kept_with_why_the_check_cannot_tell(self):
        class Model(nn.Module):
            def forward(self, x):
                q, k = x.split(2, -1)  #: fewer names
                return q + k

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", "T", 6),))
        self.assertIsInstance(spec.error, ValueError)
        self.assertEqual(str(spec.error), "too many values to unpack (expected 2)")
        (split,) = spec.calls
        self.assertEqual((split["op"], split["outputs"]), ("split", ["split", "split.1", "split.2"]))
        self.assertIn("ValueError: too many values to unpack (expected 2)", split["note"])
        here = os.path.abspath(__file__)
        self.assertEqual(split["source"], f"{here}:{line_number(here, 'fewer names')}")

    def test_an_index_that_is_not_a_tuple_is_recorded(self):
        # PyTorch 1.13 shows qkv[0] (and table[index]) to no TorchFunctionMode: the graph must not be cut there.
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.table = nn.Parameter(torch.randn(10, 4))
                self.register_buffer("index", torch.tensor([3, 1, 4, 1, 5, 9]))

            def forward(self, x):
                qkv = x.reshape(x.shape[0], 6, 3, 4).permute(2, 0, 1, 3)
                q, k, v = qkv[0], qkv[1], qkv[2]
                bias = self.table[self.index]  #: table index
                scores = (q @ k.transpose(-2, -1) + bias @ bias.transpose(0, 1)).softmax(-1)
                return scores @ v, bias[:2][-1]

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", 6, 12),), values=True)
        self.assertIsNone(spec.error)
        indexes = [(c["input"], c["index"]) for c in spec.calls if c["op"] == "getitem"]
        self.assertEqual(indexes, [("permute", "[0]"), ("permute", "[1]"), ("permute", "[2]"), ("getitem_out", "[:2]"),
                                   ("getitem#4", "[-1]")])
        tensors = spec.document["tensors"]
        self.assertEqual(sorted(tensors), ["getitem_out", "x"])
        self.assertEqual(tensors["getitem_out"]["shape"], [6, 4])
        self.assertIn(f"test_package.py:{line_number(__file__, 'table index')}", tensors["getitem_out"]["note"])
        for name in ("__getitem__", "__setitem__"):  # restored after tracing
            self.assertIs(getattr(torch.Tensor, name), getattr(torch._C._TensorBase, name))
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        replay(self, spec)

    def test_swapaxes_is_a_transpose_and_f_linear_of_a_modules_weight_is_its_call(self):
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(8, 8)

            def forward(self, x):
                shared = nn.functional.linear(x, self.proj.weight, self.proj.bias)  #: linear
                other = nn.functional.linear(x, self.proj.weight)  # no bias: not the module's call
                return shared.swapaxes(1, 2), torch.swapdims(other, 0, 1)

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", 5, 8),), values=True)
        self.assertEqual([(c.get("module"), c.get("op")) for c in spec.calls],
                         [("proj", None), (None, "linear"), (None, "transpose"), (None, "transpose")])
        self.assertEqual(spec.calls[0]["source"], f"{__file__}:{line_number(__file__, 'linear')}")
        # the function linear, with the module's weight a declared tensor and no bias
        self.assertNotIn("bias", spec.calls[1])
        self.assertEqual(spec.document["tensors"][spec.calls[1]["weight"]]["shape"], [8, 8])
        self.assertEqual(spec.calls[3]["input"], spec.calls[1]["id"])
        self.assertEqual((spec.calls[2]["dim0"], spec.calls[2]["dim1"]), (1, 2))
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])
        replay(self, spec)

    def test_f_linear_recorded_as_the_module_runs_no_hook_the_model_did_not(self):
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(8, 8)
                self.proj.register_forward_hook(lambda module, inputs, output: output * 0)

            def forward(self, x):
                return nn.functional.linear(x, self.proj.weight, self.proj.bias)  # the hook does not run here

        model = Model()
        x = torch.randn(2, 5, 8)
        spec = mhacheck.trace(model, (x,))
        self.assertEqual([c.get("module") for c in spec.calls], ["proj"])
        self.assertTrue(torch.equal(spec.result, model(x)))
        self.assertNotEqual(float(spec.result.abs().sum()), 0.0)

    def test_requires_grad_keeps_the_tensor_it_flags(self):
        class Model(nn.Module):
            def forward(self, x):
                y = x * 2
                y.requires_grad_()
                return y.softmax(-1)

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", 8),))
        self.assertEqual([c["op"] for c in spec.calls], ["mul", "softmax"])
        self.assertEqual(spec.calls[1]["input"], spec.calls[0]["outputs"][0])  # not a tensor "made by torch requires_grad_"

    def test_an_index_that_only_some_sizes_have_stays_traced(self):
        # PyTorch ran frames[:, 2] at T=43; on a dim of size T+1 a spec's index 2 holds only for T >= 2
        # (and frames[:, 1:3] only for T >= 2); x[:, :1] holds for every T >= 1.
        class Model(nn.Module):
            def forward(self, x):
                frames = torch.cat([x[:, :1], x], 1)  # (B, T+1, 8)
                return (frames[:, 0], frames[:, 1:], frames[:, -2:], frames[:, 2], frames.select(1, 1), frames[:, 1:3],
                        frames.narrow(1, 0, 2), frames.narrow(1, -2, 2))

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", "T", 8),))
        self.assertEqual([(c["op"], c.get("index", c.get("start"))) for c in spec.calls if c["op"] in ("getitem", "select", "narrow")],
                         [("getitem", "[:, :1]"), ("getitem", "[:, 0]"), ("getitem", "[:, 1:]"), ("getitem", "[:, -2:]"),
                          ("select", 1), ("narrow", 0)])
        self.assertEqual(by_severity(check(spec), "error", "warning"), [])

    def test_bmm_is_recorded_and_refuses_a_batch_of_one(self):
        class Model(nn.Module):
            def forward(self, q, k, one):
                scores = torch.bmm(q, k.transpose(1, 2)).softmax(-1)
                return scores, torch.bmm(one, k)  # a batch of 1 against B: bmm refuses, matmul would not

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", 5, 8), mhacheck.shape("B", 6, 8), mhacheck.shape(1, 4, 6)),
                              dims={"B": 1}, values=True)
        self.assertEqual([c["op"] for c in spec.calls], ["transpose", "bmm", "softmax", "bmm"])
        replay(self, spec)
        spec = mhacheck.trace(Model(), (mhacheck.shape("B", 5, 8), mhacheck.shape("B", 6, 8), mhacheck.shape(1, 4, 6)))
        self.assertIsInstance(spec.error, RuntimeError)  # bmm at B=43 against a batch of 1
        self.assertEqual([c["op"] for c in spec.calls], ["transpose", "bmm", "softmax", "bmm"])
        self.assertEqual([d["code"] for d in by_severity(check(spec), "error")], ["MHA368"])

    def test_einsum_is_recorded_in_every_call_form(self):
        class Model(nn.Module):
            def forward(self, q, k):
                scores = torch.einsum("bid,bjd->bij", q, k).softmax(-1)
                context = torch.einsum("bij,bjd->bid", [scores, k])
                return context, torch.einsum(q, [0, 1, 2], k, [0, 3, 2], [0, 1, 3])

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", "T", 8), mhacheck.shape("B", "S", 8)))
        self.assertIsNone(spec.error)
        einsums = [c for c in spec.calls if c["op"] == "einsum"]
        # the sublist form as the equation torch.einsum turns it into (and calls itself with)
        self.assertEqual([(c["equation"], len(c["operands"])) for c in einsums],
                         [("bid,bjd->bij", 2), ("bij,bjd->bid", 2), ("ABC,ADC->ABD", 2)])
        self.assertFalse([t for t in spec.document["tensors"].values() if "einsum" in t.get("note", "")])
        report = check(spec)
        self.assertEqual(by_severity(report, "error", "warning"), [])
        (context,) = [c for c in report["files"][0]["calls"] if c["id"] == einsums[1]["id"]]
        self.assertEqual(list(context["outputs"].values())[0]["shape"], ["B", "T", 8])
        replay(self, mhacheck.trace(Model(), (mhacheck.shape("B", "T", 8), mhacheck.shape("B", "S", 8)), values=True))

    def test_a_tensor_written_in_place_is_a_new_value(self):
        class Model(nn.Module):
            def forward(self, x):
                y = x.clone()
                scores = y @ y.transpose(1, 2)
                y[:, 0] = 0.0  #: overwritten
                y.mul_(2)
                return scores, y.softmax(-1)

        spec = mhacheck.trace(Model(), (mhacheck.shape("B", 5, 8),), values=True)
        self.assertEqual([c["op"] for c in spec.calls], ["clone", "transpose", "matmul", "softmax"])
        softmax = spec.calls[-1]
        self.assertNotEqual(softmax["input"], "clone")
        self.assertRegex(spec.document["tensors"][softmax["input"]]["note"], r"made by torch mul_ at .*test_package.py:\d+")
        # the clone's traced output is its value when it was made, not after the writes
        self.assertEqual(float(abs(spec.expected["clone"][:, 0]).max()) > 0, True)
        replay(self, spec)

        class SingleIndex(nn.Module):
            def forward(self, x):
                y = x.clone()
                y[0] = 0.0  # not a tuple: PyTorch 1.13 shows it to no mode
                return y.softmax(-1)

        spec = mhacheck.trace(SingleIndex(), (mhacheck.shape("B", 5, 8),), dims={"B": 2}, values=True)
        self.assertEqual([c["op"] for c in spec.calls], ["clone", "softmax"])
        self.assertRegex(spec.document["tensors"][spec.calls[1]["input"]]["note"], "made by torch __setitem__")
        replay(self, spec)

    def test_check_finds_the_binary_in_the_environment(self):
        spec = mhacheck.trace(nn.Linear(8, 4), (mhacheck.shape("N", 8),))
        old = os.environ.get("MHACHECK")
        os.environ["MHACHECK"] = BINARY
        try:
            report = mhacheck.check(spec)
        finally:
            os.environ["MHACHECK"] = old
        self.assertEqual(report["files"][0]["calls"][0]["outputs"]["linear"]["shape"], ["N", 4])
        with self.assertRaises(FileNotFoundError):
            mhacheck.check(spec, binary=os.path.join(self.folder, "missing"))


if __name__ == "__main__":
    main()
