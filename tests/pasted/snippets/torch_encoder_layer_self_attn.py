# source: torch/nn/modules/transformer.py (PyTorch 1.13, /usr/lib/python3/dist-packages), TransformerEncoderLayer.__init__
# src: (S, N, 512)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first,
                                            **factory_kwargs)
