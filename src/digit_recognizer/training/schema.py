"""The typed schema of a composed training config, checked before anything is built.

Hydra composes; this module says whether what it composed makes sense (types, ranges,
choices), so a typo ends in one sentence before an MLflow run exists. Keys it does not name
(``_target_``, extra Trainer or optimizer arguments) pass through to their classes.
"""

from typing import Annotated, Any, Literal

from omegaconf import DictConfig
from pydantic import Field, field_validator

from digit_recognizer.config import Fraction, PositiveInt, Section, resolved, validate
from digit_recognizer.data.settings import DataConfig
from digit_recognizer.errors import UserError
from digit_recognizer.labels import NUM_CLASSES, OUTPUT_COUNTS
from digit_recognizer.model.nets import check_net_spec
from digit_recognizer.model.probabilities import MNIST_MEAN, MNIST_STD

PRECISIONS = (
    "auto",
    "32-true",
    "32",
    "bf16-mixed",
    "bf16-true",
    "16-mixed",
    "16-true",
    "64-true",
    "64",
    "transformer-engine",
)


class OptimizerConfig(Section):
    lr: Annotated[float, Field(gt=0.0, le=10.0)]
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0


class ModelConfig(Section):
    net: dict[str, Any]
    optimizer: OptimizerConfig
    scheduler: dict[str, Any] | None = None
    scheduler_interval: Literal["epoch", "step"] = "epoch"
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    input_mean: float = MNIST_MEAN
    input_std: Annotated[float, Field(gt=0.0)] = MNIST_STD
    channels_last: bool = False

    @field_validator("net")
    @classmethod
    def _known_net(cls, spec: dict[str, Any]) -> dict[str, Any]:
        try:
            return check_net_spec(spec)
        except UserError as err:
            raise ValueError(str(err)) from None


class TrainerConfig(Section):
    max_epochs: Annotated[int, Field(ge=1, le=100_000)]
    max_steps: Annotated[int, Field(ge=-1)] = -1
    precision: Literal[PRECISIONS] | Literal[16, 32, 64]  # type: ignore[valid-type]
    accelerator: str
    devices: int | str | list[int]
    num_nodes: PositiveInt = 1
    deterministic: bool | Literal["warn"] = False
    log_every_n_steps: PositiveInt = 50
    enable_model_summary: bool = True
    enable_progress_bar: bool = True
    num_sanity_val_steps: Annotated[int, Field(ge=-1)] = 2
    limit_train_batches: Annotated[int, Field(ge=1)] | Fraction | None = None
    limit_val_batches: Annotated[int, Field(ge=0)] | Fraction | None = None
    limit_test_batches: Annotated[int, Field(ge=1)] | Fraction | None = None
    accumulate_grad_batches: PositiveInt = 1
    gradient_clip_val: Annotated[float, Field(ge=0.0)] | None = None
    val_check_interval: Annotated[int, Field(ge=1)] | Fraction | None = None
    sync_batchnorm: bool = False


class TrainConfig(Section):
    seed: Annotated[int, Field(ge=0, lt=2**32)] | None
    ckpt_path: str | None = None
    resume_run: str | None = None
    log_model: bool = True
    register_model: bool = False
    registered_model_name: str | None = None
    data: DataConfig
    model: ModelConfig
    trainer: TrainerConfig
    logger: dict[str, Any] | None = None
    callbacks: dict[str, Any]


def check_train_config(cfg: DictConfig) -> None:
    """Refuse a composed training config that cannot run, with one sentence naming the key."""
    container = resolved(cfg)
    validate(TrainConfig, container)
    classes = container["model"]["net"].get("num_classes", NUM_CLASSES)
    if classes not in OUTPUT_COUNTS:
        raise UserError(
            f"model.net.num_classes={classes!r}: a digit recognizer has 10 outputs, 11 with "
            "'not a digit', or 111 with touching pairs too."
        )
    data = container["data"]
    for key in ("not_digit_share", "cut_share"):
        if data.get(key, 0) > 0 and classes == NUM_CLASSES:
            raise UserError(
                f"data.{key} needs an 11th output for 'not a digit': add "
                "model.net.num_classes=11 (or use experiment=outlier)."
            )
    pairs_taught = data.get("cut_pairs", False) and data.get("cut_share", 0) > 0
    if pairs_taught != (classes == OUTPUT_COUNTS[-1]):
        raise UserError(
            f"model.net.num_classes={classes} and data.cut_pairs={str(data.get('cut_pairs', False)).lower()} "
            f"with data.cut_share={data.get('cut_share', 0)}: outputs for touching pairs "
            f"(num_classes={OUTPUT_COUNTS[-1]}) are learnt from cut pairs (cut_pairs=true, "
            "cut_share above 0), and cut pairs need them (or use experiment=reader)."
        )
