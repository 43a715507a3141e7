"""fer-train-image: train the image model on FER2013 Training, select on PublicTest.

Runs on any Keras 3 backend (TensorFlow here, JAX or torch on an accelerator); the saved
`.keras` file loads in the TensorFlow runtime that the nodes use.

Resumable: after every epoch `OUT/checkpoint.keras` (model and optimizer state) and
`OUT/checkpoint.json` (epoch, history, augmentation generator state) are written (beside their
places first, then moved in: a run killed while writing keeps the last whole ones); `--resume`
continues from them, e.g. across commands limited to 10 minutes on a lent accelerator
(`--time-budget 540 --resume`, repeated). A resumed run's dropout draws differ from an
uninterrupted one's. The checkpoint is removed once the model is written.

The learning rate follows a cosine over the planned epochs, set per epoch; with a time budget
the plan shrinks, after two epochs, to the epochs that fit in it, so a run cut by the budget
still ends at a small learning rate.

Distillation (`--teachers`) scores every epoch's fresh copy of the training set with each
teacher, most of the epoch's time; `--teacher-copies K` scores K copies once instead (each
drawn from its own generator, so it is drawn again identically for the epochs that reuse it) and
keeps the scores in `OUT/teacher_scores.npz` for `--resume`.

Two framings of the same faces (`--aligned-dir`, the output of `fer-preprocess-fer2013`, and
`--framing`): the node's crops of a live face are framed differently from FER2013's tiles.
"""

import argparse
from pathlib import Path

from fer_training.data.fer2013 import default_data_dir
from fer_training.training.model_names import ARCHITECTURE_NAMES

LABEL_SOURCES = ("fer2013", "ferplus", "mix")
PRECISIONS = {"float32": "float32", "bf16": "mixed_bfloat16"}  # --precision: the Keras dtype policy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    p.add_argument("--arch", choices=ARCHITECTURE_NAMES, default="vgg")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="sgd: Nesterov momentum 0.9")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--mixup", type=float, default=0.0, help="mixup with Beta(a, a) weights (0: off)")
    p.add_argument("--framing", type=float, default=0.0,
                   help="augmentation: move this fraction of tiles toward the node's framing "
                        "(wider, tilted, shifted, soft)")
    p.add_argument("--aligned-dir", type=Path,
                   help="fer-preprocess-fer2013 output: each epoch, half the Training faces found there come from it")
    p.add_argument("--labels", choices=LABEL_SOURCES, default="fer2013",
                   help="training targets: FER2013's labels, the FER+ crowd votes as a distribution, or the votes "
                        "with FER2013's label as one more vote (mix); ferplus and mix select on PublicTest's "
                        "FER+ majority")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--version", default="dev",
                   help="version in the model card (the nodes log the model as NAME-vVERSION)")
    p.add_argument("--time-budget", type=float, default=3000.0,
                   help="stop starting new epochs after this many seconds (the best checkpoint is kept)")
    p.add_argument("--brightness", type=float, default=0.0, help="augmentation: contrast/brightness jitter b")
    p.add_argument("--degrade", type=float, default=0.0,
                   help="augmentation: this fraction seen at lower resolution, blurred, under/over exposed, noisy")
    p.add_argument("--erase", type=float, default=0.0, help="augmentation: random erasing in this fraction")
    p.add_argument("--class-weight", choices=("none", "sqrt", "balanced"), default="none",
                   help="weight classes by inverse frequency (balanced) or its square root (disgust: 436 images)")
    p.add_argument("--logit-adjust", type=float, default=0.0, metavar="TAU",
                   help="logit-adjusted loss: add TAU log(training prior) to the log-scores before the "
                        "cross-entropy, so the network learns class-balanced scores (0: off)")
    p.add_argument("--patience", type=int, default=0, help="stop after N epochs without a better PublicTest (0: off)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.* if present")
    p.add_argument("--teachers", type=Path, nargs="+", metavar="DIR",
                   help="distil these models (their mean log-scores over the face and its mirror image) into this one")
    p.add_argument("--distill-temperature", type=float, default=4.0, help="T of the loss CE + T^2 KL(teachers, model)")
    p.add_argument("--teacher-copies", type=int, default=0, metavar="K",
                   help="score K augmented copies of the training set once and cycle through them (0: a fresh "
                        "copy and fresh scores every epoch); the teachers' passes, most of a distillation epoch, "
                        "then cost K epochs' worth in all; kept in OUT for --resume")
    p.add_argument("--init", type=Path, metavar="DIR", help="start from this model folder's weights (same --arch)")
    p.add_argument("--no-export", action="store_true",
                   help="write no .tflite files (a machine without TensorFlow; run fer-export-model OUT later)")
    p.add_argument("--precision", choices=tuple(PRECISIONS), default="float32",
                   help="bf16: compute in bfloat16, weights and scores in float32 (about 1.6-2x faster on a CPU "
                        "with AMX, 2-4x slower on one without bfloat16 instructions, where the run warns; a "
                        "resumed run keeps its checkpoint's); the saved model is float32 either way")
    p.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (0, 1 or 2)")
    args = p.parse_args(argv)
    if args.teacher_copies < 0 or (args.teacher_copies and not args.teachers):
        p.error("--teacher-copies: a count of 1 or more, with --teachers")
    return args




def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from fer_training.training.image_trainer import train  # Keras and TensorFlow load here, after --help

    return train(args)
