"""Data-kind plug-ins: everything that depends on the kind of data, chosen by `recipe.kind`.

The engine (sampling time, mess and shift injection, ground truth), calibration and the
grader's baselines are common; a kind supplies only what differs between, say, tickets
(text) and credit applications (a table):

- where clean typed records come from (`sample`),
- which mess kinds exist and in which order they are drawn (`messer`),
- which fields must be present for a record to be scorable (`required`),
- the plain baseline's features (`baseline_spec`, read by harness.baseline),
- how a typed window is monitored (`monitored`: which columns, and derived forms such as
  a date of birth monitored as an age),
- what a number beyond anything in training is (`beyond_training`),
- every spelling its mess writes dates and timestamps in (`spellings`) and the instant the
  dictionary's examples show (`example_time`),
- the candidate-facing wording (`dictionary`).

The plug-ins subclass DataKind; harness.data.kinds finds the one a recipe names.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Literal

import numpy as np
import pandas as pd

from harness.data.features import BaselineSpec
from harness.data.mess import ISO_DATE, ISO_TIMESTAMP, TS_FORMATS, Messer, Mode
from harness.data.recipe import Recipe
from harness.data.sampler import Sample, World

log = logging.getLogger(__name__)

Pool = Literal["train", "heldout"]


@dataclass
class Monitored:
    """A typed window as the reference detector sees it, and how each column is tested."""

    frame: pd.DataFrame
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    missing_only: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Spelling:
    """One way the engine writes a date or timestamp field: its ISO 8601 form, or one the mess uses."""

    field: str
    format: str  # strftime format, or "epoch" (seconds since 1970-01-01 UTC)
    tz: tzinfo = timezone.utc  # the zone a timestamp's wall-clock time is written in (dates: none)
    canonical: bool = False  # the ISO 8601 form every clean record uses


class DataKind:
    """Base plug-in; subclasses override what differs. See the module docstring."""

    name = "base"
    # readings-level shifts (grader.scenario) this kind's sampler draws; any other is refused
    reading_shifts: frozenset[str] = frozenset()
    # What a number inside its valid range but beyond anything in training is for this kind:
    # "clean" (a move in how numbers are distributed is for drift monitoring; no record-level
    # truth) or "unfamiliar" (the kind's sampler marks such readings `beyond_range`). The kind's
    # dictionary says which (harness.data.dictionary.beyond_training_rule), and so does the brief.
    beyond_training: str = "clean"

    def spellings(self, recipe: Recipe) -> list[Spelling]:
        """Every spelling of a date or timestamp the engine writes: the canonical ISO forms, then
        the very lists the messers draw from (timestamp_format on the time field, date_format on
        date fields). The dictionary lists each, with its order of day and month."""
        out = [Spelling(recipe.time_field, ISO_TIMESTAMP, canonical=True)]
        out += [Spelling(recipe.time_field, fmt) for fmt in TS_FORMATS]
        for f in recipe.dates():
            out += [Spelling(f.name, ISO_DATE, canonical=True)] + [Spelling(f.name, fmt) for fmt in f.formats]
        return out

    def example_time(self, recipe: Recipe) -> datetime:
        """The instant every example of the dictionary shows: the recipe's `time.example`, else
        the middle of the training period (UTC, whole seconds)."""
        t = recipe.time.example
        if t is None:
            t = recipe.start + (recipe.end - recipe.start) / 2
        t = t.astimezone(timezone.utc)
        return t - timedelta(microseconds=t.microsecond)

    def sample(self, recipe: Recipe, world: World, n: int, rng: np.random.Generator,
               start: datetime, end: datetime, pool: Pool = "train") -> Sample:
        raise NotImplementedError

    def messer(self, recipe: Recipe, multiplier: float, mode: Mode) -> Messer:
        raise NotImplementedError

    def required(self, recipe: Recipe) -> list[str]:
        return []

    def baseline_spec(self, recipe: Recipe) -> BaselineSpec:
        raise NotImplementedError

    def noisy_labels(self, recipe: Recipe, labels: np.ndarray, flip: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """Training labels with the label noise at rows `flip`: another class, drawn uniformly."""
        wire = labels.copy()
        shift = rng.integers(1, len(recipe.classes), size=len(flip))
        index = {c: k for k, c in enumerate(recipe.classes)}
        for i, s in zip(flip, shift):
            wire[i] = recipe.classes[(index[labels[i]] + s) % len(recipe.classes)]
        return wire

    def monitored(self, recipe: Recipe, frame: pd.DataFrame) -> Monitored:
        """Numeric and categorical fields as they are; identity, time and the label dropped."""
        kinds = {f.name: f.kind for f in recipe.fields}
        keep = [c for c in frame.columns if kinds.get(c) not in ("id", "timestamp") and c != recipe.label]
        return Monitored(
            frame=frame[keep],
            numeric=[f for f, k in kinds.items() if k == "numeric"],
            categorical=[f for f, k in kinds.items() if k == "categorical"],
        )

    def dictionary(self, recipe: Recipe) -> str:
        raise NotImplementedError
