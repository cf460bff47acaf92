# source: torch/nn/modules/activation.py MultiheadAttention.__init__ (head_dim), written as a chained assignment
        self.head_dim = head_dim = embed_dim // num_heads
        self.out_proj = nn.Linear(embed_dim, num_heads * head_dim, bias=bias)
