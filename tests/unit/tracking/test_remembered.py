"""The best run's checkpoint is remembered while the store does not change, and only then."""

from pathlib import Path

import pytest

from digit_recognizer.tracking import selection
from tests.helpers.stores import copy_store, store_client, store_uri


@pytest.fixture
def asked(
    trained_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[str]]:
    """A private store, an empty cache, and a log of each time MLflow is asked."""
    store = copy_store(trained_store, tmp_path / "project")
    monkeypatch.setattr(selection, "CACHE_DIR", tmp_path / "cache")
    calls: list[str] = []
    real = selection._find_best_checkpoint

    def counted(*args: object) -> tuple[Path, str, str]:
        calls.append("asked")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(selection, "_find_best_checkpoint", counted)
    return store, calls


def best(store: Path) -> tuple[Path, str, str]:
    return selection.find_best_checkpoint(store_uri(store), "mnist", None, "val/acc_best")


def test_the_same_store_gives_the_same_choice_without_asking(asked: tuple) -> None:
    store, calls = asked
    first = best(store)
    assert best(store) == first and calls == ["asked"]
    assert "good" in first[1]


def test_a_write_to_the_store_or_a_changed_checkpoint_asks_again(asked: tuple) -> None:
    store, calls = asked
    path, _, run_id = best(store)
    store_client(store).set_tag(run_id, "note", "a write")  # any change to the database
    assert best(store)[0] == path and len(calls) == 2
    path.write_bytes(path.read_bytes())  # the same bytes, written again: another file
    best(store)
    assert len(calls) == 3
    assert best(store)[0] == path and len(calls) == 3


@pytest.mark.parametrize("content", ["", "{", "[1, 2]", '{"store": [], "choice": [1, 2, 3]}'])
def test_an_unreadable_record_asks_again(asked: tuple, content: str) -> None:
    store, calls = asked
    first = best(store)
    (record,) = (selection.CACHE_DIR / "choices").iterdir()
    record.write_text(content)
    assert best(store) == first and len(calls) == 2
