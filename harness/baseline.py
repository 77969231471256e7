"""Naive baselines the accuracy checks are anchored on: the majority class and a plain model.

The plain model is what any candidate could write in ten minutes, one per kind of data
(`BaselineSpec.kind`, chosen by the data-kind plug-in in harness.data.kinds):

- text: TF-IDF over the text fields, logistic regression, no cleaning beyond "use it if it
  is a string";
- tabular: one-hot categoricals, standardised numerics (median-imputed, with missing
  indicators), a date as its year, logistic regression; no cleaning beyond "use it if it is
  a plain number / a string / an ISO date".

A candidate's accuracy is scored between the two on exactly the records the candidate was
scored on (CheckContext.baseline_predictions), so the anchors move with the traffic. The
same plain model is calibration's performance model (harness.calibration).

Fitted once per (dataset, seed, root) per process; fitting takes a few seconds.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from pathlib import Path
from datetime import date, datetime
from typing import Any, Iterable, Literal, Mapping

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from threadpoolctl import threadpool_limits

from grader.truth import ScenarioTraffic

log = logging.getLogger(__name__)

MODELS = ("majority", "plain_model")


class BaselineSpec(BaseModel):
    """Which raw fields the plain model reads, and how: given by the recipe's data-kind plug-in."""

    kind: Literal["text", "tabular"]
    text: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    dates: list[str] = Field(default_factory=list)

    @property
    def describe(self) -> str:
        """The plain model in a few words, for evidence a person reads."""
        if self.kind == "text":
            return f"a plain TF-IDF + logistic regression on {' and '.join(self.text)}"
        return "a plain one-hot + standardised numbers + logistic regression"


def record_text(record: Mapping[str, Any], fields: Iterable[str]) -> str:
    """The text fields joined, each used only when it is a string (messy records stay usable)."""
    return " ".join(v for v in (record.get(f) for f in fields) if isinstance(v, str))


def _plain_number(v: Any) -> float:
    if isinstance(v, bool) or v is None:
        return np.nan
    if isinstance(v, (int, float)):
        return float(v) if np.isfinite(v) else np.nan
    if isinstance(v, str):
        try:
            x = float(v)
        except ValueError:
            return np.nan
        return x if np.isfinite(x) else np.nan
    return np.nan


def _plain_year(v: Any) -> float:
    if isinstance(v, (datetime, date)):
        return float(v.year) + (v.timetuple().tm_yday - 1) / 366 if not pd.isna(v) else np.nan
    if isinstance(v, str) and len(v) == 10:
        try:
            d = datetime.strptime(v, "%Y-%m-%d")
        except ValueError:
            return np.nan
        return d.year + (d.timetuple().tm_yday - 1) / 366
    return np.nan


def tabular_features(records: list[Mapping[str, Any]], spec: BaselineSpec) -> pd.DataFrame:
    """The plain tabular model's input: numbers as numbers, strings as categories, ISO dates as years."""
    cols: dict[str, list[Any]] = {}
    for f in spec.numeric:
        cols[f] = [_plain_number(r.get(f)) for r in records]
    for f in spec.dates:
        cols[f] = [_plain_year(r.get(f)) for r in records]
    for f in spec.categorical:
        cols[f] = [v if isinstance(v, str) else "(none)" for v in (r.get(f) for r in records)]
    return pd.DataFrame(cols, index=range(len(records)))


def _tabular_model(spec: BaselineSpec) -> Pipeline:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                            StandardScaler())
    columns = ColumnTransformer([
        ("numeric", numeric, spec.numeric + spec.dates),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), spec.categorical),
    ])
    return make_pipeline(columns, LogisticRegression(max_iter=500, tol=1e-4))


def _inputs(records: list[Mapping[str, Any]], spec: BaselineSpec) -> Any:
    if spec.kind == "tabular":
        return tabular_features(records, spec)
    return [record_text(r, spec.text) for r in records]


@dataclass
class Baselines:
    label: str
    classes: list[str]
    majority: str
    model: Pipeline
    train_rows: int
    spec: BaselineSpec

    @classmethod
    def fit(cls, frame: pd.DataFrame, label: str, spec: BaselineSpec) -> "Baselines":
        df = frame[frame[label].notna()]
        y = df[label].astype(str).str.strip()
        if y.empty:
            raise ValueError("training data has no labelled rows")
        wanted = spec.text if spec.kind == "text" else spec.numeric + spec.dates + spec.categorical
        records = df[[c for c in wanted if c in df.columns]].to_dict("records")
        if spec.kind == "tabular":
            model = _tabular_model(spec)
        else:
            model = make_pipeline(
                TfidfVectorizer(min_df=2, sublinear_tf=True, max_features=50_000),
                LogisticRegression(max_iter=300, tol=1e-3),
            )
        # one BLAS thread: on a shared 2-core machine threading made this fit 10x slower, not faster
        with threadpool_limits(limits=1):
            model.fit(_inputs(records, spec), y)
        majority = Counter(y).most_common(1)[0][0]
        log.debug("%s baselines fitted on %d rows; majority class %s", spec.kind, len(df), majority)
        return cls(label=label, classes=sorted(y.unique()), majority=majority, model=model, train_rows=len(df),
                   spec=spec)

    @classmethod
    def for_exercise(cls, dataset: str, label: str, seed: int, root: Path | None = None) -> "Baselines":
        return _cached(dataset, label, seed, root)

    def predict(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        rows = [r if isinstance(r, Mapping) else {} for r in records]
        if not rows:
            return []
        with threadpool_limits(limits=1):
            return [str(p) for p in self.model.predict(_inputs(rows, self.spec))]

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
    from harness.data.kinds import kind_for

    recipe = load_recipe(dataset, root)
    frame = generate_training(recipe, seed).frame
    return Baselines.fit(frame, label, kind_for(recipe).baseline_spec(recipe))
