"""Clean, typed records from a recipe under a `World` (the recipe plus any active shifts).

Everything is drawn column-wise with numpy: labels first, then categoricals and numerics
conditioned on the label, then text. The training period has a mild built-in drift (each
categorical's `trend`), parameterised by t in [0, 1] from training start to end; traffic
after training runs at t = 1, so stable held-back phases match late training.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from grader.errors import ConfigError
from grader.scenario import (
    ClockShift,
    ConceptDrift,
    Covariate,
    ExtremeDays,
    LabelPrior,
    MissingBurst,
    NewCategory,
    ProfileChange,
    RenameField,
    SensorOffset,
    Shift,
    StuckValue,
    TargetScale,
    UnitChange,
)
from harness.data.recipe import CategoricalField, NumericField, Recipe
from harness.data.text import generate_text

log = logging.getLogger(__name__)


@dataclass
class World:
    """The generating distribution for one phase: recipe defaults, overridden by shifts."""

    prior: dict[str, float]
    covariates: dict[str, Covariate] = field(default_factory=dict)
    new_categories: list[NewCategory] = field(default_factory=list)
    concept: list[ConceptDrift] = field(default_factory=list)
    target_scales: list[TargetScale] = field(default_factory=list)
    units: list[UnitChange] = field(default_factory=list)
    missing: list[MissingBurst] = field(default_factory=list)
    renames: list[RenameField] = field(default_factory=list)
    # readings-level shifts only a series kind can draw (stuck sensors, offsets, clocks, profiles)
    readings: list[Shift] = field(default_factory=list)


def world_for(recipe: Recipe, shifts: list[Shift], drawn: frozenset[str] = frozenset()) -> World:
    """Fold a phase's shifts into a World; a shift naming an unknown field fails as ConfigError.

    `drawn`: the readings-level shifts the recipe's kind draws (DataKind.reading_shifts); any
    other readings-level shift is refused, since it would silently do nothing.
    """
    w = World(prior=dict(recipe.label_prior))
    names = set(recipe.field_names)

    def need(name: str, kinds: tuple[str, ...]) -> None:
        if name not in names:
            raise ConfigError(f"shift names unknown field {name!r} (recipe {recipe.name})")
        if recipe.field(name).kind not in kinds:
            raise ConfigError(f"shift on {name!r}: field kind {recipe.field(name).kind} not in {kinds}")

    for s in shifts:
        if isinstance(s, Covariate):
            need(s.field, ("categorical", "numeric"))
            w.covariates[s.field] = s
        elif isinstance(s, NewCategory):
            need(s.field, ("categorical",))
            if recipe.text and s.field == recipe.text.vocab_by and s.value not in recipe.heldout_categories \
                    and s.value not in recipe.text.categories:
                raise ConfigError(f"new category {s.value!r} has no vocabulary in recipe {recipe.name}")
            w.new_categories.append(s)
        elif isinstance(s, ConceptDrift):
            if s.from_label not in recipe.classes or s.to_label not in recipe.classes:
                raise ConfigError(f"concept drift names unknown labels {s.from_label!r}->{s.to_label!r}")
            for name in s.where:
                need(name, ("categorical",))
            w.concept.append(s)
        elif isinstance(s, TargetScale):
            if recipe.classes:
                raise ConfigError(f"target_scale needs a numeric target; recipe {recipe.name} has classes "
                                  "(use concept_drift)")
            for name in s.where:
                need(name, ("categorical",))
            w.target_scales.append(s)
        elif isinstance(s, UnitChange):
            need(s.field, ("numeric",))
            w.units.append(s)
        elif isinstance(s, MissingBurst):
            for f in s.fields:
                need(f, ("categorical", "numeric", "text", "date"))
            w.missing.append(s)
        elif isinstance(s, LabelPrior):
            if set(s.prior) != set(recipe.classes):
                raise ConfigError("label_prior shift must name every class")
            w.prior = dict(s.prior)
        elif isinstance(s, (StuckValue, SensorOffset, ExtremeDays, ClockShift, ProfileChange)):
            if s.kind not in drawn:
                raise ConfigError(f"shift {s.kind} is not drawn by the {recipe.kind} kind of recipe {recipe.name}"
                                  + (f" (it draws {', '.join(sorted(drawn))})" if drawn else ""))
            if isinstance(s, (StuckValue, SensorOffset, ExtremeDays)):
                need(s.field, ("numeric",))
            for name in getattr(s, "where", {}):
                need(name, ("categorical",))
            w.readings.append(s)
        elif isinstance(s, RenameField):
            need(s.field, ("categorical", "numeric", "text", "date"))
            if s.to in names:
                raise ConfigError(f"rename_field target {s.to!r} is already a field")
            w.renames.append(s)
    return w


@dataclass
class Sample:
    """Typed records (no ids, no mess) and what the shifts did to them, row by row."""

    frame: pd.DataFrame  # wire field names (before renames) + label; NaN for missing
    original_label: np.ndarray  # label before concept drift, or None
    new_category: dict[str, np.ndarray]  # field -> bool mask of rows given a new category
    unit_changed: dict[str, np.ndarray]  # field -> bool mask
    burst_missing: dict[str, np.ndarray]  # field -> bool mask
    # field -> bool mask of rows whose value lies beyond anything training had (unfamiliar)
    beyond_range: dict[str, np.ndarray] = field(default_factory=dict)


def _draw_index(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise inverse-CDF draw from an (n, k) matrix of probabilities."""
    cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((u[:, None] > cum).sum(axis=1), p.shape[1] - 1)


def _probs(f: CategoricalField, classes: list[str], prior: np.ndarray, label_idx: np.ndarray,
           t: np.ndarray, cov: Covariate | None) -> np.ndarray:
    cats = f.categories
    base = np.array([[f.by_label.get(c, f.weights)[k] if k in f.by_label.get(c, f.weights) else 0.0
                      for k in cats] for c in classes], dtype=float)
    base /= base.sum(axis=1, keepdims=True)
    trend = np.array([f.trend.get(k, 0.0) for k in cats])
    p = np.clip(base[label_idx] + t[:, None] * trend, 1e-4, None)
    if cov is not None and cov.weights:
        # tilt toward the target mix while keeping the label dependence
        late = np.clip(base + trend, 1e-4, None)
        late /= late.sum(axis=1, keepdims=True)
        marginal = prior @ late
        target = np.array([cov.weights.get(k, 0.0) for k in cats], dtype=float)
        target /= target.sum()
        p = p * (target / marginal)
        p[:, target == 0] = 0.0
    return p


def _numeric(f: NumericField, labels: np.ndarray, classes: list[str], rng: np.random.Generator,
             cov: Covariate | None) -> np.ndarray:
    n = len(labels)
    out = np.empty(n)
    scale = cov.scale if cov is not None else 1.0
    for c in classes:
        mask = labels == c
        m = int(mask.sum())
        if not m:
            continue
        p = {**f.params, **f.by_label.get(c, {})}
        if f.dist == "lognormal":
            v = np.exp(rng.normal(p["mu"] + math.log(scale), p["sigma"], m))
        elif f.dist == "normal":
            v = rng.normal(p["loc"] * scale, p["scale"], m)
        elif f.dist == "poisson":
            v = rng.poisson(p["lam"] * scale, m).astype(float)
        elif f.dist == "negbin":
            r, mean = p["r"], p["mean"] * scale
            v = rng.negative_binomial(r, r / (r + mean), m).astype(float)
        else:
            v = rng.uniform(p["low"] * scale, p["high"] * scale, m)
        zero = p.get("zero", f.zero_share)
        if zero > 0:
            v[rng.random(m) < zero] = 0.0
        out[mask] = v
    if cov is not None:
        out = out + cov.offset
    lo, hi = f.clean_range()
    out = np.clip(out, lo, hi)
    return np.rint(out) if f.dtype == "int" else np.round(out, f.decimals)


def time_fraction(recipe: Recipe, ts: np.ndarray) -> np.ndarray:
    start = np.datetime64(recipe.start.replace(tzinfo=None), "s").astype(np.int64)
    end = np.datetime64(recipe.end.replace(tzinfo=None), "s").astype(np.int64)
    return np.clip((ts.astype("datetime64[s]").astype(np.int64) - start) / (end - start), 0.0, 1.0)


def sample_typed(recipe: Recipe, world: World, n: int, rng: np.random.Generator,
                 start: datetime, end: datetime) -> Sample:
    """Draw n clean records with timestamps spread over [start, end), in time order."""
    s0 = int(start.timestamp())
    s1 = int(end.timestamp())
    secs = np.sort(rng.integers(s0, max(s1, s0 + 1), size=n))
    ts = secs.astype("datetime64[s]")
    t = time_fraction(recipe, ts)
    classes = recipe.classes
    prior = np.array([world.prior[c] for c in classes], dtype=float)
    prior /= prior.sum()
    label_idx = _draw_index(np.broadcast_to(prior, (n, len(classes))), rng.random(n))
    labels = np.array(classes, dtype=object)[label_idx]
    cols: dict[str, object] = {}
    new_cat: dict[str, np.ndarray] = {}
    for f in recipe.fields:
        if f.kind == "timestamp":
            cols[f.name] = pd.to_datetime(ts).tz_localize("UTC")
        elif isinstance(f, CategoricalField):
            p = _probs(f, classes, prior, label_idx, t, world.covariates.get(f.name))
            values = np.array(f.categories, dtype=object)[_draw_index(p, rng.random(n))]
            mask = np.zeros(n, dtype=bool)
            for nc in (x for x in world.new_categories if x.field == f.name):
                pick = (rng.random(n) < nc.share) & ~mask
                held = recipe.heldout_categories.get(nc.value)
                if held is not None and held.label_weights:
                    # a new product brings its own mix of reasons to write in
                    lw = np.array([held.label_weights.get(c, 0.0) for c in classes], dtype=float)
                    k = int(pick.sum())
                    labels[pick] = np.array(classes, dtype=object)[
                        _draw_index(np.broadcast_to(lw, (k, len(classes))), rng.random(k))]
                values[pick] = nc.value
                mask |= pick
            new_cat[f.name] = mask
            cols[f.name] = values
        elif isinstance(f, NumericField):
            cols[f.name] = _numeric(f, labels, classes, rng, world.covariates.get(f.name))
    if recipe.text is not None:
        lang = recipe.text.language_by
        texts = generate_text(recipe, labels, cols[recipe.text.vocab_by], cols[lang] if lang else None, rng)
        for f in recipe.text_fields():
            cols[f.name] = np.array(texts[f.part], dtype=object)
    return apply_shifts(recipe, world, cols, labels, new_cat, rng)


def apply_shifts(recipe: Recipe, world: World, cols: dict[str, object], labels: np.ndarray,
                 new_cat: dict[str, np.ndarray], rng: np.random.Generator) -> Sample:
    """What every kind does after drawing clean columns: concept drift, unit changes, outages.

    The draws happen in a fixed order (concept drifts, then bursts field by field), so a
    kind's bytes depend only on its own columns.
    """
    n = len(labels)
    original = np.full(n, None, dtype=object)
    for cd in world.concept:
        hit = (labels == cd.from_label) & (rng.random(n) < cd.share)
        for name, value in cd.where.items():  # a drift that hits one group only
            hit &= np.asarray(cols[name], dtype=object) == value
        original[hit] = cd.from_label
        labels = labels.copy()
        labels[hit] = cd.to_label
    for ts in world.target_scales:  # drawn only when a phase has one: other phases' bytes do not change
        hit = rng.random(n) < ts.share
        for name, value in ts.where.items():
            hit &= np.asarray(cols[name], dtype=object) == value
        original[hit] = labels[hit]
        labels = labels.astype(float)  # a copy
        labels[hit] = labels[hit] * ts.factor
    units: dict[str, np.ndarray] = {}
    for uc in world.units:
        f = recipe.field(uc.field)
        v = np.asarray(cols[uc.field], dtype=float) * uc.factor
        cols[uc.field] = np.rint(v) if f.dtype == "int" else np.round(v, f.decimals)
        units[uc.field] = np.ones(n, dtype=bool)
    burst: dict[str, np.ndarray] = {}
    for mb in world.missing:
        for name in mb.fields:
            hit = rng.random(n) < mb.rate
            burst[name] = burst.get(name, np.zeros(n, dtype=bool)) | hit
    frame = pd.DataFrame({name: cols[name] for name in recipe.field_names if name in cols})
    frame[recipe.label] = labels
    for name, hit in burst.items():
        if frame[name].dtype == object:
            frame.loc[hit, name] = np.nan
        else:
            frame[name] = frame[name].where(~hit)
    return Sample(frame=frame, original_label=original, new_category=new_cat, unit_changed=units, burst_missing=burst)
