# source: torch/nn/modules/transformer.py (PyTorch 2.1+, pytorch/pytorch), TransformerEncoderLayer.__init__
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory_kwargs)
