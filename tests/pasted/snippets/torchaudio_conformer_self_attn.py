# source: torchaudio/models/conformer.py, ConformerLayer.__init__ (/usr/lib/python3/dist-packages)
        self.self_attn = torch.nn.MultiheadAttention(input_dim, num_attention_heads, dropout=dropout)
