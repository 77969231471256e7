"""Features and regressor: gradient-boosted trees on the relative change from the lagged demand.

The target is the ratio of the demand to its base (the demand one day earlier, else one week
earlier), so one model serves substations of any size; the forecast is base x ratio. Features:
the half-hour of day and the weekday in local time (UTC+10: people's routines), the working-day
flag, the site, the temperature, both lags (relative to the base) and their ratio. Missing values
stay NaN (the trees learn where to send them), so a missing temperature or an unreadable
timestamp degrades the forecast instead of breaking it. Features are built by hand (no pandas
on the request path).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from forecast.fields import LOCAL, SITES, TIME

FEATURES = ("half_hour", "weekday", "workday", *(f"site_{s}" for s in SITES), "temperature_c", "lag_ratio",
            "log_base")
RATIO_RANGE = (0.3, 3.0)  # a training actual this far from its lag is a meter glitch (0, or ten times)


def base_of(r: dict[str, Any]) -> float | None:
    """The seasonal-naive forecast: the demand one day earlier, else one week earlier."""
    for name in ("load_yesterday_mw", "load_last_week_mw"):
        v = r.get(name)
        if v is not None:
            return float(v)
    return None


def features(rows: list[dict[str, Any]]) -> np.ndarray:
    x = np.full((len(rows), len(FEATURES)), np.nan)
    for i, r in enumerate(rows):
        ts = r.get(TIME)
        if ts is not None:
            local = ts.astimezone(LOCAL)
            x[i, 0] = local.hour * 2 + local.minute // 30
            x[i, 1] = local.weekday()
        wd = r.get("workday")
        x[i, 2] = np.nan if wd is None else float(wd == "yes")
        site = r.get("site")
        if site is not None:
            x[i, 3:3 + len(SITES)] = [float(site == s) for s in SITES]
        t = r.get("temperature_c")
        x[i, 6] = np.nan if t is None else t
        day, week = r.get("load_yesterday_mw"), r.get("load_last_week_mw")
        if day is not None and week is not None and week > 0:
            x[i, 7] = day / week
        base = base_of(r)
        x[i, 8] = np.log1p(base) if base is not None else np.nan
    return x


def new_estimator(seed: int = 0) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(loss="absolute_error", learning_rate=0.08, max_iter=300, max_leaf_nodes=31,
                                         min_samples_leaf=20, l2_regularization=1.0, early_stopping=False,
                                         random_state=seed)


@dataclass
class Forecaster:
    model: HistGradientBoostingRegressor

    @classmethod
    def fit(cls, rows: list[dict[str, Any]], targets: list[float], seed: int = 0) -> "Forecaster":
        bases = np.array([base_of(r) for r in rows], dtype=float)
        ratio = np.asarray(targets, dtype=float) / np.maximum(bases, 1e-6)
        return cls(new_estimator(seed).fit(features(rows), ratio))

    def predict(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """MW; NaN where a row has no base (the caller never sends one: such a record is invalid)."""
        if not rows:
            return np.zeros(0)
        bases = np.array([np.nan if (b := base_of(r)) is None else b for r in rows], dtype=float)
        return bases * self.model.predict(features(rows))

    def predict_without(self, rows: list[dict[str, Any]], fields: list[str]) -> np.ndarray:
        return self.predict([{**r, **{f: None for f in fields}} for r in rows])


def usable_target(row: dict[str, Any], y: float | None) -> bool:
    """A training actual worth learning from: present, positive, not a glitch against its lag."""
    base = base_of(row)
    if y is None or base is None or base <= 0 or y <= 0:
        return False
    return RATIO_RANGE[0] <= y / base <= RATIO_RANGE[1]
