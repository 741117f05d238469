"""Every config group option composes and builds (Hydra compose API, no training)."""

import re
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from digit_recognizer.training.train import build, build_trainer
from tests.helpers.configs import compose_train, fast_overrides
from tests.helpers.paths import CONFIG_DIR


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (Path(CONFIG_DIR) / group).glob("*.yaml"))


@pytest.mark.parametrize("model", options("model"))
def test_model_configs_build(model: str, tmp_path: Path) -> None:
    cfg = compose_train([*fast_overrides(tmp_path, tmp_path), f"model={model}"])
    module = build(cfg.model, "model")
    outputs = cfg.model.net.get("num_classes", 10)
    assert module(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).shape == (2, outputs)
    # Saved hyperparameters must be plain Python types so checkpoints load with weights_only=True.
    assert all(type(value) in (dict, str, int, float, bool) for value in module.hparams.values())


@pytest.mark.parametrize("trainer", options("trainer"))
def test_trainer_configs_build(trainer: str, tmp_path: Path) -> None:
    if trainer == "gpu":
        pytest.skip("needs a GPU")
    cfg = compose_train([*fast_overrides(tmp_path, tmp_path), f"trainer={trainer}"])
    trainer_ = build_trainer(cfg.trainer, logger=False)
    assert trainer_.max_epochs == cfg.trainer.max_epochs
    assert trainer_.num_devices == cfg.trainer.devices


@pytest.mark.parametrize("callbacks", options("callbacks"))
def test_callback_configs_build(callbacks: str, tmp_path: Path) -> None:
    base = [o for o in fast_overrides(tmp_path, tmp_path) if "progress_bar" not in o]
    cfg = compose_train([*base, f"callbacks={callbacks}"])
    built = [build(node, name) for name, node in cfg.callbacks.items() if node]
    assert built and "model_checkpoint" in cfg.callbacks


def test_data_config_builds(tmp_path: Path) -> None:
    cfg = compose_train([*fast_overrides(tmp_path, tmp_path), "data.batch_size=17"])
    data = build(cfg.data, "data")
    assert (data.batch_size, data.val_size, data.root) == (17, cfg.data.val_size, tmp_path)


@pytest.mark.parametrize("logger", options("logger"))
def test_logger_configs_compose(logger: str, tmp_path: Path) -> None:
    cfg = compose_train([*fast_overrides(tmp_path, tmp_path), f"logger={logger}"])
    if logger == "none":
        assert not cfg.logger
    else:
        assert cfg.logger.tracking_uri == f"sqlite:///{tmp_path}/mlruns/mlflow.db"


def test_every_hyperparameter_is_a_command_line_override(tmp_path: Path) -> None:
    cfg = compose_train(
        [
            *fast_overrides(tmp_path, tmp_path),
            "data.batch_size=128",
            "model.optimizer.lr=3e-3",
            "trainer.max_epochs=3",
            "seed=7",
            "model.optimizer._target_=torch.optim.SGD",
            "+model.optimizer.momentum=0.9",
        ]
    )
    assert (cfg.data.batch_size, cfg.model.optimizer.lr, cfg.trainer.max_epochs, cfg.seed) == (
        128,
        3e-3,
        3,
        7,
    )
    module = build(cfg.model, "model")
    optimizer = module.optimizer_factory(module.parameters())
    assert type(optimizer).__name__ == "SGD" and optimizer.defaults["momentum"] == 0.9


def test_misspelt_key_gets_hydras_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigCompositionException, match="batch_sise"):
        compose_train([*fast_overrides(tmp_path, tmp_path), "data.batch_sise=3"])


def test_resolved_config_has_no_missing_values(tmp_path: Path) -> None:
    cfg = compose_train(fast_overrides(tmp_path, tmp_path))
    assert OmegaConf.missing_keys(cfg) == set()


@pytest.mark.parametrize("experiment", options("experiment"))
@pytest.mark.parametrize("logger", options("logger"))
def test_experiment_configs_compose_with_every_logger(
    experiment: str, logger: str, tmp_path: Path
) -> None:
    cfg = compose_train(
        [*fast_overrides(tmp_path, tmp_path), f"experiment={experiment}", f"logger={logger}"]
    )
    module, data = build(cfg.model, "model"), build(cfg.data, "data")
    assert module.hparams.net == OmegaConf.to_container(cfg.model.net, resolve=True)
    assert (data.batch_size, data.augment) == (cfg.data.batch_size, cfg.data.augment)
    assert (not cfg.logger) if logger == "none" else cfg.logger.tracking_uri


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["experiment=outlier", "data.cut_pairs=true"], "num_classes=11 and data.cut_pairs=true"),
        (["model.net.num_classes=111"], "num_classes=111 and data.cut_pairs=false"),
        (["experiment=reader", "data.cut_share=0"], "data.cut_share=0"),
        (["model.net.num_classes=12"], "num_classes=12: a digit recognizer has 10 outputs"),
    ],
)
def test_pair_outputs_and_cut_pairs_come_together(
    overrides: list[str], named: str, tmp_path: Path
) -> None:
    from digit_recognizer.errors import UserError
    from digit_recognizer.training.schema import check_train_config

    with pytest.raises(UserError, match=re.escape(named)):
        check_train_config(compose_train([*fast_overrides(tmp_path, tmp_path), *overrides]))
    check_train_config(compose_train([*fast_overrides(tmp_path, tmp_path), "experiment=reader"]))


@pytest.mark.parametrize(
    ("experiment", "augmented"),
    [(None, True), ("best", True), ("robust", True), ("outlier", False), ("reader", True)],
)
def test_each_recipe_augments_its_batches_as_it_was_measured(
    experiment: str | None, augmented: bool
) -> None:
    cfg = compose_train([f"experiment={experiment}"] if experiment else [])
    assert cfg.data.augment is augmented
