"""Writes the data of examples/run/: a state_dict of nn.MultiheadAttention(8, 2), inputs and token ids.

Run with Debian's python3 (python3-torch, python3-numpy) from this folder. Deterministic.
"""
import numpy as np
import torch

torch.manual_seed(0)
module = torch.nn.MultiheadAttention(8, 2)
np.savez("mha_e8_h2.npz", **{name: tensor.detach().numpy() for name, tensor in module.state_dict().items()})

query = torch.randn(3, 2, 8)
key = torch.randn(5, 2, 8)
padding = np.zeros((2, 5), dtype=bool)
padding[1, 2:] = True                       # batch entry 1 has two real keys
blank_row_mask = np.zeros((2, 5), dtype=bool)
blank_row_mask[1, :] = True                 # batch entry 1 has none: its outputs are NaN
np.savez("inputs.npz", query=query.numpy(), key=key.numpy(), key_padding_mask=padding, blank_row_mask=blank_row_mask)

# Token ids for nn.Embedding(10, ...): 12 is outside the table (the example of MHA105).
np.save("embedding_ids.npy", np.array([[1, 4, 2], [7, 12, 0]], dtype=np.int64))

# Masks that PyTorch accepts but that do not do what they are used for (MHA111, MHA113-MHA115).
float_padding = np.zeros((2, 5), dtype=np.float32)
float_padding[1, 3:] = 1.0                  # 1 = padding, but a float mask is added: nothing masked
per_entry = np.zeros((2, 3, 5), dtype=bool)
per_entry[1, :, 2:] = True                  # batch entry 1 may attend to keys 0-1 only
repeated = np.tile(per_entry, (2, 1, 1))    # mask.repeat(2, 1, 1): entries 1 and 2 swapped
causal_inverted = np.tril(np.ones((3, 3), dtype=bool))  # True = ignore in MHA: it hides the past
query_nan = query.numpy().copy()
query_nan[1, 0, 3] = np.nan
# MHA116: a Hugging Face attention_mask (1 = keep) of unpadded sequences passed as a
# key_padding_mask (True = ignore) masks every key. MHA117: an all-True attn_mask for
# F.scaled_dot_product_attention (True = take part) masks nothing.
keep_all = np.ones((2, 5), dtype=bool)
sdpa_query = torch.randn(2, 2, 3, 4).numpy()
padding_none = np.ones((2, 1, 1, 3), dtype=bool)
np.savez("masks.npz", float_padding=float_padding, repeated=repeated, causal_inverted=causal_inverted, query_nan=query_nan,
         keep_all=keep_all, sdpa_query=sdpa_query, padding_none=padding_none)
