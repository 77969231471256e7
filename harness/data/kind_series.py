"""The series kind (e.g. substation demand): real intervals of a real series, reading-typical mess.

Records are real half-hours drawn by harness.data.series. The mess is the tabular kind's
(missing values, numbers as strings with units and separators, category variants, other
timestamp spellings, out-of-range and unparseable readings, duplicates) plus timestamps in
local time with a zone name (`14/03/2025 20:30 AEST`); records within a batch arrive in
any order (they are drawn by time, then batches are what upstream sends).

The target is a number: a small share of training actuals is wrong (a meter glitch reads
0, or ten times the value). The plain baselines are the seasonal-naive forecast (the
record's own demand one day earlier) and gradient-boosted trees on the raw readings.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from grader.errors import ConfigError
from harness.data.features import BaselineSpec
from harness.data.kind_base import DataKind, Monitored, Pool, Spelling
from harness.data.kind_tabular import TabularMesser
from harness.data.mess import ISO_TIMESTAMP, Messer, Mode
from harness.data.recipe import Recipe
from harness.data.sampler import Sample, World
from harness.data.series import LOCAL, ZONED_FORMATS, sample_series
from harness.data.wording_series import series_dictionary

log = logging.getLogger(__name__)

# local-time spellings with a zone: the source's own time (UTC+10, named as its operator does)


class SeriesMesser(TabularMesser):
    def _timestamp_format(self, rec, inj, touched, u) -> None:
        name = self.recipe.time_field
        if u[2] < 0.5 and name not in touched and isinstance(rec.get(name), str):
            dt = datetime.strptime(rec[name], ISO_TIMESTAMP).replace(tzinfo=timezone.utc)
            rec[name] = dt.astimezone(LOCAL).strftime(ZONED_FORMATS[int(u[1] * len(ZONED_FORMATS))])
            self._add(inj, touched, name, "timestamp_format")
            return
        super()._timestamp_format(rec, inj, touched, u)


class SeriesKind(DataKind):
    name = "series"
    reading_shifts = frozenset({"stuck_value", "sensor_offset", "clock_shift", "profile_change", "extreme_days"})
    # A forecast from readings beyond anything in training is the trees' flat edge, whatever put
    # them there (a hotter day, a sensor, a meter's unit): the brief asks for a fallback on
    # "inputs beyond anything in training", so such a reading is unfamiliar
    # (harness.data.series.beyond_training marks it).
    beyond_training = "unfamiliar"

    def spellings(self, recipe: Recipe) -> list[Spelling]:
        return super().spellings(recipe) + [Spelling(recipe.time_field, fmt, LOCAL) for fmt in ZONED_FORMATS]

    def example_time(self, recipe: Recipe) -> datetime:
        """On the interval grid, as every interval_start is (a declared example off it is a recipe error)."""
        t = super().example_time(recipe)
        assert recipe.series is not None
        step = recipe.series.interval_minutes * 60
        off = int(t.timestamp()) % step
        if off and recipe.time.example is not None:
            raise ConfigError(f"recipe {recipe.name}: time.example {t.isoformat()} is not the start of an interval "
                              f"({recipe.series.interval_minutes} minutes)")
        return t - timedelta(seconds=off)

    def sample(self, recipe: Recipe, world: World, n: int, rng: np.random.Generator,
               start: datetime, end: datetime, pool: Pool = "train") -> Sample:
        return sample_series(recipe, world, n, rng, start, end, pool)

    def messer(self, recipe: Recipe, multiplier: float, mode: Mode) -> Messer:
        return SeriesMesser(recipe, multiplier, mode)

    def required(self, recipe: Recipe) -> list[str]:
        # a forecast needs at least one earlier measurement of the series
        return [f.name for f in recipe.numeric() if f.source and f.source.startswith("lag_")]

    def monitored(self, recipe: Recipe, frame: pd.DataFrame) -> Monitored:
        """As any table, without calendar fields: a working-day share that follows the calendar
        (a long weekend, a holiday week) is no drift."""
        m = super().monitored(recipe, frame)
        calendar = {f.name for f in recipe.categorical() if f.source == "workday"}
        m.frame = m.frame.drop(columns=[c for c in calendar if c in m.frame.columns])
        m.categorical = [c for c in m.categorical if c not in calendar]
        return m

    def noisy_labels(self, recipe: Recipe, labels: np.ndarray, flip: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """Meter glitches in training actuals: a reading of 0 or ten times the value."""
        out = labels.copy()
        glitch = rng.random(len(flip)) < 0.5
        for i, zero in zip(flip, glitch):
            out[i] = 0.0 if zero else round(float(labels[i]) * 10, 1)
        return out

    def baseline_spec(self, recipe: Recipe) -> BaselineSpec:
        lags = self.required(recipe)
        return BaselineSpec(inputs="columns", target=recipe.target, numeric=[f.name for f in recipe.numeric()],
                            categorical=[f.name for f in recipe.categorical()], hour_of=recipe.time_field,
                            seasonal=lags[0])

    def dictionary(self, recipe: Recipe) -> str:
        return series_dictionary(recipe, self)


__all__ = ["SeriesKind", "SeriesMesser"]
