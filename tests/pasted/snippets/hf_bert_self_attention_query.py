# source: huggingface transformers modeling_bert.py, BertSelfAttention.__init__ (menna161/API-Wizard snippet1241826.py and others)
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = int(config.hidden_size / config.num_attention_heads)
        self.all_head_size = self.num_attention_heads * self.attention_head_size

        self.query = nn.Linear(config.hidden_size, self.all_head_size)
