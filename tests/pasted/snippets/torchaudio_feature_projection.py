# source: torchaudio/models/wav2vec2/components.py, FeatureProjection.__init__ (/usr/lib/python3/dist-packages)
        self.projection = nn.Linear(
            in_features,
            out_features,
        )
