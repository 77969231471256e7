"""Dataset recipes: a declarative generative model of one domain, loaded from TOML.

A recipe lives at datasets/<name>/recipe.toml. Vocabulary that only held-back traffic may
use (e.g. a product launched after training) lives beside it in heldout.toml, so packaging
can leave that file out of anything a candidate sees.
"""
from __future__ import annotations

import logging
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grader.errors import ConfigError, UsageError
from grader.exercise import datasets_dir
from harness.data.recipe_series import SeriesSpec
from harness.data.recipe_tabular import DateField, TableSource

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdField(_Strict):
    name: str
    kind: Literal["id"]
    prefix: str = "r"
    description: str = ""


class TimestampField(_Strict):
    name: str
    kind: Literal["timestamp"]
    description: str = ""


class CategoricalField(_Strict):
    name: str
    kind: Literal["categorical"]
    description: str = ""
    # drawn by the sampler from these weights, or (with `source`) read from the recipe's table
    weights: dict[str, float] = Field(default_factory=dict)
    source: str | None = Field(default=None, description="Column of the source table this field is read from")
    codes: dict[str, str] = Field(default_factory=dict, description="Source value -> documented category")
    undocumented: list[str] = Field(default_factory=list, description="Codes outside the documented set the mess may send")
    # additive change of each probability over the training period (t=0 -> t=1): mild drift
    trend: dict[str, float] = Field(default_factory=dict)
    # per-label weights (same keys as `weights`); rows of that label use these instead
    by_label: dict[str, dict[str, float]] = Field(default_factory=dict)
    optional: bool = True

    @property
    def categories(self) -> list[str]:
        return list(self.weights) if self.weights else list(dict.fromkeys(self.codes.values()))

    @model_validator(mode="after")
    def _keys(self) -> "CategoricalField":
        if not self.weights and not (self.source and self.codes):
            raise ValueError(f"{self.name}: give weights, or a source column and its codes")
        for label, w in self.by_label.items():
            extra = set(w) - set(self.weights)
            if extra:
                raise ValueError(f"{self.name}.by_label.{label}: unknown categories {sorted(extra)}")
        extra = set(self.trend) - set(self.weights)
        if extra:
            raise ValueError(f"{self.name}.trend: unknown categories {sorted(extra)}")
        return self


class NumericField(_Strict):
    name: str
    kind: Literal["numeric"]
    description: str = ""
    dtype: Literal["int", "float"] = "float"
    decimals: int = 2
    unit: str = ""
    dist: Literal["lognormal", "normal", "poisson", "negbin", "uniform"] | None = None
    params: dict[str, float] = Field(default_factory=dict)
    # table recipes: read from a source column (jittered), or `times` another field (value = that field x dist)
    source: str | None = None
    jitter: float = Field(default=0.0, ge=0, description="Relative (lognormal sigma) jitter on source values")
    times: str | None = Field(default=None, description="Draw this field as another field's value times `dist`")
    by_label: dict[str, dict[str, float]] = Field(default_factory=dict)
    zero_share: float = Field(default=0.0, ge=0, le=1)
    valid: tuple[float, float] = Field(description="Valid range: outside it a record is invalid")
    clip: tuple[float, float] | None = Field(default=None, description="Range clean values are drawn in")
    # formats for the numeric_string mess, Python str.format with `v` (e.g. "${v:,.2f}")
    string_formats: list[str] = Field(default_factory=lambda: ["{v}"])
    # out-of-range values the mess may write
    out_of_range: list[float] = Field(default_factory=list)
    # the monthly_amount mess: this (annual) amount sent per month, marked as such ("4,300/month")
    period_formats: list[str] = Field(default_factory=list)
    period_factor: float = 1 / 12
    optional: bool = True

    @model_validator(mode="after")
    def _drawn_somehow(self) -> "NumericField":
        if self.source is None and self.dist is None:
            raise ValueError(f"{self.name}: give a dist, or a source column")
        return self

    def clean_range(self) -> tuple[float, float]:
        lo, hi = self.clip or self.valid
        return max(lo, self.valid[0]), min(hi, self.valid[1])


class TextField(_Strict):
    name: str
    kind: Literal["text"]
    description: str = ""
    part: Literal["subject", "body"] = Field(description="Which part of the generated text it carries")


AnyField = Annotated[
    Union[IdField, TimestampField, CategoricalField, NumericField, TextField, DateField], Field(discriminator="kind")
]


class TimeSpec(_Strict):
    start: datetime
    end: datetime
    training_records: int = Field(gt=0)
    records_per_day: float = Field(gt=0, description="Pace of scenario traffic")
    # one instant for every example of the data dictionary (the ISO form and each other spelling),
    # so its examples agree with each other and with the briefs that quote them
    example: datetime | None = Field(default=None, description="Instant the data dictionary's examples show "
                                     "(inside the training period; default: its middle)")

    @model_validator(mode="after")
    def _example_in_period(self) -> "TimeSpec":
        if self.example is None:
            return self
        if (self.example.tzinfo is None) != (self.start.tzinfo is None):
            raise ValueError("time.example and time.start must both carry a UTC offset, or neither")
        if not self.start <= self.example < self.end:
            raise ValueError(f"time.example {self.example} lies outside the training period")
        return self


class TextVocab(BaseModel):
    """Phrases for one label, category or language. Slots like {item} are filled from the category."""

    model_config = ConfigDict(extra="allow")
    subject: list[str] = Field(default_factory=list)
    body: list[str] = Field(default_factory=list)


class CategoryVocab(_Strict):
    item: list[str] = Field(min_length=1)
    detail: list[str] = Field(default_factory=list)
    labels: dict[str, TextVocab] = Field(default_factory=dict)
    specific_share: float = Field(default=0.3, ge=0, le=1, description="Share of texts using this category's own label phrases")
    label_weights: dict[str, float] = Field(default_factory=dict, description="P(label) for a new category")


class LanguageVocab(_Strict):
    greeting: list[str] = Field(default_factory=lambda: [""])
    closing: list[str] = Field(default_factory=lambda: [""])
    labels: dict[str, TextVocab] = Field(default_factory=dict)
    native_share: float = Field(default=0.0, ge=0, le=1, description="Share of texts using this language's label phrases")


class TextSpec(_Strict):
    vocab_by: str = Field(description="Categorical field whose value picks the category vocabulary")
    language_by: str | None = None
    required_any: list[str] = Field(description="Text fields of which at least one must be non-blank")
    confusion: float = Field(default=0.1, ge=0, le=1, description="Share of texts phrased like another label")
    confusable: dict[str, list[str]] = Field(default_factory=dict)
    sentences: tuple[int, int] = (1, 2)
    fillers: list[str] = Field(default_factory=list)
    labels: dict[str, TextVocab]
    categories: dict[str, CategoryVocab]
    languages: dict[str, LanguageVocab] = Field(default_factory=dict)


class MessSpec(_Strict):
    """Per-record rates at mess multiplier 1. Set a rate to 0 to switch a kind off."""

    missing: float = 0.04
    numeric_string: float = 0.05
    category_variant: float = 0.04
    timestamp_format: float = 0.025
    html: float = 0.02
    mojibake: float = 0.015
    extra_field: float = 0.015  # wire JSON only: CSV has fixed columns
    subject_blank: float = 0.005
    duplicate: float = 0.01
    out_of_range: float = 0.012
    unparseable: float = 0.008
    text_blank: float = 0.008
    text_type: float = 0.006
    # tabular kinds (the text kind never draws them, so text recipes keep their bytes)
    date_format: float = 0.03
    undocumented_code: float = 0.012
    monthly_amount: float = 0.02
    label_noise: float = 0.03  # training labels only
    extra_fields: dict[str, list[str]] = Field(default_factory=lambda: {"source": ["api"]})
    unparseable_values: list[str] = Field(default_factory=lambda: ["lots", "unknown!", "#VALUE!"])


class Recipe(_Strict):
    name: str
    description: str = ""
    kind: Literal["text", "tabular", "series"] = Field(default="text", description="Data-kind plug-in (harness.data.kinds)")
    source: TableSource | None = None
    series: SeriesSpec | None = None
    label: str
    classes: list[str] = Field(default_factory=list)
    label_prior: dict[str, float] = Field(default_factory=dict)
    time: TimeSpec
    fields: list[AnyField]
    text: TextSpec | None = None
    mess: MessSpec = Field(default_factory=MessSpec)
    heldout_categories: dict[str, CategoryVocab] = Field(default_factory=dict, description="From heldout.toml")
    root: Path = Field(default=Path("."), exclude=True)

    @property
    def target(self) -> Literal["classification", "regression"]:
        """The target kind, read from the label: classes make it classification, none a numeric label.

        exercise.toml declares the target; calibration checks that the dataset's label agrees."""
        return "classification" if self.classes else "regression"

    @model_validator(mode="after")
    def _consistent(self) -> "Recipe":
        if len(self.classes) == 1:
            raise ValueError("a classification recipe needs at least two classes (no classes: a numeric label)")
        if set(self.label_prior) != set(self.classes):
            raise ValueError("label_prior must name every class exactly")
        kinds = [f.kind for f in self.fields]
        if kinds.count("id") != 1 or kinds.count("timestamp") != 1:
            raise ValueError("a recipe needs exactly one id field and one timestamp field")
        if next(f.name for f in self.fields if f.kind == "id") != "id":
            # replay and scoring join results and labels on `id`: the wire id is always `id`
            raise ValueError("the id field must be named 'id' (the wire id is always `id`)")
        sourced = [f.name for f in self.fields if getattr(f, "source", None) or isinstance(f, DateField)]
        if sourced and self.source is None and self.series is None:
            raise ValueError(f"fields {sourced} read a source table but the recipe has no [source]")
        if self.source is not None and bool(self.classes) != bool(self.source.label_codes):
            raise ValueError("a table's classes come from source.label_codes; a numeric target has neither")
        if self.kind == "tabular" and self.text is not None:
            raise ValueError("a tabular recipe has no [text] spec")
        if self.kind == "text" and self.source is not None:
            raise ValueError("a text recipe has no [source] table")
        if (self.kind == "series") != (self.series is not None):
            raise ValueError("a series recipe needs a [series] spec, and only a series recipe has one")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names) or self.label in names:
            raise ValueError("field names must be unique and differ from the label")
        for f in self.fields:
            if isinstance(f, (CategoricalField, NumericField)):
                bad = set(f.by_label) - set(self.classes)
                if bad:
                    raise ValueError(f"{f.name}.by_label: unknown labels {sorted(bad)}")
        if self.text is not None:
            if self.text.vocab_by not in names:
                raise ValueError(f"text.vocab_by names no field: {self.text.vocab_by}")
            missing = set(self.classes) - set(self.text.labels)
            if missing:
                raise ValueError(f"text.labels lacks {sorted(missing)}")
            if not self.text_fields():
                raise ValueError("text spec given but no text fields")
        return self

    # --- lookups -------------------------------------------------------------------
    def field(self, name: str) -> AnyField:
        for f in self.fields:
            if f.name == name:
                return f
        raise ConfigError(f"recipe {self.name}: no field {name!r}")

    @property
    def id_field(self) -> str:
        return next(f.name for f in self.fields if f.kind == "id")

    @property
    def time_field(self) -> str:
        return next(f.name for f in self.fields if f.kind == "timestamp")

    def of_kind(self, kind: str) -> list[AnyField]:
        return [f for f in self.fields if f.kind == kind]

    def text_fields(self) -> list[TextField]:
        return [f for f in self.fields if isinstance(f, TextField)]

    def categorical(self) -> list[CategoricalField]:
        return [f for f in self.fields if isinstance(f, CategoricalField)]

    def numeric(self) -> list[NumericField]:
        return [f for f in self.fields if isinstance(f, NumericField)]

    def dates(self) -> list[DateField]:
        return [f for f in self.fields if isinstance(f, DateField)]

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def columns(self) -> list[str]:
        """train.csv columns: every field, then the label."""
        return self.field_names + [self.label]

    @property
    def start(self) -> datetime:
        return self.time.start.astimezone(timezone.utc)

    @property
    def end(self) -> datetime:
        return self.time.end.astimezone(timezone.utc)


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def load_recipe(dataset: str, root: Path | None = None) -> Recipe:
    """Load datasets/<dataset>/recipe.toml (+ heldout.toml when present) and validate it."""
    folder = datasets_dir(root) / dataset
    path = folder / "recipe.toml"
    if not path.is_file():
        base = datasets_dir(root)
        known = sorted(p.name for p in base.iterdir() if (p / "recipe.toml").is_file()) if base.is_dir() else []
        raise UsageError(f"unknown dataset {dataset!r} (known: {', '.join(known) or 'none'})")
    raw = _read_toml(path)
    held = folder / "heldout.toml"
    if held.is_file():
        raw["heldout_categories"] = _read_toml(held).get("categories", {})
    try:
        return Recipe.model_validate({**raw, "root": folder})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
