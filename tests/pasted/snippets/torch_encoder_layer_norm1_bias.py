# source: torch/nn/modules/transformer.py (PyTorch 2.1+, pytorch/pytorch), TransformerEncoderLayer.__init__
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory_kwargs)
