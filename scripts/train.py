"""Train a digit classifier: ``python scripts/train.py trainer.max_epochs=10 model=seed_cnn``."""

import sys

import hydra
from omegaconf import DictConfig

from digit_recognizer.cli.arguments import path_arguments
from digit_recognizer.cli.exits import report_user_errors, run_main
from digit_recognizer.cli.startup import config_dir, loading_libraries

CONFIG_DIR = config_dir(__file__)

# Options naming files: their values reach the config exactly as typed.
PATH_KEYS = ("ckpt_path", "data.root")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@report_user_errors
def main(cfg: DictConfig) -> float | None:
    # Checked before the training stack is imported: a mistake is answered in seconds.
    with loading_libraries():
        from digit_recognizer.training.config_checks import checked_training_config
        from digit_recognizer.training.preparation import prepare_machine

    checked, start_from = checked_training_config(cfg)
    prepare_machine(checked)
    with loading_libraries():
        from digit_recognizer.training.train import fit_and_test

    return fit_and_test(checked, start_from)


if __name__ == "__main__":
    sys.argv[1:] = path_arguments(sys.argv[1:], PATH_KEYS, list_key=None)
    run_main(main)
