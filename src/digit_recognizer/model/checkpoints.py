"""A checkpoint as data: checked, rebuilt into a ``Classifier`` and asked for probabilities.

No Lightning or MLflow here: prediction starts fast, and loading never runs code."""

import math
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from digit_recognizer.errors import ModelUnavailable, UserError
from digit_recognizer.labels import IMAGE_SIZE, NUM_CLASSES, OUTPUT_COUNTS, PAIRS_FROM
from digit_recognizer.model.calibration import MAX_TEMPERATURE, MIN_TEMPERATURE
from digit_recognizer.model.nets import build_net, check_net_spec, state_shapes
from digit_recognizer.model.probabilities import MNIST_MEAN, MNIST_STD, ProbabilityNet


@dataclass
class Classifier:
    """A trained net rebuilt from a checkpoint, behind its own normalisation and softmax."""

    model: ProbabilityNet
    source: str
    run_id: str | None = None
    checkpoint: str = ""  # the file it was loaded from
    # Calibrated confidence below which an answer is "not a digit" (chosen on validation).
    min_confidence: float = 0.0
    spec: dict[str, Any] = field(default_factory=dict)  # the net's checked spec

    @property
    def outputs(self) -> int:
        """How many outputs the net has (``labels.OUTPUT_COUNTS``)."""
        return self.spec.get("num_classes", NUM_CLASSES)

    @property
    def knows_not_a_digit(self) -> bool:
        """Whether the net has an 11th output, "not a digit" (it can tell a bad cut from a digit)."""
        return self.outputs > NUM_CLASSES

    @property
    def reads_pairs(self) -> bool:
        """Whether the net has an output per pair of touching digits (``labels.PAIRS_FROM``)."""
        return self.outputs > PAIRS_FROM

    @torch.inference_mode()
    def predict(self, images: np.ndarray | torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Probabilities (N, 10) for uint8 digits shaped (N, 28, 28) or (N, 1, 28, 28)."""
        return self.predict_all(images, batch_size)[:, :NUM_CLASSES]

    @torch.inference_mode()
    def predict_all(self, images: np.ndarray | torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Probabilities of every output of the net (N, its outputs): the ten digits, then
        "not a digit" and touching pairs where it has them."""
        batch = torch.as_tensor(images)
        if batch.ndim == 3:
            batch = batch.unsqueeze(1)
        outputs = [self.model.all_probabilities(chunk) for chunk in batch.split(batch_size)]
        if not outputs:
            return torch.empty(0, self.outputs)
        return torch.cat(outputs)


def load_classifier(path: str | Path) -> Classifier:
    """Rebuild the net of a training checkpoint. Loading never runs code (``weights_only=True``),
    and nothing is built before the net spec, its size and the weights have been checked."""
    path = Path(path)
    if path.is_dir():
        raise ModelUnavailable(f"Checkpoint {path} is a folder; give the path of a .ckpt file.")
    if not path.is_file():
        raise ModelUnavailable(f"Checkpoint {path} does not exist.")
    try:
        with warnings.catch_warnings():  # a foreign file's pickle protocol is no news to print
            warnings.simplefilter("ignore", UserWarning)
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any bytes at all: the safe unpickler fails in many ways
        # (IndexError, KeyError, ... on a text file), all of them meaning "not a checkpoint".
        # Only a real pickle names the globals it wanted; anything else is a broken file.
        if isinstance(err, pickle.UnpicklingError) and "GLOBAL" in str(err):
            raise ModelUnavailable(
                f"Checkpoint {path} holds pickled objects beyond plain data; refusing to load it."
            ) from err
        raise ModelUnavailable(f"Checkpoint {path} is corrupt or not a PyTorch file.") from err
    spec, weights, mean, std, temperature = _checked_contents(checkpoint, path)
    min_confidence = checkpoint["hyper_parameters"].get("min_confidence", 0.0)
    if not (_is_number(min_confidence) and 0.0 <= min_confidence <= 1.0):
        raise ModelUnavailable(
            f"Checkpoint {path} has a bad min_confidence {min_confidence!r} (expected 0 to 1)."
        )
    model = ProbabilityNet(build_net(**spec), mean, std, temperature=temperature)
    model.net.load_state_dict(weights)  # names, shapes and kinds were checked above
    _probe(model.eval(), path)
    return Classifier(
        model=model.eval(),
        source=str(path),
        checkpoint=str(path),
        min_confidence=float(min_confidence),
        spec=spec,
    )


def _checked_contents(
    checkpoint: Any, path: Path
) -> tuple[dict[str, Any], dict[str, torch.Tensor], float, float, float]:
    """Net spec, net weights, normalisation and temperature of a checkpoint, each checked
    (a checkpoint from before calibration has temperature 1); ModelUnavailable
    (one sentence naming the file) for anything a digit-recognizer checkpoint would not hold."""
    hyper = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(hyper, dict) or not isinstance(state, dict) or "net" not in hyper:
        raise ModelUnavailable(
            f"Checkpoint {path} is not a digit-recognizer checkpoint (no known net in it)."
        )
    try:
        spec = check_net_spec(hyper["net"])
    except UserError as err:
        raise ModelUnavailable(f"Checkpoint {path} has a bad net spec: {err}") from err
    if spec.get("num_classes", NUM_CLASSES) not in OUTPUT_COUNTS:
        raise ModelUnavailable(
            f"Checkpoint {path} has a net with {spec['num_classes']} outputs; a digit recognizer "
            f"has {NUM_CLASSES} ({NUM_CLASSES + 1} with 'not a digit', {OUTPUT_COUNTS[-1]} with "
            "touching pairs too)."
        )
    weights = _net_weights(state)
    if not weights or not all(  # complex ones would load with their imaginary part dropped
        isinstance(value, torch.Tensor) and not value.is_complex() for value in weights.values()
    ):
        raise ModelUnavailable(f"Checkpoint {path} holds no real-valued weights for its net.")
    expected = state_shapes(spec)
    found = {key: tuple(value.shape) for key, value in weights.items()}
    if found != expected:
        counts = [
            sum(math.prod(shape) for shape in shapes.values()) for shapes in (found, expected)
        ]
        raise ModelUnavailable(
            f"Checkpoint {path} holds {counts[0]:,} weights where its net spec {spec} has "
            f"{counts[1]:,} (or they differ in shape); they do not belong together."
        )
    kinds = _state_kinds(spec)
    wrong = [key for key, value in weights.items() if value.is_floating_point() != kinds[key]]
    if wrong:
        raise ModelUnavailable(
            f"Checkpoint {path} holds {weights[wrong[0]].dtype} values for {wrong[0]}, where its "
            "net has the other kind (floating point or integer)."
        )
    if not all(torch.isfinite(value.float()).all() for value in weights.values()):
        raise ModelUnavailable(f"Checkpoint {path} holds non-finite weights (NaN or inf).")
    mean, std = hyper.get("input_mean", MNIST_MEAN), hyper.get("input_std", MNIST_STD)
    if not all(_is_number(v) and math.isfinite(v) for v in (mean, std)) or std <= 0:
        raise ModelUnavailable(
            f"Checkpoint {path} has bad input normalisation (mean {mean!r}, std {std!r})."
        )
    temperature = hyper.get("temperature", 1.0)
    if not (_is_number(temperature) and MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE):
        raise ModelUnavailable(
            f"Checkpoint {path} has a bad temperature {temperature!r} (expected a number "
            f"from {MIN_TEMPERATURE} to {MAX_TEMPERATURE})."
        )
    return spec, weights, float(mean), float(std), float(temperature)


def _net_weights(state: dict[str, Any]) -> dict[str, Any]:
    """The net's own entries of a LightningModule state dict: ``net.net.*`` (the net inside the
    module's ProbabilityNet) or, in checkpoints from before ProbabilityNet, ``net.*``."""
    named = {k: v for k, v in state.items() if isinstance(k, str)}  # a foreign file's keys
    nested = {k.removeprefix("net.net."): v for k, v in named.items() if k.startswith("net.net.")}
    if nested:
        return nested
    return {k.removeprefix("net."): v for k, v in named.items() if k.startswith("net.")}


def _is_number(value: Any) -> bool:
    """An int or a float; a boolean is not a number here (``True`` is not a threshold)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _state_kinds(spec: dict[str, Any]) -> dict[str, bool]:
    """For each state-dict entry of a (checked) spec's net: is it floating point? (Batch norms
    count their batches in an integer buffer.) Computed without allocating weights."""
    with torch.device("meta"):
        return {
            key: value.is_floating_point() for key, value in build_net(**spec).state_dict().items()
        }


def _probe(model: ProbabilityNet, path: Path) -> None:
    """Run a blank and a drawn probe image through a loaded net: a checkpoint whose outputs are
    not finite (extreme normalisation, weights that overflow) would fail on every image later."""
    probe = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
    probe[1, 0, 6:22, 12:16] = 255  # a stroke, as a 1
    with torch.inference_mode():
        outputs = model.all_probabilities(probe)
    if not torch.isfinite(outputs).all():
        raise ModelUnavailable(
            f"Checkpoint {path} gives outputs that are not numbers (NaN or inf) for a plain "
            "image: its weights or normalisation are broken."
        )
