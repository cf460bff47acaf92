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
