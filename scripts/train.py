"""Train a digit classifier: ``python scripts/train.py trainer.max_epochs=10 model=seed_cnn``."""

import sys

import hydra
from _entry import CONFIG_DIR, loading_libraries, path_arguments, report_user_errors, run_main
from omegaconf import DictConfig

# Options naming files: their values reach the config exactly as typed.
PATH_KEYS = ("ckpt_path", "data.root")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@report_user_errors
def main(cfg: DictConfig) -> float | None:
    # Checked before the training stack is imported: a mistake is answered in seconds.
    with loading_libraries():
        from digit_recognizer.training_config import checked_training_config

    checked, start_from = checked_training_config(cfg)
    with loading_libraries():
        from digit_recognizer.training import fit_and_test

    return fit_and_test(checked, start_from)


if __name__ == "__main__":
    sys.argv[1:] = path_arguments(sys.argv[1:], PATH_KEYS, list_key=None)
    run_main(main)
