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
from _entry import (
    CONFIG_DIR,
    Interrupted,
    checked_options,
    choose_model,
    loading_libraries,
    path_arguments,
    report_user_errors,
    run_main,
    signals_held,
    sigterm_as_interrupt,
)
from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    from digit_recognizer.prediction import Prediction

# Options naming files: their values reach the config exactly as typed.
PATH_KEYS = ("ckpt", "preview_dir")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from digit_recognizer.errors import UserError

    with loading_libraries():
        from digit_recognizer.prediction import (
            check_preview_dir,
            expand_inputs,
            predict_in_batches,
        )

    checked_options("PredictConfig", cfg)
    images = OmegaConf.to_object(cfg.img) if not isinstance(cfg.img, str) else [cfg.img]
    preview_dir = check_preview_dir(Path(cfg.preview_dir)) if cfg.save_preview else None
    files, failures = expand_inputs(images)
    classifier = choose_model(cfg)
    if not files:  # every name given is a mistake, said after any mistake in the options
        found = "; ".join(str(failure.error) for failure in failures) or "no image was given"
        raise UserError(f"Nothing to predict ({found}).")
    print(f"model: {classifier.source}", file=sys.stderr)
    for failure in failures:
        _show(failure, cfg.format)
    results: list[Prediction] = []
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


def _show(result: "Prediction", output_format: str) -> None:
    if output_format == "json":
        print(result.as_json(), flush=True)
    else:
        print(result.as_text(), file=sys.stderr if result.error else sys.stdout, flush=True)


def _save_previews(results: list["Prediction"], preview_dir: Path | None) -> None:
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
