"""The tabular kind (e.g. credit applications): real rows from a source table, table-typical mess.

Records are resampled from the recipe's [source] table (harness.data.table). Beyond the
common mess (missing values, numbers as strings with currency and separators, category
variants, timestamp formats, out-of-range values, unparseable numbers, duplicates), it adds:

- `date_format`: a date sent in another spelling (`30/06/1987`, `June 30, 1987`) — recoverable;
- `undocumented_code`: a code outside the documented set (UCI's EDUCATION 0/5/6) — recoverable
  (the field is then as good as missing);
- `monthly_amount`: an annual amount sent per month and marked so (`"4,300/month"`) — recoverable;
- out-of-range dates: a date of birth giving an impossible age (in the future, 240 years ago).

The plain baseline is one-hot + standardised numerics + logistic regression; a date of birth
is monitored as the applicant's age at the record's timestamp.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from harness.data.features import BaselineSpec
from harness.data.kind_base import DataKind, Monitored, Pool
from harness.data.mess import ISO_DATE, ISO_TIMESTAMP, Messer, Mode, out_of_range_value
from harness.data.recipe import DateField, NumericField, Recipe
from harness.data.sampler import Sample, World
from harness.data.table import age_at, sample_table
from harness.data.wording_tabular import tabular_dictionary

log = logging.getLogger(__name__)

# draw order of the tabular mess kinds (changing it changes the kind's bytes)
TABULAR_MESS_KINDS: tuple[str, ...] = (
    "missing", "numeric_string", "category_variant", "timestamp_format", "extra_field",
    "out_of_range", "unparseable", "date_format", "undocumented_code", "monthly_amount")
_DAYS_PER_YEAR = 365.2425


class TabularMesser(Messer):
    def __init__(self, recipe: Recipe, multiplier: float, mode: Mode) -> None:
        super().__init__(recipe, recipe.mess, multiplier, mode, TABULAR_MESS_KINDS)
        self.dates = recipe.dates()
        self.optional = self.optional + [f.name for f in self.dates]

    def _record_day(self, rec: dict) -> datetime:
        ts = rec.get(self.recipe.time_field)
        try:
            return datetime.strptime(ts, ISO_TIMESTAMP)  # type: ignore[arg-type]
        except (TypeError, ValueError):  # already re-spelt by timestamp_format: the period's end is close enough
            return self.recipe.end.replace(tzinfo=None)

    def _out_of_range(self, rec, inj, touched, u) -> None:
        # impossible ages are out-of-range dates of birth; numbers as in the common kind
        options = [f.name for f in self.numeric] + [f.name for f in self.dates]
        name = self._choose(options, rec, touched, u)
        if not name:
            return
        f = self.recipe.field(name)
        if isinstance(f, DateField):
            age = f.out_of_range_ages[int(u[1] * len(f.out_of_range_ages))]
            born = self._record_day(rec) - timedelta(days=int(age * _DAYS_PER_YEAR) + int(u[2] * 200))
            rec[name] = born.strftime(ISO_DATE)
            self._add(inj, touched, name, "out_of_range")
        else:
            rec[name] = out_of_range_value(f, u[1])  # type: ignore[arg-type]
            self._add(inj, touched, name, "out_of_range")

    def _date_format(self, rec, inj, touched, u) -> None:
        name = self._choose([f.name for f in self.dates], rec, touched, u)
        if not name or not isinstance(rec[name], str):
            return
        f = self.recipe.field(name)
        day = datetime.strptime(rec[name], ISO_DATE)
        rec[name] = day.strftime(f.formats[int(u[1] * len(f.formats))])  # type: ignore[union-attr]
        self._add(inj, touched, name, "date_format")

    def _undocumented_code(self, rec, inj, touched, u) -> None:
        name = self._choose([f.name for f in self.categorical if f.undocumented], rec, touched, u)
        if name:
            codes = self.recipe.field(name).undocumented  # type: ignore[union-attr]
            rec[name] = codes[int(u[1] * len(codes))]
            self._add(inj, touched, name, "undocumented_code")

    def _monthly_amount(self, rec, inj, touched, u) -> None:
        name = self._choose([f.name for f in self.numeric if f.period_formats], rec, touched, u)
        if name and isinstance(rec[name], (int, float)):
            f: NumericField = self.recipe.field(name)  # type: ignore[assignment]
            v = round(float(rec[name]) * f.period_factor)
            rec[name] = f.period_formats[int(u[1] * len(f.period_formats))].format(v=v)
            self._add(inj, touched, name, "monthly_amount")


class TabularKind(DataKind):
    name = "tabular"

    def sample(self, recipe: Recipe, world: World, n: int, rng: np.random.Generator,
               start: datetime, end: datetime, pool: Pool = "train") -> Sample:
        return sample_table(recipe, world, n, rng, start, end, pool)

    def messer(self, recipe: Recipe, multiplier: float, mode: Mode) -> Messer:
        return TabularMesser(recipe, multiplier, mode)

    def noisy_labels(self, recipe: Recipe, labels: np.ndarray, flip: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """A class label flips to another class; a number is keyed with its decimal point one place off."""
        if recipe.classes:
            return super().noisy_labels(recipe, labels, flip, rng)
        out = labels.copy()
        up = rng.random(len(flip)) < 0.5
        for i, ten in zip(flip, up):
            out[i] = float(labels[i]) * (10.0 if ten else 0.1)
        return out

    def baseline_spec(self, recipe: Recipe) -> BaselineSpec:
        return BaselineSpec(inputs="columns", target=recipe.target, numeric=[f.name for f in recipe.numeric()],
                            categorical=[f.name for f in recipe.categorical()],
                            dates=[f.name for f in recipe.dates()])

    def monitored(self, recipe: Recipe, frame: pd.DataFrame) -> Monitored:
        m = super().monitored(recipe, frame)
        out = m.frame.copy()
        when = frame[recipe.time_field] if recipe.time_field in frame.columns else None
        for f in recipe.dates():
            if f.name in out.columns and when is not None:
                out[f.name] = age_at(out[f.name], when)  # a date of birth is watched as an age
        m.frame = out
        m.numeric = m.numeric + [f.name for f in recipe.dates()]
        return m

    def dictionary(self, recipe: Recipe) -> str:
        return tabular_dictionary(recipe, self)

