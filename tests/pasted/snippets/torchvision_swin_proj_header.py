# source: torchvision/models/swin_transformer.py, ShiftedWindowAttention.__init__ with its def line
    def __init__(
        self,
        dim: int,
        window_size: List[int],
        shift_size: List[int],
        num_heads: int,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
