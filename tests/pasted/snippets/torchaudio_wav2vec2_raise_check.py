# source: torchaudio/models/wav2vec2/components.py, SelfAttention.__init__ (/usr/lib/python3/dist-packages)
        head_dim = embed_dim // num_heads
        if head_dim * num_heads != embed_dim:
            raise ValueError(f"`embed_dim ({embed_dim})` is not divisible by `num_heads ({num_heads})`")
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=True)
