"""A real regular series as the source of typed records (the series kind's sampler).

Why resample real days rather than fit a generator: the point of a real series is its
daily and weekly rhythm, its noise and how demand answers temperature (heating in winter,
air conditioning on hot afternoons). A record is one real half-hour of one real day, with
the demand one day and one week earlier read off the same series, scaled to a site.

The source covers one year; the exercise's timeline is its own. A record's wire timestamp
lies in its phase's window and keeps the real interval's local time of day and weekday, so
the daily and weekly patterns stay true; which real day it comes from is drawn from a pool.
Days are split once, deterministically: days whose temperature reaches the recipe's
`extreme_temperature` are held back for heat-wave traffic only (so their temperatures lie
beyond anything in training), and of the others a share is held back, so graded traffic
comes from days the training data never contained.

A reading inside its valid range but beyond anything training could contain is unfamiliar
(the series kind's rule, stated in its data dictionary: `SeriesKind.beyond_training`): every
held-back reading is compared with the range of its field over the training pool, whatever
moved it there (a hotter day, a sensor offset, a meter sending another unit).

The file is read from the installed distribution's files (importlib.metadata): the package
is never imported and nothing is downloaded.
"""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from grader.errors import ConfigError
from grader.scenario import ClockShift, ExtremeDays, ProfileChange, SensorOffset, StuckValue
from harness.data.packaged import read_packaged
from harness.data.recipe import CategoricalField, NumericField, Recipe
from harness.data.recipe_series import SeriesSpec
from harness.data.sampler import Sample, World, _draw_index, apply_shifts

log = logging.getLogger(__name__)

# how the series kind's mess spells a local timestamp (the sites' own clock, UTC+10), and that zone
ZONED_FORMATS = ["%d/%m/%Y %H:%M AEST", "%Y-%m-%d %H:%M AEST"]
LOCAL = timezone(timedelta(hours=10))

_SPLIT_SEED = 0x5E41E5  # fixed: the day split and the sites' noise never depend on a run's seed
WEEK_DAYS = 7




@dataclass(frozen=True)
class Source:
    """The decoded series: per site arrays over every interval, and the day pools."""

    per_day: int
    demand: dict[str, np.ndarray]  # site -> wire-unit demand per interval
    temperature: dict[str, np.ndarray]  # site -> °C per interval
    workday: np.ndarray  # per day: "1" / "0"
    weekday: np.ndarray  # per day: 0 = Monday (local)
    pools: dict[str, np.ndarray]  # "train" / "heldout" / "extreme" -> day indices (each has a full week before it)
    # source column ("temperature", "lag_day", "lag_week") -> (lowest, highest) value any training
    # record can carry, over every site and interval of the training days: a record's lags are read
    # off the days before it, so their range is that of the days a day and a week before the pool's
    train_range: dict[str, tuple[float, float]]

    @property
    def train_max_temperature(self) -> float:
        return self.train_range["temperature"][1]


def _ar_noise(n: int, sigma: float, rng: np.random.Generator, phi: float = 0.9) -> np.ndarray:
    """AR(1) relative noise: a site's own wobble, correlated from one half-hour to the next."""
    e = rng.normal(0.0, sigma * np.sqrt(1 - phi ** 2), n)
    # scipy.signal costs a second to import; only the series kind's generation needs it
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -phi], e)


def _decode(spec: SeriesSpec) -> Source:
    raw = read_packaged(spec.package, spec.path)
    for col in (spec.demand, spec.temperature, spec.workday):
        if col not in raw.columns:
            raise ConfigError(f"source series has no column {col!r}")
    per_day = 24 * 60 // spec.interval_minutes
    days = len(raw) // per_day
    demand = raw[spec.demand].to_numpy(dtype=float)[: days * per_day] * spec.unit_factor
    temp = raw[spec.temperature].to_numpy(dtype=float)[: days * per_day]
    work = raw[spec.workday].to_numpy()[: days * per_day].reshape(days, per_day)[:, per_day // 2]
    first = spec.start.replace(tzinfo=None)
    weekday = np.array([(first + timedelta(days=d)).weekday() for d in range(days)])
    sites_d: dict[str, np.ndarray] = {}
    sites_t: dict[str, np.ndarray] = {}
    for name, site in spec.sites.items():
        rng = np.random.default_rng([_SPLIT_SEED, zlib.crc32(name.encode())])
        sites_d[name] = np.round(demand * site.share * (1 + _ar_noise(len(demand), spec.noise, rng)), 1)
        sites_t[name] = np.round(temp + site.temperature_offset + rng.normal(0.0, 0.3, len(temp)), 1)
    hottest = temp.reshape(days, per_day).max(axis=1)
    usable = np.arange(WEEK_DAYS + 1, days)  # a day needs the week (and a bit) before it for its lags
    extreme = usable[hottest[usable] >= spec.extreme_temperature]
    ordinary = usable[hottest[usable] < spec.extreme_temperature]
    held = np.random.default_rng(_SPLIT_SEED).random(len(ordinary)) < spec.heldout_share
    pools = {"train": ordinary[~held], "heldout": ordinary[held], "extreme": extreme}

    def span(arrays: dict[str, np.ndarray], back: int) -> tuple[float, float]:
        idx = ((pools["train"] - back)[:, None] * per_day + np.arange(per_day)).ravel()
        return (min(float(a[idx].min()) for a in arrays.values()), max(float(a[idx].max()) for a in arrays.values()))

    train_range = {"temperature": span(sites_t, 0), "lag_day": span(sites_d, 1), "lag_week": span(sites_d, WEEK_DAYS)}
    log.debug("series %s: %d days, %d train / %d held back / %d extreme", spec.path, days,
              len(pools["train"]), len(pools["heldout"]), len(extreme))
    return Source(per_day=per_day, demand=sites_d, temperature=sites_t, workday=np.array([str(int(w)) for w in work]),
                  weekday=weekday, pools=pools, train_range=train_range)


_SOURCES: dict[str, Source] = {}


def source(recipe: Recipe) -> Source:
    spec = recipe.series
    if spec is None:
        raise ConfigError(f"recipe {recipe.name} has no [series] spec")
    key = spec.model_dump_json()
    if key not in _SOURCES:
        _SOURCES[key] = _decode(spec)
    return _SOURCES[key]


def _pick_days(src: Source, pool: np.ndarray, weekdays: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real day for each record, of the same weekday when the pool has one."""
    out = np.empty(len(weekdays), dtype=int)
    u = rng.random(len(weekdays))
    for wd in range(7):
        rows = np.flatnonzero(weekdays == wd)
        if not len(rows):
            continue
        same = pool[src.weekday[pool] == wd]
        choice = same if len(same) else pool
        out[rows] = choice[np.minimum((u[rows] * len(choice)).astype(int), len(choice) - 1)]
    return out


def _matches(cols: dict[str, object], where: dict[str, str], n: int) -> np.ndarray:
    hit = np.ones(n, dtype=bool)
    for name, value in where.items():
        hit &= np.asarray(cols[name], dtype=object) == value
    return hit


def sample_series(recipe: Recipe, world: World, n: int, rng: np.random.Generator,
                  start: datetime, end: datetime, which: str = "train") -> Sample:
    """n clean records at times spread over [start, end), in time order, under `world`'s shifts."""
    if world.covariates or world.new_categories or world.concept or dict(world.prior) != dict(recipe.label_prior):
        raise ConfigError(f"recipe {recipe.name}: a series draws real days; covariate, new-category, concept "
                          "and label-prior shifts do not apply (use sensor_offset, extreme_days, profile_change)")
    spec = recipe.series
    assert spec is not None
    src = source(recipe)
    step = spec.interval_minutes * 60
    s0 = int(start.timestamp()) // step
    s1 = max(int(end.timestamp()) // step, s0 + 1)
    wire = np.sort(rng.integers(s0, s1, size=n)) * step  # interval starts, UTC seconds
    local_offset = int(spec.start.utcoffset().total_seconds()) if spec.start.utcoffset() else 0
    clock = sum(s.minutes for s in world.readings if isinstance(s, ClockShift)) * 60
    # A clock `clock` seconds ahead stamps the real interval (whose temperature and actual
    # these are) `clock` later; the archive looks the lags up by that wrong stamp, so they
    # belong to another half-hour than the actual does.
    real = wire - clock + local_offset  # the real interval, in the source's local time
    slot = (real % 86400) // step
    lag_shift = clock // step
    weekday = ((real // 86400) + 3) % 7  # 1970-01-01 was a Thursday
    extreme = next((s for s in world.readings if isinstance(s, ExtremeDays)), None)
    days = _pick_days(src, src.pools["heldout" if which == "heldout" else "train"], weekday, rng)
    if extreme is not None:
        hot = rng.random(n) < extreme.share
        days[hot] = _pick_days(src, src.pools["extreme"], weekday[hot], rng)
    site_f = next(f for f in recipe.categorical() if not f.source)
    sites = np.array(site_f.categories, dtype=object)[_draw_index(
        np.broadcast_to(np.array([site_f.weights[c] for c in site_f.categories], dtype=float),
                        (n, len(site_f.categories))), rng.random(n))]
    idx = days * src.per_day + slot
    columns = {"temperature": np.empty(n), "lag_day": np.empty(n), "lag_week": np.empty(n)}
    label = np.empty(n)
    for site in np.unique(sites):
        m = sites == site
        d, t = src.demand[site], src.temperature[site]
        columns["temperature"][m] = t[idx[m]]
        columns["lag_day"][m] = d[idx[m] + lag_shift - src.per_day]
        columns["lag_week"][m] = d[idx[m] + lag_shift - WEEK_DAYS * src.per_day]
        label[m] = d[idx[m]]
    cols: dict[str, object] = {recipe.time_field: pd.to_datetime(wire, unit="s", utc=True), site_f.name: sites}
    for f in recipe.fields:
        if isinstance(f, NumericField) and f.source:
            cols[f.name] = columns[f.source].copy()
        elif isinstance(f, CategoricalField) and f.source:
            cols[f.name] = np.array([f.codes[c] for c in src.workday[days]], dtype=object)
    for s in world.readings:
        if isinstance(s, SensorOffset):
            hit = _matches(cols, s.where, n)
            cols[s.field] = np.where(hit, np.round(np.asarray(cols[s.field]) + s.offset, 1), cols[s.field])
        elif isinstance(s, StuckValue):
            hit = np.flatnonzero(_matches(cols, s.where, n))
            if len(hit):
                v = np.asarray(cols[s.field], dtype=float).copy()
                v[hit] = v[hit[0]]
                cols[s.field] = v
        elif isinstance(s, ProfileChange):
            hour = slot * spec.interval_minutes // 60
            lo, hi = s.hours
            label = np.where((hour >= lo) & (hour < hi), np.round(label * s.factor, 1), label)
    sample = apply_shifts(recipe, world, cols, np.round(label, 1), {}, rng)
    sample.beyond_range = beyond_training(recipe, src, sample.frame)
    return sample


def beyond_training(recipe: Recipe, src: Source, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """field -> rows whose reading lies inside its valid range but outside anything training holds.

    Read after every shift (unit changes included), from the values as sent: a reading outside
    the valid range is invalid instead (the engine marks a unit change that lands there), and a
    missing one is nothing.
    """
    out: dict[str, np.ndarray] = {}
    for f in recipe.numeric():
        if f.source not in src.train_range:
            continue
        lo, hi = src.train_range[f.source]
        v = frame[f.name].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            valid = (v >= f.valid[0]) & (v <= f.valid[1])
            out[f.name] = valid & ((v < lo) | (v > hi))
    return out
