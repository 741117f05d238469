"""Robustness styles: validation digits re-drawn as people write and photograph them, read
back through the user's preprocessing; scored on every run and used to choose the model."""

from pathlib import Path

import numpy as np
import pytest

from digit_recognizer.images.centring import center_in_frame
from digit_recognizer.images.ink import isolate_digit
from digit_recognizer.synthetic import styles
from digit_recognizer.synthetic.styles import STYLES, restyle_many, robustness_set
from tests.helpers.data import assert_swapped_in, synthetic_digits
from tests.helpers.stores import runs_of


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    images, _ = synthetic_digits(6, seed=3)
    return images.numpy().reshape(-1, 28, 28)


@pytest.mark.parametrize("style", list(STYLES))
def test_each_style_changes_the_digit_but_keeps_it_readable(style: str, digits: np.ndarray) -> None:
    styled = restyle_many(digits, style, seed=1)
    assert styled.shape == digits.shape and styled.dtype == np.uint8
    plain = np.stack([center_in_frame(isolate_digit(d / 255.0)) for d in digits])
    assert (styled.reshape(len(digits), -1).max(axis=1) > 100).all()  # still digits
    assert np.abs(styled.astype(int) - plain.astype(int)).mean() > 2  # drawn differently
    assert np.array_equal(styled, restyle_many(digits, style, seed=1))  # seeded
    assert not np.array_equal(styled, restyle_many(digits, style, seed=2))


def test_the_styled_set_is_rendered_once_and_kept(
    digits: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = robustness_set(digits, ["thin", "lowres"], 4, cache_dir=tmp_path)
    assert set(first) == {"thin", "lowres"} and first["thin"].shape == (4, 28, 28)
    (cached,) = tmp_path.glob("styled-*.npz")

    def no_rendering(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered again")

    monkeypatch.setattr(styles, "restyle_many", no_rendering)
    again = robustness_set(digits, ["thin", "lowres"], 4, cache_dir=tmp_path)
    assert all(np.array_equal(first[s], again[s]) for s in first)
    monkeypatch.undo()
    cached.write_bytes(b"torn file")  # a broken cache is rendered anew, not trusted
    assert np.array_equal(
        robustness_set(digits, ["thin", "lowres"], 4, tmp_path)["thin"], first["thin"]
    )
    # Other digits or styles are another set; an unwritable cache folder is no error.
    assert robustness_set(digits[1:], ["thin"], 4, cache_dir=tmp_path)["thin"].shape == (4, 28, 28)
    assert len(list(tmp_path.glob("styled-*.npz"))) == 2
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert robustness_set(digits, ["blur"], 2, cache_dir=blocked / "sub")["blur"].shape == (
        2,
        28,
        28,
    )


def test_every_run_records_robustness_per_style(trained_store: Path) -> None:
    runs = {run.info.run_name: run.data.metrics for run in runs_of(trained_store)}
    good = runs["good"]
    per_style = [good[f"val/robust/{style}"] for style in STYLES]
    assert all(0.0 <= score <= 1.0 for score in per_style)
    assert good["val/robust"] == pytest.approx(np.mean(per_style), abs=1e-6)
    assert "val/robust" in runs["poor"]  # what a real model makes of them: test_upload_quality


def test_style_augmentation_swaps_a_share_of_each_batch_for_styled_digits(
    tiny_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digit_recognizer.data import datamodule as data
    from digit_recognizer.synthetic import cache

    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path)
    module = data.MNISTDataModule(
        root=str(tiny_mnist), val_size=100, verify_md5=False, style_share=0.5, style_pool=40
    )
    module.setup("fit")
    pool = module.styled_train
    assert pool is not None and len(pool) == 40 and list(tmp_path.glob("pool-*.npz"))
    images, labels = module.train_set.images[:10], module.train_set.labels[:10]
    assert_swapped_in(pool, module._mixed(images, labels), (images, labels), 5)
    with pytest.raises(data.UserError, match="style_share"):
        data.MNISTDataModule(style_share=1.5)
