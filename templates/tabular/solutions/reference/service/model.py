"""Features and model: gradient-boosted trees on cleaned numbers and one-hot categories, a classifier
for classes or a regressor for a numeric target (service/fields.py TARGET).

The group fields (service/fields.py GROUPS) are not features: a group is never a reason on
its own; the monitor watches outcomes per group instead. Missing values stay NaN (the trees
learn where to send them), so an upstream outage degrades the score instead of breaking it.
Features are built by hand (no pandas on the request path): a batch of 100 is one small numpy matrix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from service.fields import CATEGORICAL_FIELDS, GROUPS, NUMERIC_FIELDS

FEATURE_CATEGORIES: tuple[str, ...] = tuple(f for f in CATEGORICAL_FIELDS if f not in GROUPS)
NUMERIC_FEATURES: tuple[str, ...] = tuple(NUMERIC_FIELDS)
MIN_CATEGORY_COUNT = 5  # rarer values in training are treated as never seen


@dataclass
class Featurizer:
    vocab: dict[str, dict[str, int]] = field(default_factory=dict)  # field -> value -> column
    seen: dict[str, set[str]] = field(default_factory=dict)  # every value seen >= MIN_CATEGORY_COUNT

    def fit(self, rows: list[dict[str, Any]]) -> "Featurizer":
        col = len(NUMERIC_FEATURES)
        for name in CATEGORICAL_FIELDS:
            counts: dict[str, int] = {}
            for r in rows:
                v = r.get(name)
                if v is not None:
                    counts[v] = counts.get(v, 0) + 1
            self.seen[name] = {v for v, n in counts.items() if n >= MIN_CATEGORY_COUNT}
            if name in FEATURE_CATEGORIES:
                self.vocab[name] = {}
                for v in sorted(self.seen[name]):
                    self.vocab[name][v] = col
                    col += 1
        return self

    @property
    def width(self) -> int:
        return len(NUMERIC_FEATURES) + sum(len(v) for v in self.vocab.values())

    def transform(self, rows: list[dict[str, Any]]) -> np.ndarray:
        x = np.zeros((len(rows), self.width))
        for i, r in enumerate(rows):
            for k, name in enumerate(NUMERIC_FEATURES):
                v = r.get(name)
                x[i, k] = np.nan if v is None else float(v)  # trees split on ranks: no transform needed
            for name, cols in self.vocab.items():
                j = cols.get(r.get(name))
                if j is not None:
                    x[i, j] = 1.0
                elif r.get(name) is None:
                    for j in cols.values():  # missing: unknown, not "none of them"
                        x[i, j] = np.nan
        return x

    def unseen_categories(self, r: dict[str, Any]) -> list[str]:
        return [n for n in CATEGORICAL_FIELDS if r.get(n) is not None and r[n] not in self.seen[n]]


def new_estimator(seed: int = 0) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=200, max_leaf_nodes=15,
                                          min_samples_leaf=40, l2_regularization=1.0,
                                          early_stopping=False, random_state=seed)


@dataclass
class Classifier:
    featurizer: Featurizer
    model: HistGradientBoostingClassifier
    classes: list[str]

    @classmethod
    def fit(cls, rows: list[dict[str, Any]], labels: list[str], seed: int = 0) -> "Classifier":
        feat = Featurizer().fit(rows)
        model = new_estimator(seed).fit(feat.transform(rows), np.asarray(labels, dtype=object))
        return cls(feat, model, [str(c) for c in model.classes_])

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        if not rows:
            return np.zeros((0, len(self.classes)))
        return self.model.predict_proba(self.featurizer.transform(rows))

    def predict_without(self, rows: list[dict[str, Any]], fields: list[str]) -> np.ndarray:
        """Probabilities with `fields` treated as missing: the model without the unfamiliar input."""
        return self.predict_proba([{**r, **{f: None for f in fields}} for r in rows])


def new_regressor(seed: int = 0) -> HistGradientBoostingRegressor:
    # the classifier's settings; absolute error because the grade is MAE (whose best answer is the
    # conditional median) and because the loss shrugs off the training values keyed ten times too high
    # or too low, where squared error chases them (measured: MAE 345 against 306 on a skewed target)
    return HistGradientBoostingRegressor(loss="absolute_error", learning_rate=0.05, max_iter=200, max_leaf_nodes=15,
                                         min_samples_leaf=40, l2_regularization=1.0, early_stopping=False,
                                         random_state=seed)


def quantile_skew(y: np.ndarray) -> float:
    """Kelly's skewness, (q90 + q10 - 2 q50) / (q90 - q10): the few mis-keyed values in the tails cannot move it."""
    lo, mid, hi = np.quantile(y, [0.1, 0.5, 0.9])
    return 0.0 if hi <= lo else float((hi + lo - 2 * mid) / (hi - lo))


def wants_log(targets: np.ndarray) -> bool:
    """Fit on log(target) when every training value is positive and the log makes them more symmetric
    (amounts, prices, durations): the trees then learn multiplicative effects as additive ones. Decided
    from the training data, once, so the holdout model and the final one agree."""
    y = np.asarray(targets, dtype=float)
    return bool(y.size and (y > 0).all() and abs(quantile_skew(np.log(y))) < abs(quantile_skew(y)))


@dataclass
class Regressor:
    featurizer: Featurizer
    model: HistGradientBoostingRegressor
    log: bool  # fitted on log(target)

    @classmethod
    def fit(cls, rows: list[dict[str, Any]], targets: list[float] | np.ndarray, log: bool = False,
            seed: int = 0) -> "Regressor":
        feat = Featurizer().fit(rows)
        y = np.asarray(targets, dtype=float)
        model = new_regressor(seed).fit(feat.transform(rows), np.log(y) if log else y)
        return cls(feat, model, log)

    def predict(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """One number per row; inf or NaN only when the model itself fails (the caller falls back)."""
        if not rows:
            return np.zeros(0)
        z = self.model.predict(self.featurizer.transform(rows))
        if not self.log:
            return z
        with np.errstate(over="ignore"):
            return np.exp(z)
