"""The modules mhacheck knows, read from live module objects: their spec options and the
arguments of their forward.

Only attributes that PyTorch 1.13 and 2.x both have are read; where 2.x added one (LayerNorm's
`bias`, the encoder's `mask_check`), its absence means 1.13's behaviour.
"""
import torch.nn as nn
import torch.nn.functional as F

# Spec names of each module type's forward arguments (PyTorch's own names), which the tracer
# passes on; any other argument given a value makes the call one mhacheck cannot record.
FORWARD_ARGUMENTS = {
    "MultiheadAttention": ["query", "key", "value", "key_padding_mask", "need_weights", "attn_mask",
                           "average_attn_weights", "is_causal"],
    "TransformerEncoderLayer": ["src", "src_mask", "src_key_padding_mask", "is_causal"],
    "TransformerDecoderLayer": ["tgt", "memory", "tgt_mask", "memory_mask", "tgt_key_padding_mask",
                                "memory_key_padding_mask", "tgt_is_causal", "memory_is_causal"],
    "TransformerEncoder": ["src", "mask", "src_key_padding_mask", "is_causal"],
    "TransformerDecoder": ["tgt", "memory", "tgt_mask", "memory_mask", "tgt_key_padding_mask",
                           "memory_key_padding_mask", "tgt_is_causal", "memory_is_causal"],
    "Transformer": ["src", "tgt", "src_mask", "tgt_mask", "memory_mask", "src_key_padding_mask",
                    "tgt_key_padding_mask", "memory_key_padding_mask", "src_is_causal", "tgt_is_causal",
                    "memory_is_causal"],
    "Linear": ["input"],
    "LayerNorm": ["input"],
    "Embedding": ["input"],
    "Conv1d": ["input"],
    "Conv2d": ["input"],
}

OUTPUTS = {"MultiheadAttention": ["attn_output", "attn_output_weights"]}

_TYPES = [
    (nn.MultiheadAttention, "MultiheadAttention"),
    (nn.TransformerEncoderLayer, "TransformerEncoderLayer"),
    (nn.TransformerDecoderLayer, "TransformerDecoderLayer"),
    (nn.TransformerEncoder, "TransformerEncoder"),
    (nn.TransformerDecoder, "TransformerDecoder"),
    (nn.Transformer, "Transformer"),
    (nn.Linear, "Linear"),
    (nn.LayerNorm, "LayerNorm"),
    (nn.Embedding, "Embedding"),
    (nn.Conv1d, "Conv1d"),
    (nn.Conv2d, "Conv2d"),
]


def dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def module_type(module):
    """The spec type of `module`, or None: its class is one of the known ones, or a subclass
    that does not override forward (such as MultiheadAttention's NonDynamicallyQuantizableLinear)."""
    for cls, name in _TYPES:
        if isinstance(module, cls) and type(module).forward is cls.forward:
            return name
    return None


def _param_dtype(module):
    for p in module.parameters():
        return dtype_name(p.dtype)
    return None


def _activation_name(activation):
    if activation is F.relu or isinstance(activation, nn.ReLU):
        return "relu"
    if activation is F.gelu or (isinstance(activation, nn.GELU) and activation.approximate == "none"):
        return "gelu"
    return None


def drops_in_training(module):
    """Whether `module`'s call zeroes elements at random: nn.MultiheadAttention's dropout or an
    nn.Dropout inside it (the Transformer layers'), in training mode with p > 0."""
    return any(m.training and ((isinstance(m, nn.MultiheadAttention) and m.dropout > 0) or
                               (isinstance(m, nn.Dropout) and m.p > 0)) for m in module.modules())


class Unsupported(Exception):
    """A module of a known type whose options a spec cannot state; its parts are traced instead."""


def _mha(m):
    return {
        "embed_dim": m.embed_dim,
        "num_heads": m.num_heads,
        "dropout": float(m.dropout),
        "bias": m.in_proj_bias is not None,
        "add_bias_kv": m.bias_k is not None,
        "add_zero_attn": bool(m.add_zero_attn),
        "kdim": m.kdim,
        "vdim": m.vdim,
        "batch_first": bool(m.batch_first),
        "dtype": _param_dtype(m),
    }


def _layer(m):
    activation = _activation_name(m.activation)
    if activation is None:
        raise Unsupported(f"activation {m.activation!r}")
    return {
        "d_model": m.self_attn.embed_dim,
        "nhead": m.self_attn.num_heads,
        "dim_feedforward": m.linear1.out_features,
        "dropout": float(m.dropout.p),
        "activation": activation,
        "layer_norm_eps": float(m.norm1.eps),
        "batch_first": bool(m.self_attn.batch_first),
        "norm_first": bool(m.norm_first),
        "bias": m.linear1.bias is not None,
        "dtype": _param_dtype(m),
    }


def _layer_norm(m):
    if not isinstance(m.normalized_shape, (tuple, list)):
        raise Unsupported("normalized_shape")
    has_bias = getattr(m, "bias", None) is not None
    return {
        "normalized_shape": list(m.normalized_shape),
        "eps": float(m.eps),
        "elementwise_affine": bool(m.elementwise_affine),
        "bias": has_bias or not m.elementwise_affine,
        "dtype": _param_dtype(m),
    }


def _stack(m, layer_key, layer_type):
    layers = list(m.layers)
    if not layers or module_type(layers[0]) != layer_type:
        raise Unsupported("layers")
    first = options(layers[0])
    for layer in layers[1:]:
        if module_type(layer) != layer_type or options(layer) != first:
            raise Unsupported("layers that differ")
    if m.norm is not None and module_type(m.norm) != "LayerNorm":
        raise Unsupported("norm")
    result = {
        layer_key: dict(type=layer_type, **first),
        "num_layers": len(layers),
        "norm": None if m.norm is None else dict(type="LayerNorm", **_layer_norm(m.norm)),
    }
    if layer_type == "TransformerEncoderLayer":
        result["enable_nested_tensor"] = bool(getattr(m, "enable_nested_tensor", True))
        result["mask_check"] = bool(getattr(m, "mask_check", True))
    return result


def _transformer(m):
    if module_type(m.encoder) != "TransformerEncoder" or module_type(m.decoder) != "TransformerDecoder":
        raise Unsupported("custom encoder or decoder")
    encoder = _stack(m.encoder, "encoder_layer", "TransformerEncoderLayer")
    decoder = _stack(m.decoder, "decoder_layer", "TransformerDecoderLayer")
    layer = dict(encoder["encoder_layer"])
    layer.pop("type")
    decoder_layer = dict(decoder["decoder_layer"])
    decoder_layer.pop("type")
    if layer != decoder_layer:
        raise Unsupported("encoder and decoder layers that differ")
    norm = encoder["norm"]
    if norm is None or decoder["norm"] is None or norm["normalized_shape"] != [layer["d_model"]] \
            or norm["eps"] != layer["layer_norm_eps"]:
        raise Unsupported("norms")
    return dict(num_encoder_layers=encoder["num_layers"], num_decoder_layers=decoder["num_layers"], **layer)


def options(module):
    """The spec options of a module of a known type (raises Unsupported); None values (PyTorch's
    defaults: kdim, padding_idx, no norm) are left out."""
    return {k: v for k, v in _options(module).items() if v is not None}


def _options(module):
    kind = module_type(module)
    if kind == "MultiheadAttention":
        return _mha(module)
    if kind in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        return _layer(module)
    if kind == "TransformerEncoder":
        return _stack(module, "encoder_layer", "TransformerEncoderLayer")
    if kind == "TransformerDecoder":
        return _stack(module, "decoder_layer", "TransformerDecoderLayer")
    if kind == "Transformer":
        return _transformer(module)
    if kind == "Linear":
        return {"in_features": module.in_features, "out_features": module.out_features,
                "bias": module.bias is not None, "dtype": _param_dtype(module)}
    if kind == "LayerNorm":
        return _layer_norm(module)
    if kind == "Embedding":
        return {"num_embeddings": module.num_embeddings, "embedding_dim": module.embedding_dim,
                "padding_idx": module.padding_idx, "max_norm": module.max_norm,
                "norm_type": float(module.norm_type), "scale_grad_by_freq": bool(module.scale_grad_by_freq),
                "sparse": bool(module.sparse), "dtype": _param_dtype(module)}
    if kind in ("Conv1d", "Conv2d"):
        return _conv(module)
    raise Unsupported("type")


def _conv(m):
    # kernel_size, stride, padding and dilation are tuples after _single/_pair; padding may be
    # "same" or "valid".
    padding = m.padding if isinstance(m.padding, str) else list(m.padding)
    return {"in_channels": m.in_channels, "out_channels": m.out_channels, "kernel_size": list(m.kernel_size),
            "stride": list(m.stride), "padding": padding, "dilation": list(m.dilation), "groups": m.groups,
            "bias": m.bias is not None, "padding_mode": m.padding_mode, "dtype": _param_dtype(m)}


def integer_attributes(model):
    """Every int attribute of every module (num_heads, head_dim, patch_size, ...)."""
    found = set()
    for module in model.modules():
        for value in vars(module).values():
            if isinstance(value, int) and not isinstance(value, bool):
                found.add(value)
            elif isinstance(value, (tuple, list)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                found.update(value)
    return found

