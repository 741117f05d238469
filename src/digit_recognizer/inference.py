"""Safe checkpoint loading and batched prediction. No Lightning or MLflow: prediction starts fast."""

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from digit_recognizer.errors import ModelUnavailable
from digit_recognizer.nets import NETS, build_net
from digit_recognizer.normalize import MNIST_MEAN, MNIST_STD, normalize_images


@dataclass
class Classifier:
    """A net rebuilt from a checkpoint, with the normalisation it was trained with."""

    net: nn.Module
    mean: float
    std: float
    source: str
    run_id: str | None = None

    @torch.inference_mode()
    def predict(self, images: np.ndarray | torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Probabilities (N, 10) for uint8 digits shaped (N, 28, 28) or (N, 1, 28, 28)."""
        batch = torch.as_tensor(images)
        if batch.ndim == 3:
            batch = batch.unsqueeze(1)
        outputs = [
            self.net(normalize_images(chunk, self.mean, self.std)).softmax(dim=1)
            for chunk in batch.split(batch_size)
        ]
        return torch.cat(outputs) if outputs else torch.empty(0, 10)


def choose_classifier(
    ckpt: str | None, run_id: str | None, tracking_uri: str, experiment: str
) -> Classifier:
    """The model to use: ``ckpt`` if given, else ``run_id``'s best checkpoint, else the best run's.

    MLflow is imported only when a run has to be looked up, so ``ckpt=PATH`` starts fast.
    """
    if ckpt:
        return load_classifier(ckpt)
    if not tracking_uri:
        raise ModelUnavailable("No tracking store to find a model in; pass ckpt=PATH.")
    from digit_recognizer.tracking import find_best_checkpoint

    path, description, chosen_run = find_best_checkpoint(tracking_uri, experiment, run_id)
    classifier = load_classifier(path)
    classifier.source, classifier.run_id = description, chosen_run
    return classifier


def load_classifier(path: str | Path) -> Classifier:
    """Rebuild the net of a training checkpoint. Loading never runs code (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise ModelUnavailable(f"Checkpoint {path} does not exist.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        OSError,
        zipfile.BadZipFile,
        ValueError,
    ) as err:
        # Only a real pickle names the globals it wanted; anything else is a broken file.
        if isinstance(err, pickle.UnpicklingError) and "GLOBAL" in str(err):
            raise ModelUnavailable(
                f"Checkpoint {path} holds pickled objects beyond plain data; refusing to load it."
            ) from err
        raise ModelUnavailable(f"Checkpoint {path} is corrupt or not a PyTorch file.") from err
    net_spec, state = _net_spec_and_weights(checkpoint, path)
    net = build_net(**net_spec)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ModelUnavailable(
            f"Checkpoint {path} does not match its declared net {net_spec['name']}."
        ) from err
    net.eval()
    hyper = checkpoint["hyper_parameters"]
    return Classifier(
        net=net,
        mean=float(hyper.get("input_mean", MNIST_MEAN)),
        std=float(hyper.get("input_std", MNIST_STD)),
        source=str(path),
    )


def _net_spec_and_weights(checkpoint: Any, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    hyper = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    net_spec = hyper.get("net") if isinstance(hyper, dict) else None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if (
        not isinstance(net_spec, dict)
        or net_spec.get("name") not in NETS
        or not isinstance(state, dict)
    ):
        raise ModelUnavailable(
            f"Checkpoint {path} is not a digit-recognizer checkpoint (no known net in it)."
        )
    # The LightningModule keeps the net as ``self.net``: its weights are the ``net.`` entries.
    weights = {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}
    return dict(net_spec), weights
