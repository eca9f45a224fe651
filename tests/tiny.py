"""The overrides of the default experiment that make a tiny, fast keypoint model."""

TINY_MODEL: list[str] = [
    "model.encoder.width=32",
    "model.flow.context_features=32",
    "model.flow.hidden_features=32",
    "model.head_hidden=32",
]
