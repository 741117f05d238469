"""Register a trained model in the MLflow Model Registry: ``python scripts/register.py``.

Picks the best finished run (or ``run_id=``), registers the MLflow model it logged (logging
one from its best checkpoint if it has none) and prints how to serve that version.
"""

from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig

from digit_recognizer.cli.exits import report_user_errors, run_main
from digit_recognizer.cli.startup import config_dir

CONFIG_DIR = config_dir(__file__)

if TYPE_CHECKING:
    import torch


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="register")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from digit_recognizer.data.datamodule import MNISTDataModule
    from digit_recognizer.errors import UserError
    from digit_recognizer.tracking.mlflow_model import register_run_model
    from digit_recognizer.tracking.selection import find_best_checkpoint

    if not cfg.get("logger"):
        raise UserError("Registering needs the MLflow logger's store; drop logger=none.")
    if not str(cfg.name or "").strip():
        raise UserError("Give the registered model a name: name=NAME.")
    from digit_recognizer.cli.options import RegisterConfig, checked_options

    checked_options(RegisterConfig, cfg)
    uri = cfg.logger.tracking_uri
    checkpoint, description, run_id = find_best_checkpoint(
        uri, cfg.logger.experiment_name, cfg.run_id, cfg.select_by
    )

    def test_digits() -> "torch.Tensor":  # the input example, needed only for a run without one
        data = MNISTDataModule.from_config(cfg.data)
        data.setup("test")
        return data.test_set.images[:2]

    version = register_run_model(uri, run_id, checkpoint, cfg.name, test_digits)
    print(f"Registered {cfg.name} version {version} from {description}.")
    print(
        f"Serve it: MLFLOW_TRACKING_URI={uri} "
        f"mlflow models serve -m models:/{cfg.name}/{version} --env-manager local"
    )


if __name__ == "__main__":
    run_main(main)
