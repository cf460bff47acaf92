# source: karpathy/nanoGPT model.py, CausalSelfAttention.__init__ (as copied in public repositories found by search)
        assert config.n_embd % config.n_head == 0
        # key, query, value projections for all heads, but in a batch
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
