# source: torch/nn/modules/transformer.py (PyTorch 1.13, /usr/lib/python3/dist-packages), TransformerEncoderLayer.__init__ body (several modules)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first,
                                            **factory_kwargs)
        # Implementation of Feedforward model
        self.linear1 = Linear(d_model, dim_feedforward, **factory_kwargs)
