#!/usr/bin/env python3
"""Traces every torchvision classification model and every torchaudio model builder with small
symbolic inputs, checks each spec, and (with --replay) replays a sample of small ones.

Usage, from the repository root:
    bench/trace/sweep.py [--binary build/mhacheck] [--only NAME ...] [--replay] [--timeout S]

Each model runs in its own process (`--one NAME`), so a crash, an out-of-memory kill or a hang
costs one row. Models whose sizes are not needed are traced on the meta device (nothing is
computed, nothing large allocated); models that read tensor values (lengths) run on the CPU at
small sizes. Prints one row per model: trace ok, calls, opaque ops (ops mhacheck does not model,
by count), the check's errors and warnings, and the time; `--json FILE` writes the rows.
Asserts nothing: a correct model with an error or a warning is a finding to fix.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
sys.path.insert(0, os.path.join(REPOSITORY, "python"))


def _lengths(sizes):
    import torch
    return torch.full((sizes["B"],), sizes["T"])


def _audio_models():
    """name -> (builder, inputs, device, replay dims or None). Small configurations of the
    classes; the builders at their published sizes on the meta device where nothing reads values."""
    import torch
    import torchaudio.models as a
    import mhacheck

    shape = mhacheck.shape

    def wave():
        return (shape("B", "T"), _lengths)

    def token_lengths(sizes):
        return torch.full((sizes["B"],), sizes["T"], dtype=torch.int32)

    def rnnt_targets(sizes):
        return torch.randint(0, 20, (sizes["B"], 5), dtype=torch.int32)

    def rnnt_target_lengths(sizes):
        return torch.full((sizes["B"],), 5, dtype=torch.int32)

    def rnnt_source_lengths(sizes):
        return torch.full((sizes["B"],), sizes["T"], dtype=torch.int32)

    models = {
        "wav2vec2_base": (a.wav2vec2_base, wave(), "cpu", None),
        "wav2vec2_large": (a.wav2vec2_large, wave(), "cpu", None),
        "wav2vec2_large_lv60k": (a.wav2vec2_large_lv60k, wave(), "cpu", None),
        "hubert_base": (a.hubert_base, wave(), "cpu", None),
        "hubert_large": (a.hubert_large, wave(), "cpu", None),
        "hubert_xlarge": (a.hubert_xlarge, wave(), "cpu", None),
        "conformer": (lambda: a.Conformer(input_dim=32, num_heads=4, ffn_dim=64, num_layers=2,
                                          depthwise_conv_kernel_size=7),
                      (shape("B", "T", 32), _lengths), "cpu", {"B": 2, "T": 9}),
        "emformer": (lambda: a.Emformer(input_dim=32, num_heads=4, ffn_dim=64, num_layers=2, segment_length=4,
                                        right_context_length=1),
                     (shape("B", 17, 32), lambda s: torch.full((s["B"],), 16)), "cpu", {"B": 2}),
        "wav2letter_waveform": (lambda: a.Wav2Letter(num_classes=10, input_type="waveform", num_features=1),
                                (shape("B", 1, "T"),), "meta", None),
        "wav2letter_mfcc": (lambda: a.Wav2Letter(num_classes=10, input_type="mfcc", num_features=13),
                            (shape("B", 13, "T"),), "meta", {"B": 2, "T": 40}),
        "deepspeech": (lambda: a.DeepSpeech(n_feature=16, n_hidden=32, n_class=10),
                       (shape("B", 1, "T", 16),), "meta", {"B": 2, "T": 7}),
        "conv_tasnet_base": (lambda: a.conv_tasnet_base(num_sources=2), (shape("B", 1, "T"),), "meta", None),
        "conv_tasnet_small": (lambda: a.ConvTasNet(num_sources=2, enc_kernel_size=4, enc_num_feats=16,
                                                   msk_kernel_size=3, msk_num_feats=8, msk_num_hidden_feats=16,
                                                   msk_num_layers=2, msk_num_stacks=1),
                              (shape("B", 1, "T"),), "cpu", {"B": 2, "T": 64}),
        "wavernn": (lambda: a.WaveRNN(upsample_scales=[2, 2], n_classes=16, hop_length=4, n_res_block=1,
                                      n_rnn=16, n_fc=16, kernel_size=5, n_freq=8, n_hidden=8, n_output=8),
                    (lambda s: torch.randn(s["B"], 1, (s["T"] - 4) * 4), shape("B", 1, 8, "T")), "cpu", None),
        "tacotron2": (lambda: a.Tacotron2(n_symbol=30, n_mels=80).eval(),
                      (shape("B", "T", dtype=torch.int64), token_lengths, shape("B", 80, "M"),
                       lambda s: torch.full((s["B"],), s["M"], dtype=torch.int32)), "cpu", {"B": 2, "T": 10, "M": 12}),
        "hdemucs_low": (lambda: a.hdemucs_low(sources=["a", "b"]), (shape("B", 2, 4096),), "cpu", {"B": 1}),
        "emformer_rnnt_base": (lambda: a.emformer_rnnt_base(num_symbols=20),
                               (shape("B", "T", 80), rnnt_source_lengths, rnnt_targets, rnnt_target_lengths),
                               "cpu", None),
    }
    return models


def _vision_models():
    import torchvision.models as v
    import mhacheck
    sizes = {"inception_v3": 299}
    models = {}
    for name in v.list_models(module=v):
        size = sizes.get(name, 224)
        kwargs = {"aux_logits": False, "init_weights": False} if name in ("inception_v3", "googlenet") else {}
        models[name] = (lambda name=name, kwargs=kwargs: v.get_model(name, **kwargs), (mhacheck.shape("B", 3, size, size),),
                        "meta", None)
    # small images, for a replay on the CPU
    for name, size in (("resnet18", 32), ("mobilenet_v3_small", 32), ("squeezenet1_1", 64), ("convnext_tiny", 32),
                       ("efficientnet_b0", 32), ("regnet_y_400mf", 32), ("shufflenet_v2_x0_5", 32)):
        models[name + "@small"] = (lambda name=name: v.get_model(name), (mhacheck.shape("B", 3, size, size),), "cpu",
                                   {"B": 2})
    return models


def models():
    found = {}
    found.update(_vision_models())
    found.update(_audio_models())
    return found


def _opaque(spec):
    """op name -> how many declared tensors its outputs made (notes "made by torch OP at ...")."""
    counts = {}
    for entry in spec.document["tensors"].values():
        note = entry.get("note", "")
        if note.startswith("made by torch "):
            op = note[len("made by torch "):].split(" at ")[0]
            counts[op] = counts.get(op, 0) + 1
    return counts


def run_one(name, binary, replay):
    import numpy as np
    import torch
    import mhacheck

    torch.manual_seed(0)
    torch.set_num_threads(1)
    build, inputs, device, replay_dims = models()[name]
    model = build().eval()
    if device == "meta":
        model = model.to("meta")
    row = {"model": name, "device": device}
    start = time.perf_counter()
    with torch.no_grad():
        spec = mhacheck.trace(model, inputs)
    row["trace_s"] = round(time.perf_counter() - start, 2)
    row["trace_ok"] = spec.error is None
    if spec.error is not None:
        row["error"] = f"{type(spec.error).__name__}: {str(spec.error)[:200]}"
    row["calls"] = len(spec.calls)
    row["opaque"] = _opaque(spec)
    row["sizes"] = spec.sizes
    start = time.perf_counter()
    report = mhacheck.check(spec, binary=binary)
    row["check_s"] = round(time.perf_counter() - start, 2)
    problems = [d for d in report["diagnostics"] if d["severity"] in ("error", "warning")]
    row["errors"] = sum(d["severity"] == "error" for d in problems)
    row["warnings"] = sum(d["severity"] == "warning" for d in problems)
    row["problems"] = [f"{d['code']} {d.get('message', '')[:160]} @ {d.get('location', {}).get('file', '')}:"
                       f"{d.get('location', {}).get('line', '')}" for d in problems[:5]]
    if replay and replay_dims is not None and device != "meta":
        with torch.no_grad():
            traced = mhacheck.trace(model, inputs, dims=replay_dims, values=True)
        with tempfile.TemporaryDirectory(prefix="mhacheck-sweep-") as folder:
            path = traced.save(os.path.join(folder, "model.json"))
            out = os.path.join(folder, "out.npz")
            done = subprocess.run([binary, "run", path, "--save", out], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                row["replay"] = f"run failed ({done.returncode}): {(done.stdout + done.stderr)[-300:]}"
            else:
                expected, replayed = np.load(os.path.join(folder, "model.expected.npz")), np.load(out)
                worst = 0.0
                for key in expected.files:
                    want = expected[key].astype(np.float64)
                    got = replayed[key].astype(np.float64)
                    if want.shape != got.shape:
                        worst = float("inf")
                        break
                    finite = np.isfinite(want)
                    worst = max(worst, float(np.max(np.abs(want[finite] - got[finite]), initial=0.0)))
                row["replay"] = worst
                row["replay_outputs"] = len(expected.files)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(REPOSITORY, "build", "mhacheck"))
    parser.add_argument("--only", nargs="*", help="these models (default: all)")
    parser.add_argument("--replay", action="store_true", help="also replay the small CPU configurations")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one:
        print(json.dumps(run_one(options.one, os.path.abspath(options.binary), options.replay)))
        return
    names = options.only or list(models())
    rows = []
    for name in names:
        command = [sys.executable, __file__, "--one", name, "--binary", options.binary] + (["--replay"] if options.replay else [])
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=options.timeout, check=False)
            lines = done.stdout.strip().splitlines()
            row = json.loads(lines[-1]) if done.returncode == 0 and lines else {
                "model": name, "trace_ok": False, "error": f"process exited {done.returncode}: {done.stderr.strip()[-300:]}"}
        except subprocess.TimeoutExpired:
            row = {"model": name, "trace_ok": False, "error": f"timed out after {options.timeout} s"}
        row["wall_s"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        opaque = ", ".join(f"{op}x{n}" for op, n in sorted(row.get("opaque", {}).items()))
        replay = row.get("replay")
        replay_text = "" if replay is None else (f" replay {replay:.2e}" if isinstance(replay, float) else f" replay {replay}")
        print(f"{name:28s} ok={row.get('trace_ok')!s:5s} calls={row.get('calls', '-'):>4} "
              f"E={row.get('errors', '-')} W={row.get('warnings', '-')} trace={row.get('trace_s', '-')}s "
              f"wall={row['wall_s']}s{replay_text} opaque[{opaque}]"
              + (f"\n    ERROR {row['error']}" if row.get("error") else "")
              + "".join(f"\n    {p}" for p in row.get("problems", [])), flush=True)
    if options.json:
        with open(options.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
