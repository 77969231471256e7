"""A real table as the source of typed records (the tabular kind's sampler).

Why bootstrap real rows rather than fit a generator: the point of a real table is its
joint structure and its P(y|x) — how repayment history, limits, age and education go
together with default. Any simple generator we could fit here (independent marginals, a
Gaussian copula) would flatten exactly that. So a record is a real row, resampled, with its
real label; continuous amounts get a small relative jitter so no record is a verbatim copy
of a public row, and ages become dates of birth relative to the record's own timestamp.

Shifts stay faithful to the table: a label-prior or categorical covariate shift reweights
which real rows are drawn (importance resampling), so P(x|y) and P(y|x) inside each stratum
stay real. Rows are split once, deterministically, into a training pool and a held-back
pool, so held-back traffic is drawn from applicants the training data never contained.

The file is read from the installed distribution's files (importlib.metadata): the package
is never imported and nothing is downloaded. An author's own table (`shiftwork exercise new`)
is a CSV beside the recipe.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

from grader.errors import ConfigError
from harness.data.packaged import read_packaged
from harness.data.recipe import CategoricalField, DateField, NumericField, Recipe, TableSource
from harness.data.sampler import Sample, World, _draw_index, _probs, apply_shifts, time_fraction

log = logging.getLogger(__name__)

Pool = Literal["train", "heldout"]
LABEL = "__label__"
_SPLIT_SEED = 0x5EED  # fixed: the train/held-back split must never depend on a run's seed
_DAYS_PER_YEAR = 365.2425




def _column(raw: pd.DataFrame, src: TableSource, name: str) -> pd.Series:
    if name in src.onehot:
        # one-hot groups (EDUCATION_0..EDUCATION_6) folded back into one code column ("0".."6")
        prefix = src.onehot[name]
        group = [c for c in raw.columns if c.startswith(prefix)]
        if not group:
            raise ConfigError(f"source table has no columns starting {prefix!r}")
        codes = np.array([c[len(prefix):] for c in group], dtype=object)
        return pd.Series(codes[raw[group].to_numpy().argmax(axis=1)], index=raw.index)
    if name not in raw.columns:
        raise ConfigError(f"source table has no column {name!r}")
    return raw[name]


def _code(v: object) -> str:
    """Source values as code strings: 1, 1.0 and "1" are the same code."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _pools(recipe: Recipe) -> dict[str, pd.DataFrame]:
    src = recipe.source
    assert src is not None
    raw = pd.read_csv(recipe.root / src.file, low_memory=False) if src.file else read_packaged(src.package, src.path)
    out: dict[str, object] = {}
    for f in recipe.fields:
        if isinstance(f, CategoricalField) and f.source:
            codes = _column(raw, src, f.source).map(_code)
            unknown = sorted(set(codes) - set(f.codes))
            if unknown:
                raise ConfigError(f"{recipe.name}.{f.name}: source codes {unknown} have no category")
            out[f.name] = codes.map(f.codes).to_numpy(dtype=object)
        elif isinstance(f, NumericField) and f.source:
            out[f.name] = pd.to_numeric(_column(raw, src, f.source), errors="coerce").to_numpy(dtype=float)
        elif isinstance(f, DateField):
            out[f.name] = pd.to_numeric(_column(raw, src, f.age_source), errors="coerce").to_numpy(dtype=float)
    if recipe.classes:
        labels = _column(raw, src, src.label).map(_code)
        if set(labels) - set(src.label_codes):
            raise ConfigError(f"{recipe.name}: label values {sorted(set(labels) - set(src.label_codes))} have no class")
        out[LABEL] = labels.map(src.label_codes).to_numpy(dtype=object)
    else:  # a numeric target, as the table has it
        out[LABEL] = pd.to_numeric(_column(raw, src, src.label), errors="coerce").to_numpy(dtype=float)
    frame = pd.DataFrame(out)
    held = np.random.default_rng(_SPLIT_SEED).random(len(frame)) < src.heldout_share
    if not recipe.classes:  # rows without a target teach nothing and score nothing (after the split: it stays put)
        frame, held = frame[frame[LABEL].notna()], held[frame[LABEL].notna().to_numpy()]
    return {"train": frame[~held].reset_index(drop=True), "heldout": frame[held].reset_index(drop=True)}


_POOLS: dict[str, dict[str, pd.DataFrame]] = {}


def pool(recipe: Recipe, which: Pool = "train") -> pd.DataFrame:
    """The decoded source rows of one pool, under wire field names (+ LABEL); ages for date fields."""
    key = f"{recipe.root}|{recipe.model_dump_json()}"  # a recipe is unhashable; its content (and folder) is the key
    if key not in _POOLS:
        if len(_POOLS) >= 8:
            _POOLS.pop(next(iter(_POOLS)))
        _POOLS[key] = _pools(recipe)
    return _POOLS[key][which]


def _weights(recipe: Recipe, world: World, rows: pd.DataFrame) -> np.ndarray:
    """Importance weights that move the label prior and categorical mixes to the world's."""
    w = np.ones(len(rows))
    labels = rows[LABEL].to_numpy(dtype=object)
    freq = pd.Series(labels).value_counts(normalize=True) if recipe.classes else pd.Series(dtype=float)
    if recipe.classes and dict(world.prior) != dict(recipe.label_prior):
        w *= np.array([world.prior.get(c, 0.0) / freq.get(c, 1.0) for c in labels])
    for name, cov in world.covariates.items():
        f = recipe.field(name)
        if isinstance(f, CategoricalField) and f.source and cov.weights:
            vals = rows[name].to_numpy(dtype=object)
            marginal = pd.Series(w).groupby(vals).sum() / w.sum()
            total = sum(cov.weights.values())
            w *= np.array([cov.weights.get(v, 0.0) / total / marginal.get(v, 1.0) for v in vals])
    return w


def _amount(f: NumericField, v: np.ndarray, cov) -> np.ndarray:
    if cov is not None:
        v = v * cov.scale + cov.offset
    lo, hi = f.clean_range()
    v = np.clip(v, lo, hi)
    return np.rint(np.round(v, f.decimals)) if f.dtype == "int" else np.round(v, f.decimals)


def sample_table(recipe: Recipe, world: World, n: int, rng: np.random.Generator,
                 start: datetime, end: datetime, which: Pool = "train") -> Sample:
    """n records resampled from the source table, timestamps spread over [start, end), in time order."""
    s0, s1 = int(start.timestamp()), int(end.timestamp())
    secs = np.sort(rng.integers(s0, max(s1, s0 + 1), size=n))
    ts = secs.astype("datetime64[s]")
    t = time_fraction(recipe, ts)
    rows = pool(recipe, which)
    w = _weights(recipe, world, rows)
    live = int((w > 0).sum())
    idx = rng.choice(len(rows), size=n, replace=n > live, p=w / w.sum())
    picked = rows.iloc[idx].reset_index(drop=True)
    classes = recipe.classes
    labels = picked[LABEL].to_numpy(dtype=object if classes else float)
    label_idx = np.array([classes.index(c) for c in labels], dtype=int) if classes else np.zeros(n, dtype=int)
    prior = np.array([world.prior[c] for c in classes], dtype=float)
    prior /= max(prior.sum(), 1e-12)
    cols: dict[str, object] = {}
    new_cat: dict[str, np.ndarray] = {}
    for f in recipe.fields:
        if f.kind == "timestamp":
            cols[f.name] = pd.to_datetime(ts).tz_localize("UTC")
        elif isinstance(f, CategoricalField):
            if f.source:
                values = picked[f.name].to_numpy(dtype=object).copy()
            elif not classes:
                raise ConfigError(f"{recipe.name}.{f.name}: a table with a numeric target draws categories from it")
            else:  # a field the table lacks, drawn from the recipe's weights (conditioned on the label)
                p = _probs(f, classes, prior, label_idx, t, world.covariates.get(f.name))
                values = np.array(f.categories, dtype=object)[_draw_index(p, rng.random(n))]
            mask = np.zeros(n, dtype=bool)
            for nc in (x for x in world.new_categories if x.field == f.name):
                pick = (rng.random(n) < nc.share) & ~mask
                values[pick] = nc.value
                mask |= pick
            new_cat[f.name] = mask
            cols[f.name] = values
        elif isinstance(f, NumericField):
            cov = world.covariates.get(f.name)
            if f.source:
                v = picked[f.name].to_numpy(dtype=float)
                if f.jitter:
                    v = v * np.exp(rng.normal(0.0, f.jitter, n))
            elif f.times:
                # e.g. income as a multiple of the credit limit: banks set limits from income
                base = np.asarray(cols[f.times], dtype=float)
                v = base * np.exp(rng.normal(f.params.get("mu", 0.0), f.params.get("sigma", 0.0), n))
            else:
                raise ConfigError(f"{recipe.name}.{f.name}: a table recipe's numeric needs source or times")
            cols[f.name] = _amount(f, v, cov)
        elif isinstance(f, DateField):
            # age in whole years (real) -> a date of birth that gives exactly that age on the record's day
            age = picked[f.name].to_numpy(dtype=float)
            days = np.floor((age + rng.random(n)) * _DAYS_PER_YEAR).astype("int64")
            day = ts.astype("datetime64[D]")
            cols[f.name] = pd.to_datetime(day - days.astype("timedelta64[D]"))
    return apply_shifts(recipe, world, cols, labels, new_cat, rng)


def age_at(dob: pd.Series, when: pd.Series) -> pd.Series:
    """Age in years on `when` (NaN where either is missing): the monitored form of a date of birth."""
    born = pd.to_datetime(dob, errors="coerce")
    at = pd.to_datetime(when, errors="coerce", utc=True).dt.tz_localize(None)
    return (at - born).dt.days / _DAYS_PER_YEAR
