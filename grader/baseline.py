"""Naive baselines the accuracy checks are anchored on: the majority class and a plain model.

The plain model is what any candidate could write in ten minutes: TF-IDF over subject +
body, logistic regression, no cleaning beyond "use it if it is a string". A candidate's
accuracy is scored between the two on exactly the records the candidate was scored on
(CheckContext.baseline_predictions), so the anchors move with the traffic.

Fitted once per (dataset, seed, root) per process; fitting takes a few seconds.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from threadpoolctl import threadpool_limits

from harness.data.truth import ScenarioTraffic

log = logging.getLogger(__name__)

TEXT_FIELDS = ("subject", "body")
MODELS = ("majority", "plain_model")


def record_text(record: Mapping[str, Any]) -> str:
    """subject + body, each used only when it is a string (messy records stay usable)."""
    return " ".join(v for v in (record.get(f) for f in TEXT_FIELDS) if isinstance(v, str))


@dataclass
class Baselines:
    label: str
    classes: list[str]
    majority: str
    model: Pipeline
    train_rows: int

    @classmethod
    def fit(cls, frame: pd.DataFrame, label: str) -> "Baselines":
        df = frame[frame[label].notna()]
        y = df[label].astype(str).str.strip()
        if y.empty:
            raise ValueError("training data has no labelled rows")
        texts = [record_text(r) for r in df[list(c for c in TEXT_FIELDS if c in df.columns)].to_dict("records")]
        model = make_pipeline(
            TfidfVectorizer(min_df=2, sublinear_tf=True, max_features=50_000),
            LogisticRegression(max_iter=300, tol=1e-3),
        )
        # one BLAS thread: on a shared 2-core machine threading made this fit 10x slower, not faster
        with threadpool_limits(limits=1):
            model.fit(texts, y)
        majority = Counter(y).most_common(1)[0][0]
        log.debug("baselines fitted on %d rows; majority class %s", len(df), majority)
        return cls(label=label, classes=sorted(y.unique()), majority=majority, model=model, train_rows=len(df))

    @classmethod
    def for_exercise(cls, dataset: str, label: str, seed: int, root: Path | None = None) -> "Baselines":
        return _cached(dataset, label, seed, root)

    def predict(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        texts = [record_text(r) for r in records]
        if not texts:
            return []
        with threadpool_limits(limits=1):
            return [str(p) for p in self.model.predict(texts)]

    def predictions(self, traffic: ScenarioTraffic | Mapping[str, ScenarioTraffic],
                    models: tuple[str, ...] = MODELS) -> dict[str, dict[str, str]]:
        """{"majority": {id: label}, "plain_model": {id: label}} for every record — CheckContext.baseline_predictions."""
        ids, records = [], []
        for sc in _scenarios(traffic):
            for ph in sc.phases:
                for rec, truth in zip(ph.records, ph.truths):
                    ids.append(truth.id)
                    records.append(rec if isinstance(rec, Mapping) else {})
        out: dict[str, dict[str, str]] = {}
        if "majority" in models:
            out["majority"] = {i: self.majority for i in ids}
        if "plain_model" in models:
            out["plain_model"] = dict(zip(ids, self.predict(records)))
        return out

    def accuracy_per_phase(self, traffic: ScenarioTraffic | Mapping[str, ScenarioTraffic],
                           model: str = "plain_model") -> dict[tuple[str, str], float]:
        """Accuracy of one baseline on the usable (non-invalid, labelled) records of each phase."""
        if model not in MODELS:
            raise ValueError(f"unknown baseline {model!r}; known: {', '.join(MODELS)}")
        preds = self.predictions(traffic, (model,))[model]
        out: dict[tuple[str, str], float] = {}
        for sc in _scenarios(traffic):
            for ph in sc.phases:
                usable = [t for t in ph.truths if t.kind != "invalid" and t.label is not None]
                if usable:
                    out[(sc.scenario, ph.truth.name)] = sum(preds[t.id] == t.label for t in usable) / len(usable)
        return out


def _scenarios(traffic: ScenarioTraffic | Mapping[str, ScenarioTraffic]) -> list[ScenarioTraffic]:
    return [traffic] if isinstance(traffic, ScenarioTraffic) else list(traffic.values())


@lru_cache(maxsize=4)
def _cached(dataset: str, label: str, seed: int, root: Path | None) -> Baselines:
    from harness.data.engine import generate_training, load_recipe

    recipe = load_recipe(dataset, root)
    frame = generate_training(recipe, seed).frame
    return Baselines.fit(frame, label)
