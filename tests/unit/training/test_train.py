"""In-process training runs on tiny IDX files: what a run records, and config mistakes."""

import json
import random
import re
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from digit_recognizer.errors import UserError
from digit_recognizer.tracking.naming import make_run_name
from digit_recognizer.training.train import train
from tests.helpers.configs import compose_train, fast_overrides
from tests.helpers.stores import runs_of


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_short_training_records_a_complete_mlflow_run(tiny_mnist: Path, tmp_path: Path) -> None:
    cfg = compose_train([*fast_overrides(tmp_path, tiny_mnist), "trainer.max_epochs=2"])
    best_val_acc = train(cfg)

    client = MlflowClient(cfg.logger.tracking_uri)
    experiment = client.get_experiment_by_name(cfg.logger.experiment_name)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.info.run_name.startswith("SeedCNN-")
    metrics = run.data.metrics
    for key in ("train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc"):
        assert 0.0 <= metrics[key] < 100.0, key
    # One point per epoch, at steps 1 and 2 as learning_curves.png counts epochs; the final
    # scores and the logged model at the last epoch's step; ``epoch`` once per step.
    steps = {key: [m.step for m in client.get_metric_history(run.info.run_id, key)]
             for key in ("val/acc", "lr", "epoch", "test/acc", "val/acc_best")}  # fmt: skip
    assert steps == {
        "val/acc": [1, 2], "lr": [1, 2], "epoch": [1, 2], "test/acc": [2], "val/acc_best": [2]
    }  # fmt: skip
    assert metrics["epoch"] == 2
    # The run's description gives its scores as numbers; the experiment reads as training.
    note = run.data.tags["mlflow.note.content"]
    assert f"{metrics['test/acc']:.2%}" in note and "| learning rate | 0.005 |" in note
    tags = experiment.tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    view = json.loads(tags["mlflow.sharedViewState.digits"])
    assert view["orderByKey"] == "metrics.`val/acc_best`"
    # The chart view opens on parallel coordinates of what a run logs: each axis a param it
    # varied or a score it has.
    (chart,) = view["compareRunCharts"]
    assert chart["type"] == "PARALLEL"
    assert set(chart["selectedParams"]) <= set(run.data.params)
    assert chart["selectedMetrics"] == ["val/acc_best", "test/acc"]
    assert [section["uuid"] for section in view["compareRunSections"]] == [chart["metricSectionId"]]
    assert metrics["val/acc_best"] == pytest.approx(best_val_acc)
    assert len(str(metrics["val/acc_best"])) <= 8  # 0.9924, not 0.99239999...
    assert "lr" in metrics and not any(key.startswith("lr-") for key in metrics)
    assert run.data.params["data.batch_size"] == "32"
    assert run.data.params["model.optimizer.lr"] == "0.005"
    assert run.data.params["model.scheduler"] == "OneCycleLR"
    assert run.data.params["model.optimizer"] == "Adam"
    # Params are what a person varies; plumbing and places stay in config.yaml and the tags.
    plumbing = [
        key
        for key in run.data.params
        if re.search(
            r"_target_|_partial_|_convert_|"
            r"progress_bar|enable_|log_every|filename|registered_model|dirpath|root",
            key,
        )
    ]
    assert plumbing == []
    assert len(run.data.params) < 40
    assert {"model", "net", "data", "seed", "git_commit", "checkpoint_dir"} <= set(run.data.tags)
    assert artifact_paths(client, run.info.run_id) == {
        "config.yaml",
        "plots/learning_curves.png",
        "plots/confusion_matrix.png",
        "plots/mistakes.png",
        "plots/calibration.png",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
    }

    config = client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path))
    assert "max_epochs: 2" in Path(config).read_text()
    local = client.download_artifacts(run.info.run_id, "checkpoints/best.ckpt", str(tmp_path))
    checkpoint = torch.load(local, weights_only=True)  # data only, no pickled code
    assert checkpoint["hyper_parameters"]["net"] == {"name": "SeedCNN", "num_classes": 10}
    assert checkpoint["hyper_parameters"]["temperature"] == pytest.approx(metrics["temperature"])
    assert "state_dict" in checkpoint


def test_training_without_a_logger_still_checkpoints(
    tiny_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digit_recognizer import progress

    monkeypatch.setattr("sys.stderr.isatty", lambda: True)  # as on a terminal
    # fast_overrides turn Lightning's bar off (enable_progress_bar=false, no progress_bar).
    cfg = compose_train([*fast_overrides(tmp_path, tiny_mnist), "logger=none"])
    assert train(cfg) is not None
    assert not progress.shown()  # no bar of ours where Lightning was told to show none
    progress.enable(None)
    assert (tmp_path / "out" / "checkpoints" / "last.ckpt").is_file()
    assert not (tmp_path / "mlruns").exists()


def test_run_names_stay_unique_when_the_seed_is_fixed() -> None:
    random.seed(0)
    first = make_run_name("seed_cnn")
    random.seed(0)
    assert make_run_name("seed_cnn") != first


def test_run_names_say_what_the_command_changed() -> None:
    overrides = ["model.optimizer.lr=3e-3", "data.batch_size=128", "paths.root_dir=/x", "seed=7"]
    assert make_run_name("seed_cnn", overrides).startswith("seed_cnn-lr3e-3-bs128-seed7-")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.optimizer.lr=-1", "model.optimizer.lr=-1: Input should be greater than 0"),
        ("model.optimizer.lr=abc", "model.optimizer.lr='abc'"),
        ("trainer.max_epochs=-5", "trainer.max_epochs=-5"),
        ("trainer.max_epochs=abc", "trainer.max_epochs='abc'"),
        ("trainer.precision=banana", "trainer.precision='banana'"),
        ("seed=abc", "seed='abc'"),
        ("data.num_workers=-3", "data.num_workers=-3"),
        ("data.batch_size=0", "data.batch_size=0"),
        ("data.augment_scale=nan", "data.augment_scale=nan"),
        ("model.net.name=Nope", "Unknown net 'Nope'"),
        ("+model.net.width=20000", "SeedCNN takes no argument 'width'"),
        ("model.scheduler_interval=hourly", "model.scheduler_interval='hourly'"),
        ("+trainer.strategy=ddp_spawn", "ddp_spawn) are not supported"),
    ],
)
def test_bad_config_values_are_refused_before_a_run_exists(
    tiny_mnist: Path, tmp_path: Path, override: str, message: str
) -> None:
    cfg = compose_train([*fast_overrides(tmp_path, tiny_mnist), override])
    with pytest.raises(UserError, match=re.escape(message)):
        train(cfg)
    assert runs_of(tmp_path) == []


def test_run_is_finished_only_after_every_artifact_is_stored(
    tiny_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statuses: list[tuple[str, set[str]]] = []
    original = MlflowClient.set_terminated

    def spy(self: MlflowClient, run_id: str, status: str | None = None, *args, **kwargs) -> None:
        statuses.append((str(status), artifact_paths(self, run_id)))
        original(self, run_id, status, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "set_terminated", spy)
    train(compose_train(fast_overrides(tmp_path, tiny_mnist, log_model=True)))
    # One status change, by the recorder, once the checkpoints and figures are in the store.
    ((status, stored),) = statuses
    assert status == "FINISHED"
    assert {"checkpoints/best.ckpt", "checkpoints/last.ckpt", "plots/mistakes.png"} <= stored


def test_max_steps_ending_before_any_validation_tests_the_final_weights(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    train(compose_train([*fast_overrides(tmp_path, tiny_mnist), "trainer.max_steps=1"]))
    (run,) = runs_of(tmp_path)
    assert run.info.status == "FINISHED" and "test/acc" in run.data.metrics


@pytest.mark.parametrize(
    "mistake",
    [
        ["trainer.limit_train_batches=0.0001"],  # no batch left to train on
        ["trainer.limit_train_batches=3", "trainer.val_check_interval=5"],  # beyond the epoch
    ],
)
def test_a_trainer_setting_that_cannot_start_is_one_sentence_and_a_failed_run(
    tiny_mnist: Path, tmp_path: Path, mistake: list[str]
) -> None:
    cfg = compose_train([*fast_overrides(tmp_path, tiny_mnist), *mistake])
    with pytest.raises(UserError, match="Training could not start") as refused:
        train(cfg)
    assert "\n" not in str(refused.value)
    (run,) = runs_of(tmp_path)
    assert run.info.status == "FAILED" and run.data.tags["failed_reason"]
    assert run.data.params["trainer.max_epochs"] == "1"  # what was asked is on record


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5])
def test_a_one_cycle_of_any_length_trains(tiny_mnist: Path, tmp_path: Path, steps: int) -> None:
    overrides = [*fast_overrides(tmp_path, tiny_mnist), f"trainer.max_steps={steps}"]
    train(compose_train([*overrides, "logger=none", "trainer.limit_val_batches=0"]))
