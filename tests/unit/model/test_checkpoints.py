"""Checkpoint loading is safe (weights only) and refuses what is not our model."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from digit_recognizer.errors import ModelUnavailable
from digit_recognizer.model.checkpoints import load_classifier
from digit_recognizer.model.nets import SeedCNN
from tests.helpers.checkpoints import batchnorm_checkpoint


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
    # Any file at all (ckpt=/etc/passwd): the safe unpickler fails with IndexError, KeyError...
    path.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 5)
    with pytest.raises(ModelUnavailable, match="corrupt"):
        load_classifier(path)
    for seed in range(200):
        noise = np.random.default_rng(seed).integers(0, 256, 64, dtype=np.uint8).tobytes()
        path.write_bytes(b"\x80\x02" + noise)  # a pickle's first bytes, then anything
        with pytest.raises(ModelUnavailable):
            load_classifier(path)


def test_a_checkpoint_with_odd_keys_or_weights_is_refused(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    good = torch.load(tiny_checkpoint, weights_only=True)
    path = tmp_path / "odd.ckpt"
    for state in (
        {1: torch.zeros(1), **good["state_dict"]},  # a key that is no name
        {k: v.to(torch.complex64) for k, v in good["state_dict"].items()},
    ):
        torch.save({**good, "state_dict": state}, path)
        if any(isinstance(key, int) for key in state):
            load_classifier(path)  # the net's own weights are all there: it loads
            continue
        with pytest.raises(ModelUnavailable, match="no real-valued weights"):
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


def test_a_batchnorm_checkpoint_loads(tmp_path: Path) -> None:
    classifier = load_classifier(batchnorm_checkpoint(tmp_path / "reader.ckpt"))
    assert classifier.knows_not_a_digit and classifier.spec["name"] == "BatchNormCNN"
    assert classifier.predict(np.zeros((2, 28, 28), dtype=np.uint8)).shape == (2, 10)


def test_a_net_with_pair_outputs_loads_and_other_output_counts_are_refused(
    tmp_path: Path,
) -> None:
    reader = load_classifier(batchnorm_checkpoint(tmp_path / "pairs.ckpt", outputs=111))
    assert reader.reads_pairs and reader.knows_not_a_digit
    assert reader.predict(np.zeros((2, 28, 28), dtype=np.uint8)).shape == (2, 10)
    assert reader.predict_all(np.zeros((2, 28, 28), dtype=np.uint8)).shape == (2, 111)
    assert not load_classifier(batchnorm_checkpoint(tmp_path / "eleven.ckpt")).reads_pairs
    with pytest.raises(ModelUnavailable, match="a net with 12 outputs; a digit recognizer has 10"):
        load_classifier(batchnorm_checkpoint(tmp_path / "twelve.ckpt", outputs=12))


def _changed(tmp_path: Path, source: Path, **changes: object) -> Path:
    checkpoint = torch.load(source, weights_only=True)
    for key, value in changes.items():
        if key == "weights_dtype":
            checkpoint["state_dict"] = {
                k: v.to(value) if v.is_floating_point() else v
                for k, v in checkpoint["state_dict"].items()
            }
        else:
            checkpoint["hyper_parameters"][key] = value
    path = tmp_path / "changed.ckpt"
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"input_std": 1e-320}, "not numbers"),
        ({"input_mean": 1e300}, "not numbers"),
        ({"min_confidence": True}, "bad min_confidence"),
        ({"input_mean": True}, "bad input normalisation"),
        ({"temperature": True}, "bad temperature"),
        ({"weights_dtype": torch.int64}, "torch.int64 values"),
    ],
)
def test_a_checkpoint_that_would_fail_on_every_image_is_refused_on_load(
    tiny_checkpoint: Path, tmp_path: Path, change: dict, named: str
) -> None:
    with pytest.raises(ModelUnavailable, match=named) as refused:
        load_classifier(_changed(tmp_path, tiny_checkpoint, **change))
    assert "\n" not in str(refused.value)


def test_a_folder_given_as_checkpoint_is_named_as_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="is a folder"):
        load_classifier(tmp_path)
