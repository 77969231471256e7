"""Columns that give the target away: one column alone predicting it almost perfectly.

A table exported from a live system often holds the outcome twice (a status beside the
label, a field filled in after the fact). A candidate's model would learn that column and
nothing else, and every shift would be invisible to it. Each column alone is fitted on half
of the rows and scored on the other half: a category by its values' majority class (or
mean), a number by a shallow tree. A column that closes LEAKS of the gap from chance to a
perfect score names itself: balanced accuracy (chance is 1/classes) or R² (chance is 0).
Strong honest features stay well below (diamonds' carat alone: R² 0.87; nassCDS's injury
severity, recorded after the crash, predicts death with balanced accuracy 0.96).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from harness.authoring.schema import Column, TargetKind, numbers

LEAKS = 0.9
_ROWS = 20_000  # enough to tell a leak from a strong feature; keeps a wide table quick
_SPLIT_SEED = 0x1EA


def _halves(n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(_SPLIT_SEED).permutation(n)
    return order[: n // 2], order[n // 2:]


def _by_value(x: pd.Series, y: pd.Series, fit: np.ndarray, test: np.ndarray, regression: bool) -> np.ndarray:
    keys = x.astype(str).fillna("<missing>")
    train = pd.DataFrame({"k": keys.iloc[fit].to_numpy(), "y": y.iloc[fit].to_numpy()})
    if regression:
        table = train.groupby("k")["y"].mean()
        fallback: object = float(train["y"].mean())
    else:
        table = train.groupby("k")["y"].agg(lambda s: s.value_counts().index[0])
        fallback = train["y"].value_counts().index[0]
    return keys.iloc[test].map(table).fillna(fallback).to_numpy()  # type: ignore[arg-type]


def _by_tree(x: pd.Series, y: pd.Series, fit: np.ndarray, test: np.ndarray, regression: bool) -> np.ndarray:
    v = numbers(x).to_numpy(dtype=float)
    v = np.where(np.isnan(v), np.nanmin(v) - 1 if np.isfinite(np.nanmin(v)) else 0.0, v).reshape(-1, 1)
    model = (DecisionTreeRegressor if regression else DecisionTreeClassifier)(max_depth=4, random_state=0)
    model.fit(v[fit], y.iloc[fit].to_numpy())
    return model.predict(v[test])


def predictiveness(x: pd.Series, y: pd.Series, kind: str, target: TargetKind) -> float:
    """How well the column alone predicts the target on rows it was not fitted on (the raw metric)."""
    regression = target == "regression"
    fit, test = _halves(len(y))
    guess = (_by_tree if kind == "number" else _by_value)(x, y, fit, test, regression)
    truth = y.iloc[test].to_numpy()
    if regression:
        return float(r2_score(truth.astype(float), guess.astype(float)))
    return float(balanced_accuracy_score(truth.astype(str), guess.astype(str)))


def signals(frame: pd.DataFrame, target: str, target_kind: TargetKind, columns: list[Column]) -> dict[str, float]:
    """{column: the share of the gap from chance to perfect it closes alone} for every number and category
    feature: at or above LEAKS it gives the target away; the strongest below are the fields shifts aim at."""
    rows = frame.dropna(subset=[target])
    if len(rows) > _ROWS:
        rows = rows.sample(_ROWS, random_state=_SPLIT_SEED)
    y = numbers(rows[target]) if target_kind == "regression" else rows[target].astype(str)
    chance = 0.0 if target_kind == "regression" else 1 / y.nunique()
    out = {}
    for col in columns:
        if col.role not in ("feature", "group") or col.kind in ("text", "identifier", "datetime"):
            continue
        score = predictiveness(rows[col.name], y, col.kind, target_kind)
        out[col.name] = round(max(0.0, (score - chance) / (1 - chance)), 4)
    return out
