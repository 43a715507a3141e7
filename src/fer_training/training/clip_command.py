"""fer-train-clips: train a clip model (CNN+LSTM or C3D) on 12-frame clips of aligned faces.

Both models see each frame through the image model's feature extractor (its layers up to
`fer_training.training.models.FEATURE_LAYERS`: `pool4`, 3 x 3 x 256, for v2 and later). Frozen (the
default), the extractor's features are computed once per frame and only the clip head is
trained, which is what makes training practical on a laptop CPU; with `--fine-tune` the whole
model (extractor included) is then trained further end to end at a small learning rate.

Data: synthetic clips (see `fer_training.data.synthetic_clips`) of FER2013 Training for training and
PublicTest for choosing the epoch, or clip lists written by `create_list` (`--clips`,
`--val-clips`). PrivateTest is never read here: `fer-evaluate-clips` reports on it.
"""

import argparse
from pathlib import Path

from fer_ros.vision.model_files import SHIPPED_IMAGE_MODEL
from fer_training.data.fer2013 import default_data_dir
from fer_training.training.model_names import CLIP_HEAD_NAMES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=CLIP_HEAD_NAMES, required=True, help="clip architecture")
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    p.add_argument("--clips", type=Path, help="training clip list (create_list); default: synthetic Training")
    p.add_argument("--val-clips", type=Path, help="validation clip list; default: synthetic PublicTest")
    p.add_argument("--limit", type=int, help="use N synthetic training clips drawn at random (seeded)")
    p.add_argument("--onset", type=float, default=0.0,
                   help="synthetic clips: this fraction of non-neutral clips begin with 1-8 neutral frames")
    p.add_argument("--image-model", type=Path, default=SHIPPED_IMAGE_MODEL, help="image model folder")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=6, help="stop after N epochs without a better validation")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--fine-tune", type=int, default=0, metavar="EPOCHS",
                   help="then train the whole model end to end for this many epochs (slow on CPU)")
    p.add_argument("--fine-tune-lr", type=float, default=1e-5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--version", default="dev",
                   help="version in the model card (the nodes log the model as NAME-vVERSION)")
    p.add_argument("--feature-cache", type=Path,
                   help="keep the frame features in this folder, so a second run (the other model) starts at once")
    p.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (0, 1 or 2)")
    return p.parse_args(argv)




def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from fer_training.training.clip_trainer import train  # Keras and TensorFlow load here, after --help

    return train(args)
