"""Calibrated confidence: temperature scaling (Guo et al. 2017) and the expected calibration
error. Plain torch, no Lightning: training fits the temperature, inference applies it.

A net trained with cross-entropy is over-confident: "99.9%" answers are right less often
than that. One scalar T, fitted on the validation split by minimising the negative
log-likelihood of ``softmax(logits / T)``, fixes most of it without changing any answer
(argmax is unchanged by T).
"""

import math
from pathlib import Path

import torch

from digit_recognizer.files import write_atomically

ECE_BINS = 15
# "Not a digit" below the confidence that still answers this share of validation digits.
ANSWERED_SHARE = 0.995
# A temperature outside these bounds means something else is wrong (a broken net, a
# checkpoint from elsewhere): inference refuses it rather than answer with it.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, steps: int = 50) -> float:
    """The temperature T minimising the NLL of ``softmax(logits / T)`` (L-BFGS on log T).
    Works inside Lightning's test loop too, which runs under ``torch.inference_mode``."""
    with torch.inference_mode(False), torch.enable_grad():
        logits, labels = logits.detach().double().clone(), labels.detach().long().clone()
        log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS(
            [log_t], lr=0.1, max_iter=steps, line_search_fn="strong_wolfe"
        )

        def nll() -> torch.Tensor:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
            loss.backward()
            return loss

        optimizer.step(nll)
        temperature = float(log_t.detach().exp())
    if not math.isfinite(temperature):
        return 1.0
    return min(max(temperature, MIN_TEMPERATURE), MAX_TEMPERATURE)


def expected_calibration_error(
    probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS
) -> float:
    """ECE: the mean gap between confidence and accuracy over equal-width confidence bins,
    weighted by how many answers fall in each (Naeini et al. 2015; 15 bins as Guo et al.)."""
    if len(labels) == 0:
        return 0.0
    confidence, accuracy, count = reliability(probabilities, labels, bins)
    return float((count * (confidence - accuracy).abs()).sum() / len(labels))


def reliability(
    probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per confidence bin (i/bins, (i+1)/bins]: mean confidence, accuracy and count."""
    confidence, predicted = probabilities.detach().float().cpu().max(dim=1)
    correct = (predicted == labels.detach().cpu()).float()
    which = torch.bucketize(confidence, torch.linspace(0, 1, bins + 1)[1:-1])
    count = torch.zeros(bins).index_add_(0, which, torch.ones(len(which)))
    mean_confidence = torch.zeros(bins).index_add_(0, which, confidence) / count.clamp(min=1)
    accuracy = torch.zeros(bins).index_add_(0, which, correct) / count.clamp(min=1)
    return mean_confidence, accuracy, count


def confidence_threshold(probabilities: torch.Tensor, answered: float = ANSWERED_SHARE) -> float:
    """The highest confidence threshold that still answers ``answered`` of these (real
    digits'): below it an answer is "not a digit"."""
    if len(probabilities) == 0:
        return 0.0
    confidence = probabilities.detach().float().cpu().max(dim=1).values
    return float(torch.quantile(confidence, 1.0 - answered, interpolation="lower"))


def store_calibration(checkpoint: str | Path, **values: float) -> None:
    """Write calibration values (``temperature``, ``min_confidence``) into a checkpoint's plain
    hyperparameters, atomically (a reader never sees half a file)."""
    path = Path(checkpoint)
    contents = torch.load(path, map_location="cpu", weights_only=True)
    contents.setdefault("hyper_parameters", {}).update(
        {key: float(value) for key, value in values.items()}
    )
    write_atomically(path, lambda file: torch.save(contents, file))
