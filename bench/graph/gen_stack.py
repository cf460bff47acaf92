#!/usr/bin/env python3
"""Writes a spec of N chained calls: a decoder stack for bench/graph/run.sh (standard library only).

    gen_stack.py N OUT.json [--fail | --entered | --cats | --biased | --masked] [--compact]

Each layer is five calls, so N must be a multiple of 5 (10, 100, 1000, 10000 are):

  self    nn.MultiheadAttention on the layer's input h (q = k = v = h), causal attn_mask,
          need_weights=False                                       -> sa
  resid   add(h, sa)                                               -> r
  cross   nn.MultiheadAttention on r against the shared "memory", key_padding_mask "pad"
                                                                   -> ca, caw (the weights)
  resid2  add(r, ca)                                               -> r2
  flip    transpose(r2, 0, 1)                                      -> the next layer's h

Every layer has its own two modules. The transpose flips the layout, so layers alternate
between batch_first=False, (T, B, E), and batch_first=True, (B, T, E); the memory is declared
in both layouts ("memory", "memory_bf"), the mask "pad" (B, S) once. Dims are bound (B=8, T=64,
S=96; E=512, H=8), so the spec is valid and every call has outputs to report. Each attention
call of a batch_first=False layer gets a note (MHA090), so reports also quote spec lines: 2,000
notes at 10,000 calls.

--fail makes the last layer's cross-attention use a key_padding_mask of the wrong length (97,
not S=96): the spec has one error (MHA052) with a fix to verify, which re-checks the whole
spec; only the last layer's two calls after it go unchecked.

--entered replaces the first layer with a traced front end whose input entered the graph with two
dims exchanged: "feats" declared (B, 80, 64) where the model reads (B, T, 80) (a MelSpectrogram's
(B, n_mels, time) given to code written for (B, time, n_mels)), then unsqueeze(1), an
nn.Conv2d(1, 4, 3, padding=1), permute(2, 0, 1, 3) and reshape(80, B, -1), the 80 read of the
input as a trace writes `x.reshape(t, b, -1)`, so that nn.Linear(320, 512) refuses 4*64 = 256
features (MHA404, exit 1). Its fix (src/check/entered_relayout.cpp) transposes "feats" where it
enters, the reshape following, which makes the whole stack below valid: each candidate layout is
checked on the whole patched graph, the rest of the stack included.

--cats makes every layer join tokens and their padding masks by cat, as a vision-language model
joins text and image tokens (MHA295's pairing: each cat follows its output forward to the attention
call that reads it, and back to the other cat there), on (B, 80, E) batch-first tokens:

  text    getitem(h, "[:, :32]"), image  getitem(h, "[:, 32:]")
  tokens  cat([text, image], 1)
  mask    cat([text_pad, image_pad], 1)                           (B, 32) and (B, 48) declared
  attn    nn.MultiheadAttention(E, H, batch_first=True) on tokens, key_padding_mask=mask
                                                                   -> the next layer's h

--biased makes every layer hand-written attention whose softmax weights get a bias added
(check_bias_after_softmax follows each such sum forward to the product that reads it as weights),
on (B, 64, 64) maps, each layer's product reading the sum as its second operand, so the check
finds no reader of the weights and follows them to the end of the spec:

  kt      transpose(h, 1, 2)
  scores  matmul(h, kt), w = softmax(scores, -1)
  wb      add(w, bias)                                            bias (64, 64) declared
  out     matmul(kt, wb)                                          -> the next layer's h

--masked makes N scaled_dot_product_attention calls alike, each on the declared (B, 8, T, 64)
query, keys and values, each passing the (B, T) bool padding mask "pad" as attn_mask, which
broadcasts against the (T, T) scores (B=8, T=64: an error, MHA084, in every call, with a fix to
verify for each: a stack of layers that all carry one slip, the failing counterpart of "valid"):

  l{i}.attn  scaled_dot_product_attention(x, k, v, attn_mask=pad)  -> l{i}.out

--compact leaves out the spaces after "," and ":" (still one call per line): at 100,000 calls, the
most a spec may hold, the file is then 16.1 MB, under the 16 MiB (16.8 MB) input limit; 17.3 MB without.
"""

import json
import sys

E, H = 512, 8
CALLS_PER_LAYER = 5


def layer_calls(i, h, fail):
    bf = i % 2 == 1  # odd layers take (B, T, E)
    mem, pad = ("memory_bf", "pad") if bf else ("memory", "pad")
    p = f"l{i}."
    cross = {"id": p + "cross", "module": f"cross_attn{i}", "query": p + "r", "key": mem, "value": mem,
             "key_padding_mask": "pad_bad" if fail else pad, "outputs": [p + "ca", p + "caw"]}
    return [
        {"id": p + "self", "module": f"self_attn{i}", "query": h, "key": h, "value": h,
         "attn_mask": {"causal": ["T", "T"]}, "need_weights": False, "outputs": [p + "sa"]},
        {"id": p + "resid", "op": "add", "input": h, "other": p + "sa", "outputs": [p + "r"]},
        cross,
        {"id": p + "resid2", "op": "add", "input": p + "r", "other": p + "ca", "outputs": [p + "r2"]},
        {"id": p + "flip", "op": "transpose", "input": p + "r2", "dim0": 0, "dim1": 1, "outputs": [p + "out"]},
    ]


def front_end(modules):
    """The five calls of --entered, ending in "x" as the stack's first layer reads it: (T, B, E)."""
    modules["front_conv"] = "nn.Conv2d(1, 4, 3, padding=1)"
    modules["front_proj"] = f"nn.Linear(320, {E})"
    return [
        {"id": "front.unsqueeze", "op": "unsqueeze", "input": "feats", "dim": 1, "outputs": ["front.u"]},
        {"id": "front.conv", "module": "front_conv", "input": "front.u", "outputs": ["front.c"]},
        {"id": "front.permute", "op": "permute", "input": "front.c", "dims": [2, 0, 1, 3], "outputs": ["front.p"]},
        {"id": "front.reshape", "op": "reshape", "input": "front.p", "shape": [80, "B", -1], "outputs": ["front.r"]},
        {"id": "front.proj", "module": "front_proj", "input": "front.r", "outputs": ["x"]},
    ]


def cats_layer(i, h):
    p = f"l{i}."
    return [
        {"id": p + "text", "op": "getitem", "input": h, "index": "[:, :32]", "outputs": [p + "text"]},
        {"id": p + "image", "op": "getitem", "input": h, "index": "[:, 32:]", "outputs": [p + "image"]},
        {"id": p + "tokens", "op": "cat", "tensors": [p + "text", p + "image"], "dim": 1, "outputs": [p + "tokens"]},
        {"id": p + "mask", "op": "cat", "tensors": ["text_pad", "image_pad"], "dim": 1, "outputs": [p + "mask"]},
        {"id": p + "attn", "module": f"attn{i}", "query": p + "tokens", "key": p + "tokens", "value": p + "tokens",
         "key_padding_mask": p + "mask", "need_weights": False, "outputs": [p + "out"]},
    ]


def biased_layer(i, h):
    p = f"l{i}."
    return [
        {"id": p + "kt", "op": "transpose", "input": h, "dim0": 1, "dim1": 2, "outputs": [p + "kt"]},
        {"id": p + "scores", "op": "matmul", "input": h, "other": p + "kt", "outputs": [p + "scores"]},
        {"id": p + "softmax", "op": "softmax", "input": p + "scores", "dim": -1, "outputs": [p + "w"]},
        {"id": p + "bias", "op": "add", "input": p + "w", "other": "bias", "outputs": [p + "wb"]},
        {"id": p + "out", "op": "matmul", "input": p + "kt", "other": p + "wb", "outputs": [p + "out"]},
    ]


def masked_spec(n):
    calls = [{"id": f"l{i}.attn", "op": "scaled_dot_product_attention", "query": "x", "key": "k", "value": "v",
              "attn_mask": "pad", "outputs": [f"l{i}.out"]} for i in range(n)]
    tensors = {"x": ["B", 8, "T", 64], "k": ["B", 8, "T", 64], "v": ["B", 8, "T", 64],
               "pad": {"shape": ["B", "T"], "dtype": "bool"}}
    return {"version": 1, "dims": {"B": 8, "T": 64}, "modules": {}, "tensors": tensors, "calls": calls}


def spec(n, fail, entered=False, variant=None):
    if variant == "masked":
        return masked_spec(n)
    layers = n // CALLS_PER_LAYER
    if variant is not None:
        modules, calls, h = {}, [], "x"
        for i in range(layers):
            if variant == "cats":
                modules[f"attn{i}"] = f"nn.MultiheadAttention({E}, {H}, batch_first=True)"
            calls += (cats_layer if variant == "cats" else biased_layer)(i, h)
            h = f"l{i}.out"
        if variant == "cats":
            tensors = {"x": ["B", 80, E], "text_pad": {"shape": ["B", 32], "dtype": "bool"},
                       "image_pad": {"shape": ["B", 48], "dtype": "bool"}}
        else:
            tensors = {"x": ["B", 64, 64], "bias": [64, 64]}
        return {"version": 1, "dims": {"B": 8}, "modules": modules, "tensors": tensors, "calls": calls}
    modules, calls = {}, []
    if entered:
        calls += front_end(modules)
        layers -= 1
    h = "x"
    for i in range(layers):
        bf = "True" if i % 2 == 1 else "False"
        modules[f"self_attn{i}"] = f"nn.MultiheadAttention({E}, {H}, batch_first={bf})"
        modules[f"cross_attn{i}"] = f"nn.MultiheadAttention({E}, {H}, batch_first={bf})"
        calls += layer_calls(i, h, fail and i == layers - 1)
        h = f"l{i}.out"
    tensors = {
        "x": ["T", "B", E],
        "memory": ["S", "B", E],
        "memory_bf": ["B", "S", E],
        "pad": {"shape": ["B", "S"], "dtype": "bool"},
    }
    if fail:
        tensors["pad_bad"] = {"shape": ["B", 97], "dtype": "bool"}
    if entered:
        del tensors["x"]
        tensors["feats"] = ["B", 80, 64]
    return {"version": 1, "dims": {"B": 8, "T": 64, "S": 96}, "modules": modules, "tensors": tensors, "calls": calls}


def write(doc, out, compact):
    # One call per line, as a person would lay a long spec out: the file has many lines, and
    # diagnostics point at lines far into it.
    separators = (",", ":") if compact else None
    lines = ["{", '  "version": 1,', f'  "dims": {json.dumps(doc["dims"])},', '  "modules": {']
    items = list(doc["modules"].items())
    lines += [f"    {json.dumps(k)}: {json.dumps(v)}" + ("," if j < len(items) - 1 else "") for j, (k, v) in enumerate(items)]
    lines += ["  },", '  "tensors": {']
    items = list(doc["tensors"].items())
    lines += [f"    {json.dumps(k)}: {json.dumps(v)}" + ("," if j < len(items) - 1 else "") for j, (k, v) in enumerate(items)]
    lines += ["  },", '  "calls": [']
    calls = doc["calls"]
    lines += ["    " + json.dumps(c, separators=separators) + ("," if j < len(calls) - 1 else "") for j, c in enumerate(calls)]
    lines += ["  ]", "}"]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    flags = {"--fail", "--entered", "--cats", "--biased", "--masked", "--compact"}
    args = [a for a in sys.argv[1:] if a not in flags]
    fail, entered = "--fail" in sys.argv[1:], "--entered" in sys.argv[1:]
    variant = next((v for v in ("cats", "biased", "masked") if f"--{v}" in sys.argv[1:]), None)
    smallest = 2 * CALLS_PER_LAYER if entered else CALLS_PER_LAYER
    chosen = sum(1 for f in ("--fail", "--entered", "--cats", "--biased", "--masked") if f in sys.argv[1:])
    if len(args) != 2 or not args[0].isdigit() or int(args[0]) % CALLS_PER_LAYER or int(args[0]) < smallest or chosen > 1:
        sys.exit(f"usage: gen_stack.py N OUT.json [--fail | --entered | --cats | --biased | --masked] [--compact]   (N a multiple of "
                 f"{CALLS_PER_LAYER}, at least {smallest})")
    write(spec(int(args[0]), fail, entered, variant), args[1], "--compact" in sys.argv[1:])


if __name__ == "__main__":
    main()
