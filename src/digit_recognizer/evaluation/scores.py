"""Score a classifier on the official MNIST test set, and record the result on its MLflow run."""

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from digit_recognizer.evaluation import plots
from digit_recognizer.model.checkpoints import Classifier
from digit_recognizer.progress import tracked

if TYPE_CHECKING:
    from digit_recognizer.evaluation.other_writers import Yardstick


@dataclass
class TestReport:
    accuracy: float
    per_class: list[float]
    probabilities: torch.Tensor
    confusion: torch.Tensor

    def as_text(self) -> str:
        lines = [f"test accuracy: {self.accuracy:.4%} on {int(self.confusion.sum())} images"]
        lines += [f"  digit {d}: {acc:.2%}" for d, acc in enumerate(self.per_class)]
        return "\n".join(lines)


def score(
    classifier: Classifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000
) -> TestReport:
    """Accuracy, per-class accuracy and confusion matrix of ``classifier`` on these images."""
    probabilities = classifier.predict(images, batch_size=batch_size)
    predicted = probabilities.argmax(dim=1)
    confusion = plots.confusion_matrix(labels, predicted)
    per_class = (confusion.diag() / confusion.sum(dim=1).clamp(min=1)).tolist()
    accuracy = float((predicted == labels).float().mean())
    return TestReport(accuracy, per_class, probabilities, confusion)


def score_uploads(
    classifier: Classifier, images: torch.Tensor, labels: torch.Tensor, count: int, seed: int = 0
) -> dict[str, float]:
    """Accuracy on the first ``count`` test digits: raw, re-drawn as uploads and preprocessed,
    and re-drawn but only resized to 28x28 (the seed notebook's way)."""
    import numpy as np

    from digit_recognizer.images.centring import naive_resize, to_mnist_array
    from digit_recognizer.synthetic.uploads import redraw_many

    images, labels = images[:count], labels[:count]
    uploads = [data for _, data in redraw_many(images[:, 0].numpy(), seed)]

    def accuracy(batch: np.ndarray | torch.Tensor) -> float:
        return float((classifier.predict(batch).argmax(dim=1) == labels).float().mean())

    return {
        "raw": accuracy(images),
        "uploads": accuracy(
            np.stack(
                [
                    to_mnist_array(upload)
                    for upload in tracked(uploads, "reading test digits as uploads", len(uploads))
                ]
            )
        ),
        "uploads_naive_resize": accuracy(np.stack([naive_resize(upload) for upload in uploads])),
    }


def record_on_run(
    tracking_uri: str,
    run_id: str,
    report: TestReport,
    images: torch.Tensor,
    labels: torch.Tensor,
    yardstick: "Yardstick | None" = None,
) -> None:
    """Log the scores and figures under ``eval/`` on the model's own run."""
    from mlflow.tracking import MlflowClient

    from digit_recognizer.tracking.descriptions import describe_run

    client = MlflowClient(tracking_uri)
    client.log_metric(run_id, "eval/test_acc", report.accuracy)
    if yardstick is not None:
        client.log_metric(run_id, "eval/other_writers_right", yardstick.right)
        client.log_metric(run_id, "eval/other_writers_refused", yardstick.refused)
        client.log_metric(run_id, "eval/other_writers_unsure", yardstick.unsure)
    for digit, accuracy in enumerate(report.per_class):
        client.log_metric(run_id, f"eval/test_acc_digit_{digit}", accuracy)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plots.plot_confusion_matrix(report.confusion, folder / "confusion_matrix.png")
        plots.plot_mistakes(images, labels, report.probabilities, folder / "mistakes.png")
        client.log_artifacts(run_id, str(folder), "eval")
    describe_run(client, run_id)  # its description shows the new figures
