# source: timm-style Attention.__init__ (self.head_dim, proj_bias), public copies found by search
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5

        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
