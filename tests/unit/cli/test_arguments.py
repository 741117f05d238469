"""Command-line arguments made safe for Hydra: any file name, flags kept with their values."""

from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from digit_recognizer.cli.arguments import path_arguments


def test_hydra_flags_keep_their_values_beside_image_names() -> None:
    assert path_arguments(["x.png", "--cfg", "job", "y.png"], (), "img") == [
        "img=['x.png','y.png']",
        "--cfg",
        "job",
    ]
    (quoted,) = path_arguments(["filter=tags.model = 'a'"], ("filter",), None)
    (parsed,) = OverridesParser.create().parse_overrides([quoted])
    assert parsed.value() == "tags.model = 'a'"


def test_an_image_named_like_a_flag_is_an_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "--help").write_bytes(b"an image")
    assert path_arguments(["--help", "x.png"], (), "img") == ["img=['--help','x.png']"]
    assert path_arguments(["--help"], (), None) == ["--help"]  # train takes no images
