# source: torch/nn/modules/transformer.py (PyTorch 1.13, /usr/lib/python3/dist-packages), TransformerEncoderLayer.__init__
        self.linear1 = Linear(d_model, dim_feedforward, **factory_kwargs)
