# source: torch/nn/modules/transformer.py (PyTorch 2.1+, pytorch/pytorch), TransformerEncoderLayer.__init__
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            bias=bias, batch_first=batch_first,
                                            **factory_kwargs)
