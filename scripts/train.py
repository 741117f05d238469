"""Train a digit classifier: ``python scripts/train.py trainer.max_epochs=10 model=seed_cnn``."""

import hydra
from _entry import CONFIG_DIR, report_user_errors
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@report_user_errors
def main(cfg: DictConfig) -> float | None:
    from digit_recognizer.training import train  # imported after Hydra parsed the command line

    return train(cfg)


if __name__ == "__main__":
    main()
