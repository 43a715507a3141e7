"""fer-evaluate-clips: accuracy of a clip model, side by side with per-frame baselines.

By default on the synthetic PrivateTest clips (rebuilt deterministically from `--data-dir`,
the same clips `fer-make-clips` writes); `--clips` takes a `create_list` list instead. The JSON
report has fer-evaluate's keys, plus `baseline_majority_vote` and `baseline_mean_scores`: the
accuracy over the same clips of the image model's per-frame majority vote (ties go to the higher
mean score) and of its mean per-frame scores.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.model_files import PRECISIONS, SHIPPED_CLIP_MODELS, SHIPPED_IMAGE_MODEL, ModelFileError
from fer_training.data.clip_folders import load_clips
from fer_training.data.fer2013 import default_data_dir
from fer_training.data.synthetic_clips import labels_learnt, synthesize_split
from fer_training.evaluation.evaluate import build_report, write_outputs


def majority_vote(frame_scores: np.ndarray) -> np.ndarray:
    """Clip labels from N x T x C per-frame scores: the most frequent per-frame label, a tie
    going to the tied label with the higher mean score."""
    n, _, classes = frame_scores.shape
    votes = np.zeros((n, classes))
    np.add.at(votes, (np.repeat(np.arange(n), frame_scores.shape[1]), frame_scores.argmax(axis=2).ravel()), 1)
    return np.argmax(votes + frame_scores.mean(axis=1) * 1e-3, axis=1)  # mean scores < 1: only break ties


def evaluate_clips(clip_model: EmotionClassifier, image_model: EmotionClassifier, clips: np.ndarray,
                   truth: np.ndarray, dataset: str) -> dict:
    """The clip model's report, by the node's path where it has it (the image model's feature
    maps into the clip model's head), with the image model's per-frame baselines."""
    n, t = clips.shape[:2]
    frames = clips.reshape(n * t, *clips.shape[2:])
    if clip_model.shares_features_with(image_model):
        parts = [image_model.scores_and_feature_views(frames[i:i + 1200]) for i in range(0, len(frames), 1200)]
        frame_scores = np.concatenate([p[0] for p in parts]).reshape(n, t, -1)
        views = np.concatenate([p[1] for p in parts])
        scores = clip_model.scores_from_feature_views(views.reshape(n, t, *views.shape[1:]))
        path = f"{image_model.name} feature maps -> clip head (with flip: mean over the mirror image; the node's path)"
    else:
        frame_scores = image_model.scores_batched(frames).reshape(n, t, -1)
        scores = clip_model.scores_batched(clips, batch_size=64)
        path = "whole clip model on the crops"
    report = build_report(dataset, clip_model.name, list(clip_model.labels), truth, scores)
    report["path"] = path
    report["baseline_majority_vote"] = float(np.mean(majority_vote(frame_scores) == truth))
    report["baseline_mean_scores"] = float(np.mean(frame_scores.mean(axis=1).argmax(axis=1) == truth))
    report["baseline_image_model"] = image_model.name
    return report


def _clips(args: argparse.Namespace, frames: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The clips to score, their truth and the data set's name: the --clips list, or synthetic
    clips of PrivateTest stills."""
    if args.clips:
        clips, truth = load_clips(args.clips, frames)
        return clips, truth, f"clips:{args.clips}"
    labels_from = labels_learnt(args.image_model)
    clips, truth, _ = synthesize_split(args.data_dir, "PrivateTest", args.seed, onset=args.onset,
                                       labels_from=labels_from)
    onset = f", onset {args.onset:g}" if args.onset else ""
    return clips, truth, f"synthetic:PrivateTest ({labels_from} labels{onset})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="lstm", help="lstm, c3d (the shipped clip models) or a model folder")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    p.add_argument("--clips", type=Path, help="a create_list clip list instead of synthetic PrivateTest clips")
    p.add_argument("--image-model", type=Path, default=SHIPPED_IMAGE_MODEL,
                   help="image model of the baselines, whose feature maps the clip head reads (as in the node)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help="of the image model (auto: as the node)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                   help="per-frame baselines with mirror averaging, as the node's per-frame results (flip_tta)")
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic clips")
    p.add_argument("--onset", type=float, default=0.0,
                   help="synthetic clips: this fraction of non-neutral clips begin with 1-8 neutral frames (1: all)")
    p.add_argument("--json", type=Path, help="write the report here")
    p.add_argument("--plot", type=Path, help="write the normalised confusion matrix here (PNG)")
    args = p.parse_args(argv)
    try:
        clip_model = EmotionClassifier(SHIPPED_CLIP_MODELS.get(args.model, Path(args.model)))
        image_model = EmotionClassifier(args.image_model, args.flip, args.precision)
        clips, truth, dataset = _clips(args, clip_model.input_shape[0])
    except (OSError, ValueError, ModelFileError) as e:  # a missing folder or data, a bad model or clip list
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = evaluate_clips(clip_model, image_model, clips, truth, dataset)
    print(f"{dataset}: {report['model']} accuracy {report['accuracy']:.4f} on {report['n']} clips, "
          f"macro F1 {report['macro_f1']:.4f}, ECE {report['ece']:.4f}; per-frame baselines: majority vote "
          f"{report['baseline_majority_vote']:.4f}, mean scores {report['baseline_mean_scores']:.4f}")
    write_outputs(report, args.json, args.plot)
    return 0
