# source: torchvision/models/vision_transformer.py, EncoderBlock.__init__ (/usr/lib/python3/dist-packages)
        self.num_heads = num_heads

        # Attention block
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout, batch_first=True)
