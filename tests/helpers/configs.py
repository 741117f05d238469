"""Training configs composed with Hydra's compose API, shrunk to seconds."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from tests.helpers.paths import CONFIG_DIR, SHARED_DATA


def fast_overrides(
    workdir: Path, data_root: Path, in_process: bool = True, log_model: bool = False
) -> list[str]:
    """Overrides that shrink a training run to seconds and keep every output inside ``workdir``.

    In-process runs have no Hydra runtime, so they also name the output folder; script runs
    (``in_process=False``) let Hydra give each job its own. The MLflow model (a torch.export
    graph, seconds per run) is logged only for the tests that ask for it (``log_model``).
    """
    return [
        f"log_model={str(log_model).lower()}",
        f"paths.root_dir={workdir}",
        *([f"paths.output_dir={workdir}/out"] if in_process else []),
        f"data.root={data_root}",
        "data.download=false",  # tests never reach the internet
        "data.verify_md5=false",
        "data.val_size=100",
        "data.batch_size=32",
        "data.eval_batch_size=100",
        "data.style_share=0",  # no style pool to draw (tests/unit/synthetic covers it)
        "data.augment=false",  # digits as they are (test_models_round_trip covers augmentation)
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "trainer.devices=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "trainer.num_sanity_val_steps=0",
        "~callbacks.progress_bar",
    ]


def real_mnist_overrides(workdir: Path) -> list[str]:
    """One epoch on the 55,000 real training digits, with the batch augmentation (a one-epoch
    fp32 model without it is erratic on shifted digits); nothing logged."""
    return [
        *fast_overrides(workdir, SHARED_DATA),
        "data.val_size=5000",
        "data.batch_size=64",
        "data.eval_batch_size=1000",
        "logger=none",
        "data.augment=true",
    ]


def compose_train(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)
