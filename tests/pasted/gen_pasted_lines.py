#!/usr/bin/python3
"""Runs every line of tests/pasted/pasted_lines.json under the installed PyTorch (1.13 from Debian)
and writes what it does into the file's "pytorch" entries: the output shapes, or the exception.

Each line's text is executed as written, with `torch`, `nn` and `F` imported (and the module
classes by their bare names, as torch/nn/modules/transformer.py imports them), the "dims" bound as
Python names (`config.n_embd` as an attribute of a namespace), and names the text leaves unbound
(a dropout, an eps) set to 0.0 as PyTorch's defaults would be; the module is the value the last
line assigns or evaluates. It is called with random tensors of the "args" shapes and the other args.

Lines pasted from inside a method, as people select them, keep the source's indentation: each
statement is read flush left (as mhacheck reads them). A pasted `def __init__(...)` header binds its
parameters' defaults, as a call passing nothing but the "dims" would, and its body runs in place;
`super().__init__()` lines are dropped (there is no class around them here).

Where 1.13 and 2.x differ the file follows 2.x (tests/pytorch/*_cases.json, pytorch-2x-notes):
F.scaled_dot_product_attention does not exist in 1.13, so its lines run 2.x's documented reference
implementation (softmax(q @ k^T / sqrt(E) + mask) @ v), which gives 2.x's output shapes.

The one 2.x difference these lines meet: recent 2.x releases check key_padding_mask's shape one dim
at a time with their own message (tests/pytorch/gen_mha_cases.py, F6); `as_pytorch_2x` rewrites
1.13's message to it and leaves a "pytorch_2x" note quoting 1.13's.

Run from anywhere: python3 tests/pasted/gen_pasted_lines.py
"""
import ast
import builtins
import json
import math
import os
import re
import types

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.utils import _log_api_usage_once

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "pasted_lines.json")


def sdpa_reference(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False):
    """F.scaled_dot_product_attention as PyTorch 2.x documents it (without dropout)."""
    length, source = query.size(-2), key.size(-2)
    bias = torch.zeros(length, source, dtype=query.dtype)
    if is_causal:
        bias.masked_fill_(torch.ones(length, source, dtype=torch.bool).tril(diagonal=0).logical_not(), float("-inf"))
    if attn_mask is not None:
        bias = bias + attn_mask if attn_mask.dtype != torch.bool else bias.masked_fill(attn_mask.logical_not(), float("-inf"))
    weights = torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(query.size(-1)) + bias, dim=-1)
    return weights @ value


class Namespace(types.SimpleNamespace):
    """`self` and `config`: attributes bound by the text or by dims; unbound ones are 0.0."""

    def __getattr__(self, name):
        return 0.0


BARE_CLASSES = ("MultiheadAttention", "Linear", "LayerNorm", "Embedding", "TransformerEncoder", "TransformerEncoderLayer",
                "TransformerDecoder", "TransformerDecoderLayer", "Transformer")


def flush_left(text):
    """The text with each statement's first line flush left (continuation lines inside brackets as written)."""
    lines, depth = [], 0
    for line in text.split("\n"):
        if depth == 0:
            line = line.lstrip()
        code = re.sub(r"'[^']*'|\"[^\"]*\"|#.*", "", line)
        depth += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
        lines.append(line)
    return "\n".join(lines)


def is_super_init(statement):
    call = statement.value if isinstance(statement, ast.Expr) else None
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "__init__"
            and isinstance(call.func.value, ast.Call) and isinstance(call.func.value.func, ast.Name) and call.func.value.func.id == "super")


def statements(text, env, dims):
    """The text's statements; a leading def header binds its defaults (unless dims bind the name) and gives way to its body."""
    text = flush_left(text)
    header = re.match(r"def\s+\w+\s*\((?:[^()]|\([^()]*(?:\([^()]*\))*[^()]*\))*\)\s*(?:->\s*[^:]+)?:", text)
    body = text
    if header:
        function = ast.parse(header.group(0) + " pass").body[0]
        parameters = function.args.args
        for parameter, default in zip(parameters[len(parameters) - len(function.args.defaults):], function.args.defaults):
            if parameter.arg not in dims:
                env[parameter.arg] = eval(compile(ast.Expression(default), "<pasted>", "eval"), env)
        body = text[header.end():]
    tree = ast.parse(body)
    tree.body = [statement for statement in tree.body if not is_super_init(statement)]
    return tree


def build(line):
    env = {"torch": torch, "nn": nn, "F": F, "math": math, "self": Namespace(), "config": Namespace(),
           # torchvision's modules log their use first thing in __init__
           "_log_api_usage_once": _log_api_usage_once}
    env.update({name: getattr(nn, name) for name in BARE_CLASSES})
    for name, size in line.get("dims", {}).items():
        owner, _, attribute = name.rpartition(".")
        if owner:
            setattr(env[owner], attribute, size)
        else:
            env[name] = size
    tree = statements(line["text"], env, line.get("dims", {}))
    # A dict assigned into (torchvision's heads_layers["head"] = ...) starts empty.
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
            env.setdefault(node.value.id, {})
    # Names the text reads but nothing binds (dropout, eps): 0.0, which changes no shape.
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in env and not hasattr(builtins, node.id):
            env[node.id] = 0.0
    *body, last = tree.body
    exec(compile(ast.Module(body=body, type_ignores=[]), "<pasted>", "exec"), env)
    if isinstance(last, ast.Assign):
        exec(compile(ast.Module(body=[last], type_ignores=[]), "<pasted>", "exec"), env)
        return eval(ast.unparse(last.targets[0]), env)
    return eval(compile(ast.Expression(last.value), "<pasted>", "eval"), env)


def tensor(spec):
    shape, dtype = (spec, "float32") if isinstance(spec, list) else (spec["shape"], spec["dtype"])
    if dtype == "int64":
        return torch.zeros(shape, dtype=torch.int64)
    if dtype == "bool":
        return torch.zeros(shape, dtype=torch.bool)
    return torch.randn(shape, dtype=getattr(torch, dtype))


def shapes(result):
    if isinstance(result, tuple):
        return [list(r.shape) for r in result if r is not None]
    return [list(result.shape)]


def run(line):
    torch.manual_seed(0)
    kwargs = {name: tensor(value) if isinstance(value, (list, dict)) else value for name, value in line["args"].items()}
    try:
        if "op" in line:
            call = getattr(F, "scaled_dot_product_attention", sdpa_reference)
        else:
            call = build(line)
            call.eval()
        with torch.no_grad():
            return {"ok": True, "outputs": shapes(call(**kwargs))}
    except Exception as error:  # what PyTorch raises is the record
        return {"ok": False, "error": {"type": type(error).__name__, "message": str(error)}}


KEY_PADDING_MASK_113 = re.compile(r"expecting key_padding_mask shape of \((\d+), (\d+)\), but got torch\.Size\(\[(\d+), (\d+)\]\)$")


def as_pytorch_2x(record):
    if record["ok"]:
        return record
    match = KEY_PADDING_MASK_113.match(record["error"]["message"])
    if match:
        batch, length, rows, columns = match.groups()
        note = "2.x checks key_padding_mask.shape[0], then shape[1]; 1.13 said '{}'".format(record["error"]["message"])
        if rows != batch:
            record["error"]["message"] = "Expected key_padded_mask.shape[0] to be {}, but got {}".format(batch, rows)
        else:
            record["error"]["message"] = "Expected key_padded_mask.shape[1] to be {}, but got {}".format(length, columns)
        record["pytorch_2x"] = note
    return record


def main():
    with open(PATH) as f:
        document = json.load(f)
    for line in document["lines"]:
        line["pytorch"] = as_pytorch_2x(run(line))
        print(line["name"], json.dumps(line["pytorch"]))
    document["pytorch_version"] = torch.__version__
    with open(PATH, "w") as f:
        json.dump(document, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
