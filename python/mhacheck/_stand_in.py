"""Stand-in outputs for a recorded call PyTorch raised on, so that the trace goes on past the bug.

A model is traced because it is wrong, and its first error is seldom the whole story: what the
engineer meant shows in the calls after it (memories cat-ed on the wrong dim and then passed to
the attention as keys; learned queries not expanded to the batch before a cross-attention whose
output is projected). So when a recorded call raises, the tracer records it (with PyTorch's
error in its note) and, where a simple rule gives the shape the call makes when it is valid, goes
on with a tensor of that shape (zeros) in place of the output. The rules are PyTorch's own
output-shape rules, reading a mismatch as the first operand's size, as mhacheck's checks do
(a cat of (M, B, D) and (T, B, D) on dim 1 is (M, 2*B, D) for them: "valid only if T == M"):

- cat, stack: the first tensor's shape, the cat dim summed (stack: the count inserted);
- elementwise ops (add, sub, mul, div, pow, masked_fill, where, comparisons, unary ops): the
  operands broadcast, a mismatching dim taken from the first operand (`input`);
- matmul, bmm: the batch dims broadcast as above, then (n, m) of the two matrices;
- einsum without `...`: each output letter's size in the first operand that has it;
- scaled_dot_product_attention: query's shape with value's last dim;
- modules: nn.MultiheadAttention (the query's shape with embed_dim features, and the weights when
  asked for), Linear, LayerNorm, Embedding, the Transformer modules (their src/tgt shape).

Any other call (a view whose sizes do not hold, a convolution) has no stand-in: the trace stops
there, as before; so it does at the second call PyTorch raises on (_Tracer._run_recorded). The values are zeros and mean nothing: a trace with values=True stops too."""
import re

import torch

_ELEMENTWISE = {"add", "sub", "mul", "div", "pow", "masked_fill", "where", "eq", "ne", "logical_and", "logical_or",
                "bitwise_and", "bitwise_or", "logical_not", "bitwise_not", "softmax", "log_softmax", "dropout", "relu",
                "gelu", "silu", "tanh", "sigmoid", "neg", "abs", "clamp", "clamp_min", "contiguous", "clone", "tril",
                "triu", "normalize"}
_BOOLEAN = {"eq", "ne", "logical_and", "logical_or", "logical_not"}


def _lenient_broadcast(shapes):
    """PyTorch's broadcast of `shapes`, right-aligned; where two sizes differ and neither is 1,
    the earlier shape's size."""
    rank = max(len(s) for s in shapes)
    out = []
    for position in range(rank):
        chosen = None
        for shape in shapes:
            index = position - (rank - len(shape))
            if index < 0:
                continue
            size = shape[index]
            if chosen is None or (chosen == 1 and size != 1):
                chosen = size
        out.append(chosen)
    return out


def _tensors(values):
    return [v for v in values if isinstance(v, torch.Tensor)]


def _cat_shape(arguments, stacked):
    tensors = _tensors(arguments.get("tensors", []))
    if not tensors:
        return None
    first = list(tensors[0].shape)
    rank = len(first) + (1 if stacked else 0)
    dim = arguments.get("dim", 0)
    if not isinstance(dim, int) or not -rank <= dim < rank:
        return None
    dim %= rank
    if stacked:
        return first[:dim] + [len(tensors)] + first[dim:]
    same_rank = [t for t in tensors if t.dim() == len(first)]
    first[dim] = sum(int(t.shape[dim]) for t in same_rank)
    return first


def _matmul_shape(a, b):
    if a.dim() == 0 or b.dim() == 0:
        return None
    left, right = list(a.shape), list(b.shape)
    if len(left) == 1 and len(right) == 1:
        return []
    if len(left) == 1:
        return right[:-2] + right[-1:]
    if len(right) == 1:
        return left[:-1]
    return _lenient_broadcast([left[:-2], right[:-2]]) + [left[-2], right[-1]]


def _einsum_shape(equation, operands):
    if "..." in equation or "->" not in equation:
        return None
    inputs, output = equation.replace(" ", "").split("->")
    sizes = {}
    for letters, operand in zip(inputs.split(","), operands):
        if not isinstance(operand, torch.Tensor) or len(letters) != operand.dim():
            return None
        for letter, size in zip(letters, operand.shape):
            sizes.setdefault(letter, int(size))
    if not re.fullmatch(r"[A-Za-z]*", output) or any(letter not in sizes for letter in output):
        return None
    return [sizes[letter] for letter in output]


def function_output(op, arguments):
    """(shape, like): the stand-in's shape and the tensor whose dtype and device it takes, or None."""
    if op in ("cat", "stack"):
        shape = _cat_shape(arguments, op == "stack")
        tensors = _tensors(arguments.get("tensors", []))
        return (shape, tensors[0]) if shape is not None else None
    if op in ("matmul", "bmm"):
        a, b = arguments.get("input"), arguments.get("other", arguments.get("mat2"))
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return None
        shape = _matmul_shape(a, b)
        return (shape, a) if shape is not None else None
    if op == "einsum":
        operands = arguments.get("operands", [])
        shape = _einsum_shape(arguments.get("equation", ""), operands)
        return (shape, operands[0]) if shape is not None else None
    if op == "scaled_dot_product_attention":
        query, value = arguments.get("query"), arguments.get("value")
        if not (isinstance(query, torch.Tensor) and isinstance(value, torch.Tensor)) or query.dim() == 0:
            return None
        return list(query.shape[:-1]) + [int(value.shape[-1])], query
    if op in _ELEMENTWISE:
        operands = [arguments.get(key) for key in ("input", "other", "condition", "mask")]
        tensors = _tensors(operands)
        if not isinstance(arguments.get("input"), torch.Tensor):
            return None
        return _lenient_broadcast([list(t.shape) for t in tensors]), arguments["input"]
    return None


def _attention_output(module, arguments):
    query, key = arguments.get("query"), arguments.get("key")
    if not isinstance(query, torch.Tensor) or query.dim() not in (2, 3):
        return None
    output = list(query.shape[:-1]) + [module.embed_dim]
    if not arguments.get("need_weights", True):
        return output, None
    batched = query.dim() == 3
    first = getattr(module, "batch_first", False)
    if batched:
        batch, length = (query.shape[0], query.shape[1]) if first else (query.shape[1], query.shape[0])
        source = int(key.shape[1 if first else 0]) if isinstance(key, torch.Tensor) and key.dim() == 3 else length
        rows = [int(batch)]
    else:
        length = query.shape[0]
        source = int(key.shape[0]) if isinstance(key, torch.Tensor) and key.dim() >= 1 else length
        rows = []
    heads = [] if arguments.get("average_attn_weights", True) else [module.num_heads]
    return output, rows + heads + [int(length), source]


def module_output(kind, module, arguments):
    """(shapes, like): the stand-in outputs' shapes (None for an output the call returns as None)
    and the tensor whose dtype and device they take; None when no rule applies."""
    first = next((v for v in arguments.values() if isinstance(v, torch.Tensor)), None)
    if first is None:
        return None
    if kind == "MultiheadAttention":
        shapes = _attention_output(module, arguments)
        return (shapes, first) if shapes is not None else None
    if kind == "Linear":
        return [list(first.shape[:-1]) + [module.out_features]], first
    if kind == "LayerNorm":
        return [list(first.shape)], first
    if kind == "Embedding":
        return [list(first.shape) + [module.embedding_dim]], module.weight
    if kind in ("TransformerEncoderLayer", "TransformerEncoder"):
        return [list(arguments["src"].shape)], arguments["src"]
    if kind in ("TransformerDecoderLayer", "TransformerDecoder", "Transformer"):
        tgt = arguments.get("tgt")
        return ([list(tgt.shape)], tgt) if isinstance(tgt, torch.Tensor) else None
    return None


def make(shape, like, op=None):
    dtype = torch.bool if op in _BOOLEAN else like.dtype
    return torch.zeros([int(s) for s in shape], dtype=dtype, device=like.device)
