# source: torchvision/models/vision_transformer.py, EncoderBlock.forward (a forward line pasted as --module)
        x = self.ln_1(input)
        x, _ = self.self_attention(query=x, key=x, value=x, need_weights=False)
