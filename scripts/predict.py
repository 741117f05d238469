"""Predict digits in images: ``python scripts/predict.py my_digit.png photos/ 'scans/*.png'``.

Images are plain arguments (any file name, spaces and brackets included) or ``img=...``;
the other options are Hydra overrides (``format=json``, ``ckpt=PATH``, ``run_id=ID``).
``mode=number`` reads a row of digits (``auto``, the default, does when it sees several).
Exit status: 0 every image answered (a digit, a number, or "not a digit" and why), 1 some
could not be read (the rest are printed), 2 a mistake (bad option, no usable model, no file
found at all) before anything was predicted.
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig, OmegaConf

from digit_recognizer.cli.arguments import path_arguments
from digit_recognizer.cli.exits import report_user_errors, run_main
from digit_recognizer.cli.signals import Interrupted, signals_held, sigterm_as_interrupt
from digit_recognizer.cli.startup import config_dir, loading_libraries

CONFIG_DIR = config_dir(__file__)

if TYPE_CHECKING:
    from digit_recognizer.reading.answers import FileAnswer

# Options naming files: their values reach the config exactly as typed.
PATH_KEYS = ("ckpt", "preview_dir")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from digit_recognizer.errors import UserError

    with loading_libraries():
        from digit_recognizer.cli.model_choice import choose_model
        from digit_recognizer.cli.options import PredictConfig, checked_options
        from digit_recognizer.reading.answers import (
            FileAnswer,
            check_preview_dir,
            predict_in_batches,
        )
        from digit_recognizer.reading.files import expand_inputs

    checked_options(PredictConfig, cfg)
    images = OmegaConf.to_object(cfg.img) if not isinstance(cfg.img, str) else [cfg.img]
    preview_dir = check_preview_dir(Path(cfg.preview_dir)) if cfg.save_preview else None
    files, missing = expand_inputs(images)
    failures = [FileAnswer(spec, error=reason) for spec, reason in missing]
    classifier = choose_model(cfg)
    if not files:  # every name given is a mistake, said after any mistake in the options
        found = "; ".join(str(failure.error) for failure in failures) or "no image was given"
        raise UserError(f"Nothing to predict ({found}).")
    print(f"model: {classifier.source}", file=sys.stderr)
    for failure in failures:
        _show(failure, cfg.format)
    results: list[FileAnswer] = []
    try:  # each answer is printed as it comes: an interruption keeps those already given
        with sigterm_as_interrupt():
            for batch in predict_in_batches(
                classifier, files, cfg.batch_size, preview_dir, cfg.mode, cfg.min_confidence
            ):
                with signals_held():  # a batch read is a batch given, whole
                    for result in batch:
                        results.append(result)
                        _show(result, cfg.format)
    except Interrupted as stop:  # every answer shown was flushed as it was printed
        print(
            f"interrupted by {stop.signal_name}: {len(results)} of {len(files)} images "
            "answered above",
            file=sys.stderr,
        )
        _save_previews(results, preview_dir)
        sys.exit(stop.exit_code)
    _save_previews(results, preview_dir)
    sys.exit(1 if failures or any(result.error for result in results) else 0)


def _show(result: "FileAnswer", output_format: str) -> None:
    if output_format == "json":
        print(result.as_json(), flush=True)
    else:
        print(result.as_text(), file=sys.stderr if result.error else sys.stdout, flush=True)


def _save_previews(results: list["FileAnswer"], preview_dir: Path | None) -> None:
    """After the answers: a failure here loses none of them."""
    from digit_recognizer.errors import UserError

    if preview_dir is None:
        return
    try:
        for result in results:
            result.save_preview(preview_dir)
    except OSError as err:
        raise UserError(f"Could not write previews into {preview_dir}: {err}") from err
    print(f"previews: {preview_dir}", file=sys.stderr)


if __name__ == "__main__":
    sys.argv[1:] = path_arguments(sys.argv[1:], PATH_KEYS, list_key="img")
    run_main(main)
