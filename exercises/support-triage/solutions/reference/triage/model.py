"""Features and classifier: TF-IDF on cleaned subject+body, one-hot categories, scaled numbers.

Features are built by hand (not a ColumnTransformer over a DataFrame) because the request
path must stay cheap: a batch of 100 is a few sparse products, no pandas.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from triage.fields import CATEGORICAL_FIELDS, NUMERIC_FIELDS

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
MIN_CATEGORY_COUNT = 5  # rarer values in training are treated as never seen


def text_of(values: dict[str, Any]) -> str:
    return f"{values.get('subject') or ''} {values.get('body') or ''}".strip()


@dataclass
class Featurizer:
    vectorizer: TfidfVectorizer = field(default_factory=lambda: TfidfVectorizer(
        lowercase=True, ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True, max_features=60_000))
    vocab: dict[str, dict[str, int]] = field(default_factory=dict)  # field -> value -> column
    num_mean: dict[str, float] = field(default_factory=dict)
    num_std: dict[str, float] = field(default_factory=dict)
    n_cat: int = 0

    def fit(self, rows: list[dict[str, Any]]) -> "Featurizer":
        self.fit_transform(rows)
        return self

    def fit_transform(self, rows: list[dict[str, Any]]) -> sparse.csr_matrix:
        x_text = self.vectorizer.fit_transform([text_of(r) for r in rows])
        col = 0
        for name in CATEGORICAL_FIELDS:
            counts: dict[str, int] = {}
            for r in rows:
                v = r.get(name)
                if v is not None:
                    counts[v] = counts.get(v, 0) + 1
            self.vocab[name] = {}
            for v in sorted(k for k, n in counts.items() if n >= MIN_CATEGORY_COUNT):
                self.vocab[name][v] = col
                col += 1
        self.n_cat = col
        for name in NUMERIC_FIELDS:
            xs = np.array([math.log1p(r[name]) for r in rows if r.get(name) is not None])
            self.num_mean[name] = float(xs.mean()) if xs.size else 0.0
            self.num_std[name] = (float(xs.std()) or 1.0) if xs.size else 1.0
        return self._assemble(x_text, rows)

    def transform(self, rows: list[dict[str, Any]]) -> sparse.csr_matrix:
        return self._assemble(self.vectorizer.transform([text_of(r) for r in rows]), rows)

    def _assemble(self, x_text: sparse.spmatrix, rows: list[dict[str, Any]]) -> sparse.csr_matrix:
        n = len(rows)
        ri: list[int] = []
        ci: list[int] = []
        num = np.zeros((n, 2 * len(NUMERIC_FIELDS)))
        for i, r in enumerate(rows):
            for name in CATEGORICAL_FIELDS:
                j = self.vocab[name].get(r.get(name))
                if j is not None:
                    ri.append(i)
                    ci.append(j)
            for k, name in enumerate(NUMERIC_FIELDS):
                v = r.get(name)
                if v is None:
                    num[i, 2 * k + 1] = 1.0  # missing indicator; the value stays at the mean (0)
                else:
                    num[i, 2 * k] = (math.log1p(v) - self.num_mean[name]) / self.num_std[name]
        cat = sparse.csr_matrix((np.ones(len(ri)), (ri, ci)), shape=(n, self.n_cat))
        return sparse.hstack([x_text, cat, sparse.csr_matrix(num)], format="csr")

    def unseen_categories(self, r: dict[str, Any]) -> list[str]:
        return [n for n in CATEGORICAL_FIELDS if r.get(n) is not None and r[n] not in self.vocab[n]]

    def known_fraction(self, r: dict[str, Any]) -> float:
        tokens = _TOKEN.findall(text_of(r).lower())
        if not tokens:
            return 0.0
        vocab = self.vectorizer.vocabulary_
        return sum(t in vocab for t in tokens) / len(tokens)


@dataclass
class Classifier:
    featurizer: Featurizer
    model: LogisticRegression
    classes: list[str]

    @classmethod
    def fit(cls, rows: list[dict[str, Any]], labels: list[str], holdout: np.ndarray | None = None,
            C: float = 4.0) -> tuple["Classifier", np.ndarray | None]:
        """Fit; with a boolean `holdout` mask, first fit without those rows and return their
        probabilities (to calibrate thresholds), then refit on everything from that start."""
        feat = Featurizer()
        x = feat.fit_transform(rows)
        y = np.asarray(labels, dtype=object)
        lr = LogisticRegression(C=C, max_iter=200, tol=1e-3)
        hold_proba = None
        if holdout is not None and holdout.any():
            lr.fit(x[~holdout], y[~holdout])
            hold_proba = lr.predict_proba(x[holdout])
            lr.set_params(warm_start=True)  # the refit starts from the holdout model: a few steps
        lr.fit(x, y)
        return cls(feat, lr, [str(c) for c in lr.classes_]), hold_proba

    def predict_proba(self, rows: list[dict[str, Any]]) -> np.ndarray:
        if not rows:
            return np.zeros((0, len(self.classes)))
        # softmax of the linear scores, without sklearn's per-call input validation
        scores = self.featurizer.transform(rows) @ self.model.coef_.T + self.model.intercept_
        scores = np.asarray(scores)
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)
