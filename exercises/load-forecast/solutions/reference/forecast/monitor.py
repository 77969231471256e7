"""Monitoring over a recent window: input drift, stuck and rescaled readings, data quality, live error.

Calibrated tests against the training reference, one Holm family per window at alpha 0.01:
- drift (the forecast records among the last `window`): two-sample KS on each numeric field,
  overall and per site (a sensor at one site can move while the mix hides it), gated by
  Wasserstein / training std >= W_GATE; chi2_contingency on the site mix gated by total
  variation >= 0.05; a site never seen in training arriving >= 10 times is drift by itself;
- stuck reading: a numeric field whose most common value covers >= 50 % of its window at one
  site (training's busiest value covers a few per cent): a sensor that repeats itself;
- scale: the median of each load field relative to its site's training median outside
  [0.5, 2] (a meter reporting kW or GW): drift on that field, no test needed at that size;
- data quality (the same window, invalid records included): per-field missing rate and
  invalid rate vs training, one-sided two-proportion tests gated by +0.05; an unknown field
  name in most recent records (schema change);
- performance (from /feedback): the MAE of the last `perf_window` labelled forecasts against
  a reference MAE, one-sided Welch test at alpha 0.01, gated by +30 %, on the current window
  and on the one ending `lag` labels earlier (one unlucky week of days cannot raise it alone).
  The reference is the MAE of the first `burn_in` labelled forecasts after start, never below
  the training holdout's: every real day appears ~50 times in train.csv, so a random holdout
  shares days with the fit and understates the error on new days by about a third (measured:
  33 vs 50 MW); the first live labels are the honest measure of it. The ratio of the error to
  the seasonal-naive error on the same records is reported too: near 1 the model no longer
  adds anything to repeating yesterday.
A drift or quality alarm must hold on the current window and on the one ending `lag` records
earlier. Results are cached until new traffic or labels arrive, so /monitoring stays cheap.
"""
from __future__ import annotations

import logging
import math
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
from scipy import stats

from forecast.cleaning import Cleaned
from forecast.fields import KNOWN_FIELDS, LOAD_FIELDS, MONITORED_NUMERIC, SITES

log = logging.getLogger(__name__)

ALPHA = 0.01
MIN_WINDOW = 100  # below this, no test has the power to say anything honest
MIN_SITE = 40
MIN_LABELLED = 100
W_GATE = 0.25  # a window spans about a week of real days: temperatures differ that much anyway
TVD_GATE = 0.05
RATE_GATE = 0.05
STUCK_SHARE = 0.5
SCALE_RANGE = (0.5, 2.0)
MAE_GATE = 1.3
NEW_VALUE_MIN = 10
SCHEMA_RECENT = 100
SCHEMA_SHARE = 0.5
MAX_REMEMBERED = 50_000  # forecasts kept for joining late actuals
DUP_REMEMBERED = 5_000
REF_SAMPLE = 20_000


@dataclass
class Reference:
    """What training looked like; the monitor compares every window with it."""

    numeric: dict[str, np.ndarray]  # field -> sorted sample
    by_site: dict[str, dict[str, np.ndarray]]  # site -> field -> sorted sample
    std: dict[str, float]
    site_median: dict[str, dict[str, float]]  # site -> load field -> median
    mode_share: dict[str, float]  # field -> the busiest value's share at any site
    sites: dict[str, int]
    n_rows: int
    missing: dict[str, int]
    invalid: dict[str, int]
    holdout_mae: float
    holdout_naive_mae: float
    holdout_n: int

    @classmethod
    def from_training(cls, cleaned: list[Cleaned], holdout_mae: float, holdout_naive_mae: float,
                      holdout_n: int, seed: int = 0) -> "Reference":
        rng = np.random.default_rng(seed)
        valid = [c.values for c in cleaned if not c.invalid]

        def sample(rows: list[dict], name: str) -> np.ndarray:
            xs = np.array([r[name] for r in rows if r.get(name) is not None], dtype=float)
            if xs.size > REF_SAMPLE:
                xs = rng.choice(xs, REF_SAMPLE, replace=False)
            return np.sort(xs)

        numeric = {n: sample(valid, n) for n in MONITORED_NUMERIC}
        by_site = {s: {n: sample([r for r in valid if r.get("site") == s], n) for n in MONITORED_NUMERIC}
                   for s in SITES}
        site_median = {s: {n: float(np.median(by_site[s][n])) if by_site[s][n].size else math.nan
                           for n in LOAD_FIELDS} for s in SITES}
        mode_share = {n: max((_mode_share(by_site[s][n]) for s in SITES), default=0.0) for n in MONITORED_NUMERIC}
        return cls(numeric, by_site, {n: float(x.std()) or 1.0 for n, x in numeric.items()}, site_median,
                   mode_share, dict(Counter(r["site"] for r in valid if r.get("site") is not None)), len(cleaned),
                   {n: sum(n in c.missing for c in cleaned) for n in KNOWN_FIELDS},
                   {n: sum(n in c.invalid_fields for c in cleaned) for n in KNOWN_FIELDS},
                   holdout_mae, holdout_naive_mae, holdout_n)


def _mode_share(xs: np.ndarray) -> float:
    if xs.size == 0:
        return 0.0
    _, counts = np.unique(xs, return_counts=True)
    return float(counts.max() / xs.size)


@dataclass
class _Test:
    kind: str  # drift | quality
    field: str
    aspect: str
    p: float
    effect: float
    gate: float

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "aspect": self.aspect, "p_value": round(self.p, 6),
                "effect": round(self.effect, 4)}


def holm(pvalues: list[float], alpha: float = ALPHA) -> list[bool]:
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    reject = [False] * len(pvalues)
    m = len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (m - rank):
            break
        reject[i] = True
    return reject


def rate_increase_p(k_cur: int, n_cur: int, k_ref: int, n_ref: int) -> float:
    """One-sided two-proportion z-test: is the current rate higher than the reference rate?"""
    if n_cur <= 0 or n_ref <= 0:
        return 1.0
    pooled = (k_cur + k_ref) / (n_cur + n_ref)
    if pooled <= 0 or pooled >= 1:
        return 1.0
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_cur + 1 / n_ref))
    return 0.5 * math.erfc((k_cur / n_cur - k_ref / n_ref) / se / math.sqrt(2))


@dataclass
class _Entry:
    missing: frozenset[str]
    invalid_fields: tuple[str, ...]
    unknown: tuple[str, ...]
    row: dict[str, Any] | None  # monitored values; None when the record was invalid


def _fingerprint(c: Cleaned) -> tuple:
    return tuple((k, str(c.values.get(k))) for k in KNOWN_FIELDS)


@dataclass
class Monitor:
    ref: Reference
    window: int = 500
    lag: int = 100
    perf_window: int = 300
    burn_in: int = 300
    predictions: OrderedDict = field(default_factory=OrderedDict)  # id -> (forecast, seasonal naive)
    _cache: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.records: deque[_Entry] = deque(maxlen=self.window + self.lag)
        self.burn: list[float] = []  # the first `burn_in` absolute errors: the live reference
        # (|error|, |seasonal-naive error|) of labelled forecasts after the burn-in
        self.errors: deque[tuple[float, float | None]] = deque(maxlen=self.perf_window + self.lag)
        self.fingerprints: OrderedDict = OrderedDict()
        self.duplicates = 0

    # -- intake -------------------------------------------------------------------------
    def observe(self, cleaned: Iterable[Cleaned], forecasts: Iterable[tuple[float, float | None] | None]) -> None:
        for c, f in zip(cleaned, forecasts):
            row = None
            if not c.invalid:
                row = {n: c.values.get(n) for n in (*MONITORED_NUMERIC, "site")}
                fp = _fingerprint(c)
                if fp in self.fingerprints:
                    self.duplicates += 1  # the same reading re-sent: counted, answered the same
                self.fingerprints[fp] = True
                self.fingerprints.move_to_end(fp)
            self.records.append(_Entry(frozenset(c.missing), tuple(c.invalid_fields), tuple(c.unknown), row))
            if f is not None and c.id:
                self.predictions[c.id] = f
                self.predictions.move_to_end(c.id)
        while len(self.predictions) > MAX_REMEMBERED:
            self.predictions.popitem(last=False)
        while len(self.fingerprints) > DUP_REMEMBERED:
            self.fingerprints.popitem(last=False)
        self._cache = None

    def feedback(self, labels: list[tuple[str, float]]) -> int:
        used = 0
        for rid, y in labels:
            known = self.predictions.pop(rid, None)
            if known is None:
                continue
            pred, naive = known
            if len(self.burn) < self.burn_in:
                self.burn.append(abs(pred - y))
                used += 1
                continue
            self.errors.append((abs(pred - y), None if naive is None else abs(naive - y)))
            used += 1
        if used:
            self._cache = None
        return used

    # -- view ---------------------------------------------------------------------------
    def view(self) -> dict[str, Any]:
        if self._cache is None:
            self._cache = self._compute()
        return self._cache

    def _drift(self, rows: list[dict[str, Any]]) -> tuple[list[_Test], set[str], dict[str, str]]:
        """(tests for the Holm family, fields that moved beyond any test, why each of those moved)."""
        tests: list[_Test] = []
        obvious: dict[str, str] = {}
        groups = [("all", rows, self.ref.numeric)] + [
            (s, [r for r in rows if r["site"] == s], self.ref.by_site[s]) for s in SITES]
        for where, group, ref in groups:
            if len(group) < (MIN_WINDOW if where == "all" else MIN_SITE):
                continue
            for name in MONITORED_NUMERIC:
                cur = np.array([r[name] for r in group if r[name] is not None], dtype=float)
                if cur.size < MIN_SITE or ref[name].size < 30:
                    continue
                p = float(stats.ks_2samp(ref[name], cur).pvalue)
                w = float(stats.wasserstein_distance(ref[name], cur)) / self.ref.std[name]
                tests.append(_Test("drift", name, f"distribution:{where}", p, w, W_GATE))
                if where != "all":
                    if _mode_share(cur) >= max(STUCK_SHARE, 5 * self.ref.mode_share[name]):
                        obvious[name] = f"stuck at {where}"
                    med = self.ref.site_median[where].get(name)
                    if med and not SCALE_RANGE[0] <= float(np.median(cur)) / med <= SCALE_RANGE[1]:
                        obvious[name] = f"scale at {where}"
        sites = Counter(r["site"] for r in rows if r["site"] is not None)
        n_cur = sum(sites.values())
        if n_cur >= MIN_WINDOW and self.ref.sites:
            if sum(k for s, k in sites.items() if s not in self.ref.sites) >= NEW_VALUE_MIN:
                obvious["site"] = "unseen site"
            keys = sorted(set(self.ref.sites) | set(sites))
            table = np.array([[self.ref.sites.get(k, 0) for k in keys], [sites.get(k, 0) for k in keys]], float)
            tvd = 0.5 * float(np.abs(table[0] / table[0].sum() - table[1] / n_cur).sum())
            tests.append(_Test("drift", "site", "mix", float(stats.chi2_contingency(table)[1]), tvd, TVD_GATE))
        return tests, set(obvious), obvious

    def _quality(self, entries: list[_Entry]) -> tuple[list[_Test], set[str]]:
        n = len(entries)
        missing = Counter(f for e in entries for f in e.missing)
        invalid = Counter(f for e in entries for f in e.invalid_fields)
        tests = []
        for name in KNOWN_FIELDS:
            for aspect, k, k_ref in (("missing", missing[name], self.ref.missing[name]),
                                     ("invalid", invalid[name], self.ref.invalid[name])):
                tests.append(_Test("quality", name, aspect, rate_increase_p(k, n, k_ref, self.ref.n_rows),
                                   k / n - k_ref / self.ref.n_rows, RATE_GATE))
        recent = entries[-SCHEMA_RECENT:]
        unknown = Counter(u for e in recent for u in e.unknown)
        return tests, {u for u, k in unknown.items() if k >= SCHEMA_SHARE * len(recent)}

    def _alarms(self, entries: list[_Entry]) -> tuple[set[str], set[str], list[_Test], dict[str, str]]:
        drift_tests, obvious, why = self._drift([e.row for e in entries if e.row is not None])
        quality_tests, schema = self._quality(entries)
        tests = drift_tests + quality_tests
        fired = [t for t, r in zip(tests, holm([t.p for t in tests])) if r and t.effect >= t.gate]
        drift = {t.field for t in fired if t.kind == "drift"} | obvious
        quality = {t.field for t in fired if t.kind == "quality"} | schema
        return drift, quality, fired, why

    def _performance(self) -> dict[str, Any]:
        ref, n = self.ref, len(self.errors)
        burn = np.array(self.burn)
        reference = max(ref.holdout_mae, float(burn.mean())) if burn.size >= self.burn_in else ref.holdout_mae
        out: dict[str, Any] = {"degraded": False, "metric": "mae", "value": None, "labelled": n,
                               "reference": round(reference, 3), "reference_from": "holdout", "p_value": None,
                               "vs_seasonal_naive": None}
        if burn.size >= self.burn_in:
            out["reference_from"] = f"first {self.burn_in} labelled forecasts"
        if not n:
            if burn.size:
                out["value"] = round(float(burn.mean()), 3)
            return out
        recent = list(self.errors)
        err = np.array([e for e, _ in recent[-self.perf_window:]])
        mae = float(err.mean())
        naive = [b for _, b in recent[-self.perf_window:] if b is not None]
        out["value"] = round(mae, 3)
        out["labelled"] = err.size
        if naive and sum(naive) > 0:
            out["vs_seasonal_naive"] = round(mae / (sum(naive) / len(naive)), 4)
        if err.size >= MIN_LABELLED and burn.size >= self.burn_in:
            p, now = self._worse(err, burn, reference)
            out["p_value"] = round(p, 6)
            earlier = np.array([e for e, _ in recent[:-self.lag][-self.perf_window:]])
            before = earlier.size >= MIN_LABELLED and self._worse(earlier, burn, reference)[1]
            out["degraded"] = bool(now and before)
        return out

    @staticmethod
    def _worse(err: np.ndarray, burn: np.ndarray, reference: float) -> tuple[float, bool]:
        """(one-sided Welch p that the error rose, whether it rose significantly and by the gate)."""
        mae = float(err.mean())
        se = math.sqrt(err.var(ddof=1) / err.size + burn.var(ddof=1) / burn.size) or 1e-9
        p = 0.5 * math.erfc((mae - reference) / se / math.sqrt(2))
        return p, p < ALPHA and mae >= MAE_GATE * reference

    def _compute(self) -> dict[str, Any]:
        performance = self._performance()
        entries = list(self.records)
        extra = {"duplicates": self.duplicates}
        if min(len(entries), len(entries) - self.lag) < MIN_WINDOW:
            empty = {"detected": False, "features": [], "window": min(len(entries), self.window), "firing_now": []}
            return {"drift": dict(empty), "data_quality": dict(empty), "performance": performance, **extra}
        cur = entries[-self.window:]
        drift, quality, fired, why = self._alarms(cur)
        lag_drift, lag_quality, _, _ = self._alarms(entries[-self.window - self.lag:-self.lag])
        drift_fields, quality_fields = sorted(drift & lag_drift), sorted(quality & lag_quality)
        return {
            "drift": {"detected": bool(drift_fields), "features": drift_fields, "window": len(cur),
                      "firing_now": sorted(drift), "tests": [t.as_dict() for t in fired if t.kind == "drift"],
                      "reasons": why},
            "data_quality": {"detected": bool(quality_fields), "features": quality_fields, "window": len(cur),
                             "firing_now": sorted(quality),
                             "tests": [t.as_dict() for t in fired if t.kind == "quality"]},
            "performance": performance,
            **extra,
        }
