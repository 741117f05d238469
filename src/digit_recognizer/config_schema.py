"""The one typed schema of a composed training config, checked before anything is built.

Hydra composes; this module says whether what it composed makes sense (types, ranges,
choices), so a typo ends in one sentence before an MLflow run exists. Keys it does not name
(``_target_``, extra Trainer or optimizer arguments) pass through to their classes.
"""

import math
from typing import Annotated, Any, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from digit_recognizer.errors import UserError
from digit_recognizer.nets import check_net_spec
from digit_recognizer.normalize import NUM_CLASSES, OUTPUT_COUNTS
from digit_recognizer.styles import STYLES
from digit_recognizer.tracking import SELECT_BY

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
PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class Section(BaseModel):
    # strict: "abc" or "3" for a number is a mistake, not something to coerce.
    model_config = ConfigDict(extra="allow", strict=True)

    @field_validator("*")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class DataConfig(Section):
    root: str
    batch_size: PositiveInt
    eval_batch_size: PositiveInt
    val_size: PositiveInt
    split_seed: int
    download: bool
    mirrors: list[str] | None = None
    verify_md5: bool
    num_workers: Annotated[int, Field(ge=0, le=256)]
    pin_memory: bool
    keep_on_device: bool
    augment: bool
    augment_degrees: Annotated[float, Field(ge=0.0, le=180.0)]
    augment_translate: Fraction
    augment_scale: Annotated[float, Field(ge=0.0, lt=1.0)]
    robust_size: Annotated[int, Field(ge=0, le=60_000)] = 500
    robust_styles: list[Literal[tuple(STYLES)]] | None = None  # type: ignore[valid-type]
    style_share: Fraction = 0.0
    style_pool: Annotated[int, Field(ge=1, le=1_000_000)] = 20_000
    not_digit_share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    not_digit_pool: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    cut_share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    cut_pool: Annotated[int, Field(ge=1, le=1_000_000)] = 20_000
    cut_pairs: bool = False


class OptimizerConfig(Section):
    lr: Annotated[float, Field(gt=0.0, le=10.0)]
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0


class ModelConfig(Section):
    net: dict[str, Any]
    optimizer: OptimizerConfig
    scheduler: dict[str, Any] | None = None
    scheduler_interval: Literal["epoch", "step"] = "epoch"
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    input_mean: float = 0.1307
    input_std: Annotated[float, Field(gt=0.0)] = 0.3081
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


RunId = Annotated[
    str, BeforeValidator(lambda value: str(value) if isinstance(value, int) else value)
]


# An MLflow metric name (letters, digits, _ - . / and spaces), as select_by= names one.
MetricName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-/ ]{1,250}$")]


class ModelChoice(Section):
    ckpt: str | None = None
    run_id: RunId | None = None
    select_by: MetricName = SELECT_BY
    logger: dict[str, Any] | None = None


class Reading(Section):
    mode: Literal["auto", "digit", "number"] = "auto"
    min_confidence: Fraction | None = None


class PredictConfig(ModelChoice, Reading):
    img: list[str] | str
    format: Literal["text", "json"]
    save_preview: bool
    preview_dir: str
    batch_size: Annotated[int, Field(ge=1, le=100_000)]

    @field_validator("img")
    @classmethod
    def _some_image(cls, value: list[str] | str) -> list[str] | str:
        empty = not value or value == "???"  # ??? : Hydra's "not given"
        if empty or (isinstance(value, list) and not all(str(v).strip() for v in value)):
            raise ValueError("name the image(s) to read: a file, a folder or a glob")
        return value


class EvalConfig(ModelChoice):
    batch_size: Annotated[int, Field(ge=1, le=100_000)]
    uploads: Annotated[int, Field(ge=0, le=10_000)]
    data: DataConfig


class ServeConfig(ModelChoice, Reading):
    host: str
    port: Annotated[int, Field(ge=0, le=65_535)]
    max_upload_mb: Annotated[float, Field(gt=0, le=1024)]
    hosts: list[str]
    workers: Annotated[int, Field(ge=1, le=64)] | None = None
    threads: Annotated[int, Field(ge=1, le=64)]
    queue: Annotated[int, Field(ge=0, le=10_000)]
    max_connections: Annotated[int, Field(ge=1, le=100_000)]
    head_timeout_s: Annotated[float, Field(gt=0, le=3600)]
    body_timeout_s: Annotated[float, Field(gt=0, le=3600)]
    time_budget_s: Annotated[float, Field(gt=0, le=3600)]


class RegisterConfig(Section):
    run_id: RunId | None = None
    select_by: MetricName = SELECT_BY
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$")]
    logger: dict[str, Any] | None = None
    data: DataConfig


class CompareConfig(Section):
    top: Annotated[int, Field(ge=1, le=10_000)]
    filter: str
    sort: Annotated[str, Field(min_length=1)]
    status: Literal["active", "all"]
    ui_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]


def check_train_config(cfg: DictConfig) -> None:
    """Refuse a composed training config that cannot run, with one sentence naming the key."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except Exception as err:  # an interpolation that cannot resolve, a ??? left unset
        raise UserError(f"The config cannot be resolved: {_first_line(err)}") from None
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


def check_options(schema: type[BaseModel], cfg: DictConfig) -> None:
    """Refuse a script's options that do not fit ``schema``, naming the key. ``paths`` is left
    out: its output folder exists only inside a Hydra run."""
    try:
        values = {
            key: OmegaConf.to_container(cfg[key], resolve=True)
            if OmegaConf.is_config(cfg[key])
            else cfg[key]
            for key in cfg
            if key != "paths" and not OmegaConf.is_missing(cfg, key)
        }
    except Exception as err:
        raise UserError(f"The options cannot be resolved: {_first_line(err)}") from None
    validate(schema, {"img": "???", **values} if schema is PredictConfig else values)


def validate(schema: type[BaseModel], values: Any) -> BaseModel:
    """``values`` checked against ``schema``; a ``UserError`` naming the first bad key."""
    try:
        return schema.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"] if not _is_union_branch(part))
        given = first.get("input")
        message = first["msg"].removeprefix("Value error, ")
        shown = f"={given!r}" if not isinstance(given, dict) else ""
        raise UserError(f"Bad config value {key}{shown}: {message}.") from None


def _is_union_branch(part: Any) -> bool:
    # pydantic names the tried member of a union in the location (int, constrained-float, ...)
    text = str(part)
    return text in {"int", "float", "str", "bool", "list[int]", "none"} or text.startswith(
        ("constrained-", "literal[", "function-")
    )


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
