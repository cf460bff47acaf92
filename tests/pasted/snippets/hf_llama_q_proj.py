# source: huggingface transformers modeling_llama.py, LlamaAttention.__init__ (head_dim, attention_bias)
        self.head_dim = getattr(config, "head_dim", config.hidden_size // config.num_attention_heads)
        self.q_proj = nn.Linear(config.hidden_size, config.num_attention_heads * self.head_dim, bias=config.attention_bias)
