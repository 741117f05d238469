"""What every config schema shares: strict sections (no "3" for a number, no NaN) and one
sentence naming the first bad key. The schemas themselves live with their users:
``training.schema`` for a training run, ``cli.options`` for the other scripts.
"""

import math
from typing import Annotated, Any

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from digit_recognizer.errors import UserError

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


def resolved(cfg: DictConfig, what: str = "config") -> Any:
    """``cfg`` as plain containers, every interpolation resolved; one sentence if one cannot be."""
    try:
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except Exception as err:  # an interpolation that cannot resolve, a ??? left unset
        raise UserError(f"The {what} cannot be resolved: {first_line(err)}") from None


def validate(schema: type[BaseModel], values: Any, within: str = "") -> BaseModel:
    """``values`` checked against ``schema``; a ``UserError`` naming the first bad key (under
    ``within``, such as ``data``)."""
    try:
        return schema.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        parts = [within] if within else []
        parts += [str(part) for part in first["loc"] if not _is_union_branch(part)]
        key = ".".join(parts)
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


def first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
