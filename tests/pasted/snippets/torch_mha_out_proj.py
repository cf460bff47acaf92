# source: torch/nn/modules/activation.py (PyTorch 1.13, /usr/lib/python3/dist-packages), MultiheadAttention.__init__
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **factory_kwargs)
