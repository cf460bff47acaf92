# source: lucidrains/x-transformers-style Attention.__init__ (inner_dim = dim_head * heads), public copies found by search
        inner_dim = dim_head * heads
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.to_q = nn.Linear(dim, inner_dim, bias = False)
