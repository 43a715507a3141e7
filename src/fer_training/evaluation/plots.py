"""Confusion-matrix figure, as the seed's plot_confusion_matrix: rows normalised, with counts."""

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only; no display on robots or CI
import matplotlib.pyplot as plt  # noqa: E402


def plot_confusion(confusion: np.ndarray | list, labels: list[str], path: Path | str, title: str) -> Path:
    """A PNG of the row-normalised confusion matrix (rows = truth), each cell with its
    percentage and count."""
    counts = np.asarray(confusion, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels,
           yticklabels=labels, xlabel="predicted", ylabel="true", title=title)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            ax.text(j, i, f"{100 * share[i, j]:.0f}%\n{counts[i, j]}", ha="center", va="center",
                    fontsize=8, color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
