"""Predict digits in images: ``python scripts/predict.py img=my_digit.png``.

Exit status: 0 every image predicted, 1 some failed (the rest are printed), 2 no usable model.
"""

import sys
from pathlib import Path

import hydra
from _entry import CONFIG_DIR, choose_model, report_user_errors
from omegaconf import DictConfig, OmegaConf


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from digit_recognizer.errors import UserError
    from digit_recognizer.prediction import expand_inputs, predict_files

    if OmegaConf.is_missing(cfg, "img"):
        raise UserError("Name the image(s) to read: img=PATH, a directory, a glob or img=[a,b].")
    if cfg.format not in ("text", "json"):
        raise UserError(f"format must be text or json, not {cfg.format!r}.")
    files, failures = expand_inputs(
        OmegaConf.to_object(cfg.img) if not isinstance(cfg.img, str) else cfg.img
    )
    classifier = choose_model(cfg)
    print(f"model: {classifier.source}", file=sys.stderr)
    preview_dir = Path(cfg.preview_dir) if cfg.save_preview else None
    results = failures + predict_files(classifier, files, cfg.batch_size, preview_dir)
    for result in results:
        if cfg.format == "json":
            print(result.as_json())
        else:
            print(result.as_text(), file=sys.stderr if result.error else sys.stdout)
    sys.exit(1 if any(result.error for result in results) else 0)


if __name__ == "__main__":
    main()
