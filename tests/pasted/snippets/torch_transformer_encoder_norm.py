# source: torch/nn/modules/transformer.py (PyTorch 1.13, /usr/lib/python3/dist-packages), Transformer.__init__
            encoder_norm = LayerNorm(d_model, eps=layer_norm_eps, **factory_kwargs)
