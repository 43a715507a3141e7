"""Names of the model architectures, for command lines that must answer --help without Keras."""

ARCHITECTURE_NAMES = ("dexpression", "vgg", "vgg-wide")  # image models: v1, v2 and later, a wider twin
CLIP_HEAD_NAMES = ("lstm", "c3d")
