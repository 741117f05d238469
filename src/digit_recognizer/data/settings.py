"""The settings of the data a model learns from (the ``data`` config group), checked in one
place for the training config, the scripts and the DataModule alike."""

from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from digit_recognizer.config import Fraction, PositiveInt, Section


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
    robust_styles: list[str] | None = None
    style_share: Fraction = 0.0
    style_pool: Annotated[int, Field(ge=1, le=1_000_000)] = 20_000
    not_digit_share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    not_digit_pool: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    cut_share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    cut_pool: Annotated[int, Field(ge=1, le=1_000_000)] = 20_000
    cut_pairs: bool = False

    @field_validator("robust_styles")
    @classmethod
    def _known_styles(cls, styles: list[str] | None) -> list[str] | None:
        # Imported here: the drawing code (SciPy) is not needed to read a config.
        from digit_recognizer.synthetic.styles import STYLES

        unknown = [name for name in styles or [] if name not in STYLES]
        if unknown:
            raise ValueError(f"unknown style {unknown[0]!r}; the styles are {', '.join(STYLES)}")
        return styles

    @model_validator(mode="after")
    def _shares_fit(self) -> Self:
        shares = self.style_share + self.not_digit_share + self.cut_share
        if shares > 1.0:
            raise ValueError(
                f"style_share + not_digit_share + cut_share is {round(shares, 6)}; at most 1 of "
                "each batch can be swapped"
            )
        return self
