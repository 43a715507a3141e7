"""Model architectures: one definition each, used by training, export and inference."""

import keras
from keras import layers, ops

from fer_ros.vision.labels import LABELS
from fer_training.training.model_names import ARCHITECTURE_NAMES, CLIP_HEAD_NAMES

INPUT_SHAPE = (48, 48, 1)
CLIP_LENGTH = 12
# Each image architecture's last feature map (what both clip models see per frame) and how its
# classifier pools that map before the final Dense layer.
FEATURE_LAYERS = {"dexpression": "pool3", "vgg": "pool4"}
CLASSIFIER_POOLING = {"dexpression": layers.Flatten, "vgg": layers.GlobalAveragePooling2D}


@keras.saving.register_keras_serializable(package="fer")
class LocalResponseNorm(layers.Layer):
    """Cross-channel LRN as in AlexNet/DeXpression (Keras 3 has none built in)."""

    def __init__(self, depth_radius: int = 2, bias: float = 1.0, alpha: float = 1e-4,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = depth_radius
        self.bias = bias
        self.alpha = alpha
        self.beta = beta

    def call(self, x):
        # Sum of squares over neighbouring channels as explicit shifted slices: identical on
        # every backend (pooling ops disagree on how "same" padding is counted).
        r = self.depth_radius
        padded = ops.pad(ops.square(x), [[0, 0], [0, 0], [0, 0], [r, r]])
        channels = ops.shape(x)[-1]
        summed = sum(padded[..., k:k + channels] for k in range(2 * r + 1))
        return x / ops.power(self.bias + self.alpha * summed, self.beta)

    def get_config(self) -> dict:
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


def _conv(x, filters: int, kernel: int, name: str, strides: int = 1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _feat_ex(x, name: str):
    """DeXpression's Parallel Feature Extraction block."""
    a = _conv(x, 96, 1, f"{name}_a1")
    a = _conv(a, 208, 3, f"{name}_a2")
    b = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    b = _conv(b, 64, 1, f"{name}_b1")
    return layers.Concatenate(name=f"{name}_concat")([a, b])


def _scores(x, num_classes: int):
    """The softmax over the classes, in float32 even where the rest computes in bfloat16
    (`fer-train-image --precision bf16`)."""
    return layers.Dense(num_classes, activation="softmax", name="scores", dtype="float32")(x)


def make_dexpression(input_shape: tuple[int, int, int] = INPUT_SHAPE,
                     num_classes: int = len(LABELS), dropout: float = 0.5) -> keras.Model:
    """DeXpression (Burkert et al. 2015) adapted to 48x48 grey faces.

    Changes from the 224x224 original: the 7x7 first convolution has stride 1 (stride 2 on a
    48x48 tile would leave 3x3 maps before the classifier); every convolution is followed by
    batch normalisation (faster, more stable training); the input is rescaled inside the
    model, so callers feed raw 0-255 grey pixels.
    """
    inputs = keras.Input(shape=input_shape, name="face")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = _conv(x, 64, 7, "conv1")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = LocalResponseNorm(name="lrn1")(x)
    x = _feat_ex(x, "featex1")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    x = _feat_ex(x, "featex2")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = _scores(x, num_classes)
    return keras.Model(inputs, outputs, name="dexpression")


def make_vgg(input_shape: tuple[int, int, int] = INPUT_SHAPE, num_classes: int = len(LABELS),
             widths: tuple[int, ...] = (32, 64, 128, 256), dropout: float = 0.4) -> keras.Model:
    """Image model v2: a VGG-style stack (two 3x3 convolutions with batch normalisation per
    block, 2x2 max pooling after each) and a global-average-pooling head.

    Sized for the node's budget of about 1 ms a face on a 2-core CPU: 117 M multiply-adds and
    1.2 M parameters (DeXpression v1: 150 M and 488,071), with more depth where it pays (eight
    convolutions against five) and no 9,792-wide dense layer to overfit FER2013's 28,709 faces.
    """
    inputs = keras.Input(shape=input_shape, name="face")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for block, width in enumerate(widths, start=1):
        x = _conv(x, width, 3, f"block{block}a")
        x = _conv(x, width, 3, f"block{block}b")
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = _scores(x, num_classes)
    return keras.Model(inputs, outputs, name="vgg")


def make_vgg_wide(input_shape: tuple[int, int, int] = INPUT_SHAPE, num_classes: int = len(LABELS)) -> keras.Model:
    """make_vgg at 1.5 times the width: 263 M multiply-adds, 2.6 M parameters."""
    return make_vgg(input_shape, num_classes, widths=(48, 96, 192, 384))


ARCHITECTURES = dict(zip(ARCHITECTURE_NAMES, (make_dexpression, make_vgg, make_vgg_wide), strict=True))


def image_trunk(image_model: keras.Model) -> keras.Model:
    """The image model up to its last feature map: the per-frame encoder of the clip models."""
    return keras.Model(image_model.input, image_model.get_layer(FEATURE_LAYERS[image_model.name]).output,
                       name="trunk")


def frame_classifier(image_model: keras.Model) -> keras.Model:
    """The image model's own classifier (pooling + Dense) as a frozen model giving a frame's
    logits from its feature map."""
    source = image_model.get_layer("scores")
    dense = layers.Dense(source.units, name="logits")
    classifier = keras.Sequential([keras.Input(image_trunk(image_model).output_shape[1:]),
                                   CLASSIFIER_POOLING[image_model.name](name="pool"), dense],
                                  name="frame_classifier")
    dense.set_weights(source.get_weights())
    classifier.trainable = False
    return classifier


def _weighted_frame_scores(features, frame_weights, classifier: keras.Model):
    """softmax of the image model's per-frame logits averaged with learned weights (a softmax
    over time of `frame_weights`, one per frame). The weights start equal, so an untrained clip
    model gives the per-frame mean; training learns which frames to trust (an occluded, blurred
    or badly aligned frame, a passing expression) rather than class corrections, which would
    overfit: the image model has seen the training stills and is over-confident on them."""
    logits = layers.TimeDistributed(classifier, name="frame_logits")(features)
    weights = layers.Softmax(axis=1, name="frame_weights")(frame_weights)
    pooled = layers.Flatten(name="pooled")(layers.Dot(axes=1, name="weighted_mean")([weights, logits]))
    return layers.Activation("softmax", name="scores")(pooled)


def _frame_weight(x, name: str):
    return layers.TimeDistributed(layers.Dense(1, kernel_initializer="zeros"), name=name)(x)


def make_lstm_head(feature_shape: tuple[int, ...], classifier: keras.Model, frames: int = CLIP_LENGTH,
                   units: int = 64, dropout: float = 0.5) -> keras.Model:
    """CNN+LSTM (the seed's `fine_tune((12,48,48,1))`): each frame's features are embedded and
    an LSTM reads the sequence; its state at each frame sets how much that frame counts."""
    inputs = keras.Input((frames, *feature_shape), name="features")
    x = layers.TimeDistributed(layers.Flatten(), name="flatten")(inputs)
    x = layers.Dropout(dropout, name="dropout_in")(x)
    x = layers.TimeDistributed(layers.Dense(units, activation="relu"), name="embed")(x)
    x = layers.LSTM(units, return_sequences=True, name="lstm")(x)
    x = layers.Dropout(dropout, name="dropout_out")(x)
    return keras.Model(inputs, _weighted_frame_scores(inputs, _frame_weight(x, "weight"), classifier), name="lstm")


def _conv3d(x, filters: int, kernel: int, name: str):
    x = layers.Conv3D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def make_c3d_head(feature_shape: tuple[int, ...], classifier: keras.Model, frames: int = CLIP_LENGTH,
                  width: int = 32, dropout: float = 0.5) -> keras.Model:
    """C3D (Tran et al. 2015) scaled down: 3x3x3 convolutions over time and space, on the
    (frames, height, width, channels) volume of per-frame feature maps (the image model's
    `FEATURE_LAYERS` output: 3 x 3 x 256 for v2 and later) rather than on pixels, so that it
    trains on CPU and runs in a few milliseconds per clip; time is not pooled, and the output
    at each frame sets how much that frame counts."""
    inputs = keras.Input((frames, *feature_shape), name="features")
    x = layers.Dropout(dropout, name="dropout_in")(inputs)
    x = _conv3d(x, width, 1, "c3d1")  # channel reduction to `width`
    x = _conv3d(x, width, 3, "c3d2")
    x = layers.TimeDistributed(layers.MaxPooling2D(2), name="pool3d")(x)  # TensorFlow Lite has no MaxPool3D
    x = _conv3d(x, 2 * width, 3, "c3d3")
    x = layers.TimeDistributed(layers.Flatten(), name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout_out")(x)
    return keras.Model(inputs, _weighted_frame_scores(inputs, _frame_weight(x, "weight"), classifier), name="c3d")


CLIP_HEADS = dict(zip(CLIP_HEAD_NAMES, (make_lstm_head, make_c3d_head), strict=True))


def make_clip_model(trunk: keras.Model, head: keras.Model, frames: int = CLIP_LENGTH) -> keras.Model:
    """(frames, 48, 48, 1) raw grey crops in, 7 scores out: the trunk on every frame, then the head."""
    inputs = keras.Input((frames, *INPUT_SHAPE), name="clip")
    features = layers.TimeDistributed(trunk, name="trunk")(inputs)
    return keras.Model(inputs, head(features), name=f"{head.name}_clip")
