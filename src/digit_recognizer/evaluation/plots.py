"""Figures for a run: learning curves, confusion matrix, worst mistakes, calibration (PNG
files, no display)."""

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: runs write files, they never open windows
import matplotlib.pyplot as plt
import torch

from digit_recognizer.labels import NUM_CLASSES
from digit_recognizer.model.calibration import expected_calibration_error, reliability


def plot_learning_curves(history: Sequence[dict[str, float]], path: str | Path) -> Path:
    """Accuracy and loss per epoch, training against validation: the notebook's two plots."""
    epochs = [int(row["epoch"]) + 1 for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("acc", "loss"), strict=True):
        for stage, style in (("train", "o-"), ("val", "s--")):
            key = f"{stage}/{metric}"
            points = [(e, row[key]) for e, row in zip(epochs, history, strict=True) if key in row]
            if points:
                ax.plot(*zip(*points, strict=True), style, label=stage)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "cross-entropy loss")
        ax.set_title("Accuracy" if metric == "acc" else "Loss")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def confusion_matrix(
    labels: torch.Tensor, predictions: torch.Tensor, classes: int = 10
) -> torch.Tensor:
    """Counts (true class x predicted class)."""
    flat = labels.long() * classes + predictions.long()
    return torch.bincount(flat, minlength=classes * classes).reshape(classes, classes)


def plot_confusion_matrix(matrix: torch.Tensor, path: str | Path) -> Path:
    """Heat map of the confusion matrix with each cell's count."""
    matrix = matrix.cpu()
    classes = matrix.shape[0]
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(matrix.float().log1p(), cmap="Blues")
    threshold = matrix.float().log1p().max() / 2
    for true in range(classes):
        for pred in range(classes):
            count = int(matrix[true, pred])
            color = "white" if matrix[true, pred].float().log1p() > threshold else "black"
            ax.text(pred, true, str(count), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = matrix.diag().sum().item() / max(matrix.sum().item(), 1)
    ax.set_title(f"Confusion matrix (accuracy {accuracy:.2%})")
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    return _save(fig, path)


def worst_mistakes(labels: torch.Tensor, probabilities: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of wrong predictions, most confident first."""
    confidence, predicted = probabilities.max(dim=1)
    wrong = (predicted != labels).nonzero().flatten()
    order = confidence[wrong].argsort(descending=True)
    return wrong[order][:count]


def plot_mistakes(
    images: torch.Tensor,
    labels: torch.Tensor,
    probabilities: torch.Tensor,
    path: str | Path,
    count: int = 32,
) -> Path:
    """Grid of the most confident wrong predictions, titled true -> predicted (confidence).

    One image of all the digits with a caption above each, not one axes per digit: a run's
    figures are drawn on the critical path, and 32 axes cost a second."""
    indices = worst_mistakes(labels, probabilities, count).tolist()
    columns, cell, caption = 8, 28, 12  # pixels: a digit, and the space above it
    rows = max(1, -(-len(indices) // columns))
    height, width = cell + caption + 2, cell + 8
    montage = torch.full((rows * height, columns * width), float("nan"))  # NaN: white paper
    fig = plt.figure(figsize=(columns * 1.3, rows * 1.5 + 0.5))
    ax = fig.add_axes((0.01, 0.01, 0.98, rows * 1.5 / (rows * 1.5 + 0.5) - 0.01))
    for slot, index in enumerate(indices):
        top, left = (slot // columns) * height + caption, (slot % columns) * width + 4
        montage[top : top + cell, left : left + cell] = images[index].reshape(cell, cell).float()
        confidence, predicted = probabilities[index].max(dim=0)
        text = f"{int(labels[index])}→{int(predicted)} ({confidence:.0%})"
        ax.text(left + cell / 2, top - 3, text, ha="center", va="bottom", fontsize=8)
    gray = plt.get_cmap("gray").with_extremes(bad="white")
    ax.imshow(montage, cmap=gray, vmin=0, vmax=float(images.max()) if len(images) else 1.0)
    ax.axis("off")
    fig.suptitle(
        "Worst mistakes: true → predicted (confidence)" if indices else "Worst mistakes: none"
    )
    return _save(fig, path, layout=False)


def plot_calibration(
    logits: torch.Tensor, labels: torch.Tensor, temperature: float, path: str | Path
) -> Path:
    """Reliability diagram of the test set, before and after temperature scaling: accuracy
    per confidence bin against the diagonal of perfect calibration, with each ECE."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True)
    for ax, scale, title in (
        (axes[0], 1.0, "as trained"),
        (axes[1], temperature, f"temperature {temperature:.3f}"),
    ):
        probabilities = (logits / scale).softmax(dim=1)[:, :NUM_CLASSES]  # the digits
        confidence, accuracy, count = reliability(probabilities, labels)
        used = count > 0
        ece = expected_calibration_error(probabilities, labels)
        width = 1 / len(count)
        centers = (torch.arange(len(count)) + 0.5) * width
        ax.bar(centers[used], accuracy[used], width=width, edgecolor="black", label="accuracy")
        ax.plot([0, 1], [0, 1], "k--", label="perfect calibration")
        ax.plot(confidence[used], accuracy[used], "o", color="tab:red", label="mean confidence")
        ax.set_xlabel("confidence (top probability)")
        ax.set_title(f"{title}: ECE {ece:.4f}")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left")
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path, layout: bool = True) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
