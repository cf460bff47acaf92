# source: torch/nn/modules/transformer.py (PyTorch 1.13, /usr/lib/python3/dist-packages), Transformer.__init__
            encoder_layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                                    activation, layer_norm_eps, batch_first, norm_first,
                                                    **factory_kwargs)
