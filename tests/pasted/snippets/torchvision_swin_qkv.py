# source: torchvision/models/swin_transformer.py, ShiftedWindowAttention.__init__ (/usr/lib/python3/dist-packages)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
