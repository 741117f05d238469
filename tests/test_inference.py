"""Checkpoint loading is safe (weights only) and refuses what is not our model."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from digit_recognizer.errors import ModelUnavailable
from digit_recognizer.inference import load_classifier
from digit_recognizer.nets import SeedCNN


class Payload:
    """Pickles to a call that writes a marker file: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_trained_checkpoint_predicts_probabilities(tiny_checkpoint: Path) -> None:
    classifier = load_classifier(tiny_checkpoint)
    probabilities = classifier.predict(np.zeros((5, 28, 28), dtype=np.uint8))
    assert probabilities.shape == (5, 10)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(5), atol=1e-5)
    assert not classifier.knows_not_a_digit  # ten outputs: no "not a digit"


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"net": Payload(marker)}}, path)
    with pytest.raises(ModelUnavailable, match="refusing to load"):
        load_classifier(path)
    assert not marker.exists()


def test_corrupt_checkpoint_is_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    path = tmp_path / "cut.ckpt"
    path.write_bytes(tiny_checkpoint.read_bytes()[:5000])
    with pytest.raises(ModelUnavailable, match="corrupt"):
        load_classifier(path)
    path.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(ModelUnavailable, match="corrupt"):
        load_classifier(path)


def test_checkpoint_of_another_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": {"lr": 0.1}}, path)
    with pytest.raises(ModelUnavailable, match="not a digit-recognizer checkpoint"):
        load_classifier(path)


def test_weights_that_do_not_fit_the_net_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mismatch.ckpt"
    weights = {f"net.{k}": torch.zeros(1) for k in SeedCNN().state_dict()}
    torch.save({"state_dict": weights, "hyper_parameters": {"net": {"name": "SeedCNN"}}}, path)
    with pytest.raises(ModelUnavailable, match="do not belong together"):
        load_classifier(path)


def test_missing_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_classifier(tmp_path / "nope.ckpt")
