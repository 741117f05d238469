"""Whatever pattern an image holds, reading it is bounded work: answered or refused within a
second of CPU and 50 MB, never the minute a comb of a thousand teeth used to take."""

import time
import tracemalloc

import pytest

from digit_recognizer.errors import NotADigit
from digit_recognizer.model.checkpoints import load_classifier
from digit_recognizer.reading.pieces import to_mnist_digits
from digit_recognizer.reading.reader import read_all
from tests.helpers.checkpoints import batchnorm_checkpoint
from tests.helpers.images import hostile_patterns

PATTERNS = hostile_patterns()


@pytest.fixture(scope="module")
def reader_model(tmp_path_factory: pytest.TempPathFactory):
    """The costliest model to read with: pairs and "not a digit", so every part is offered."""
    folder = tmp_path_factory.mktemp("reader")
    return load_classifier(batchnorm_checkpoint(folder / "reader.ckpt", outputs=111))


@pytest.mark.parametrize("mode", ["auto", "number"])
@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_any_pattern_is_answered_or_refused_within_a_second_and_50_mb(
    reader_model, name: str, mode: str
) -> None:
    data = PATTERNS[name]
    tracemalloc.start()
    started = time.process_time()
    try:
        found = to_mnist_digits(data, mode)
    except NotADigit as refusal:
        found = refusal
    (reading,) = read_all(reader_model, [found])
    spent = time.process_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert reading is not None
    assert spent < 1.0, f"{name}: {spent:.2f} s of CPU"
    assert peak < 50 * 2**20, f"{name}: {peak / 2**20:.0f} MB"


def test_the_comb_is_refused_in_one_sentence() -> None:
    with pytest.raises(NotADigit, match="too many strokes") as refused:
        to_mnist_digits(PATTERNS["combs"], "number")
    assert "\n" not in str(refused.value)
