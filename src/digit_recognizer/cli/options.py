"""The options of predict, eval, serve, register and compare: one schema each, checked
before any work so that a bad value is one sentence naming the key."""

from typing import Annotated, Any, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, BeforeValidator, Field, field_validator

from digit_recognizer.config import Fraction, Section, first_line, validate
from digit_recognizer.data.settings import DataConfig
from digit_recognizer.errors import UserError
from digit_recognizer.reading.modes import MODES
from digit_recognizer.tracking.selection import SELECT_BY

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


class ReadingOptions(Section):
    mode: Literal[MODES] = "auto"  # type: ignore[valid-type]
    min_confidence: Fraction | None = None


class PredictConfig(ModelChoice, ReadingOptions):
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
    other_writers: bool = True
    data: DataConfig


class ServeConfig(ModelChoice, ReadingOptions):
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
    bodies_budget_mb: Annotated[float, Field(gt=0, le=65_536)]
    min_body_kb_per_s: Annotated[float, Field(ge=0.001, le=1_000_000)]


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


def checked_options(schema: type[BaseModel], cfg: DictConfig) -> None:
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
        raise UserError(f"The options cannot be resolved: {first_line(err)}") from None
    validate(schema, {"img": "???", **values} if schema is PredictConfig else values)
