"""Calibrated confidence: the temperature fit, the ECE, and the temperature's way from a
training run into its checkpoints, its MLflow record and inference."""

import math
from pathlib import Path

import pytest
import torch

from digit_recognizer.errors import ModelUnavailable
from digit_recognizer.model.calibration import (
    expected_calibration_error,
    fit_temperature,
    store_calibration,
)
from digit_recognizer.model.checkpoints import load_classifier
from tests.helpers.stores import runs_of, store_client


def sampled(count: int = 20_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels drawn from their own softmax: calibrated by construction."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(count, 10, generator=generator) * 2
    labels = torch.multinomial(logits.softmax(dim=1), 1, generator=generator).squeeze(1)
    return logits, labels


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_the_fit_finds_the_temperature_that_was_applied(scale: float) -> None:
    logits, labels = sampled()
    assert fit_temperature(logits * scale, labels) == pytest.approx(scale, rel=0.05)


def test_ece_is_small_when_calibrated_and_large_when_over_confident() -> None:
    logits, labels = sampled()
    assert expected_calibration_error(logits.softmax(dim=1), labels) < 0.015
    over_confident = (logits * 3).softmax(dim=1)
    assert expected_calibration_error(over_confident, labels) > 0.2
    scaled = (logits * 3 / fit_temperature(logits * 3, labels)).softmax(dim=1)
    assert expected_calibration_error(scaled, labels) < 0.015


def test_a_run_fits_stores_and_uses_its_temperature(trained_store: Path) -> None:
    run = next(r for r in runs_of(trained_store) if r.info.run_name == "good")
    metrics = run.data.metrics
    for name in ("val/ece", "val/ece_uncalibrated", "test/ece", "test/ece_uncalibrated"):
        assert 0 <= metrics[name] <= 1, name
    temperature = metrics["temperature"]
    # This tiny model is under-confident (T < 1); the temperature fixes it on both splits.
    assert metrics["val/ece"] <= metrics["val/ece_uncalibrated"]
    assert metrics["test/ece"] < metrics["test/ece_uncalibrated"]
    folder = Path(run.data.tags["checkpoint_dir"])
    best = next(p for p in folder.glob("*.ckpt") if p.name != "last.ckpt")
    hyper = torch.load(best, weights_only=True)["hyper_parameters"]
    assert hyper["temperature"] == pytest.approx(temperature)
    assert load_classifier(best).model.temperature == pytest.approx(temperature)
    # last.ckpt (other weights, for resuming) stays as trained.
    assert load_classifier(folder / "last.ckpt").model.temperature == 1.0
    plots = {a.path for a in store_client(trained_store).list_artifacts(run.info.run_id, "plots")}
    assert "plots/calibration.png" in plots


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, 1e6, "2"])
def test_a_checkpoint_with_a_bad_temperature_is_refused(
    tiny_checkpoint: Path, tmp_path: Path, bad: object
) -> None:
    copy = tmp_path / "odd.ckpt"
    copy.write_bytes(tiny_checkpoint.read_bytes())
    contents = torch.load(copy, weights_only=True)
    contents["hyper_parameters"]["temperature"] = bad
    torch.save(contents, copy)
    with pytest.raises(ModelUnavailable, match="bad temperature"):
        load_classifier(copy)


def test_storing_a_temperature_keeps_everything_else(tiny_checkpoint: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.ckpt"
    copy.write_bytes(tiny_checkpoint.read_bytes())
    before = torch.load(copy, weights_only=True)
    store_calibration(copy, temperature=1.7)
    after = torch.load(copy, weights_only=True)
    assert after["hyper_parameters"] == {**before["hyper_parameters"], "temperature": 1.7}
    assert after["state_dict"].keys() == before["state_dict"].keys()
    assert list(tmp_path.iterdir()) == [copy]  # no temporary file left behind


@pytest.mark.parametrize(
    ("limit", "expected"), [(None, 5000), (1.0, 5000), (2, 2000), (100, 5000), (0.1, 500)]
)
def test_final_scores_use_as_much_validation_as_validation_did(
    limit: float | None, expected: int
) -> None:
    from types import SimpleNamespace

    from digit_recognizer.training.module import DigitClassifier

    module = DigitClassifier({"name": "SeedCNN"})
    module._trainer = SimpleNamespace(limit_val_batches=1.0 if limit is None else limit)
    datamodule = SimpleNamespace(eval_batch_size=1000)
    assert module._validation_images(datamodule, 5000) == expected
