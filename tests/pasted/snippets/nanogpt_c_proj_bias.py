# source: karpathy/nanoGPT model.py, CausalSelfAttention.__init__
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
