"""Naive baselines the accuracy checks are anchored on: the majority class and a plain model.

The plain model is what any candidate could write in ten minutes. What it reads is the data
kind's (`BaselineSpec.inputs`, harness.data.features, given by the data-kind plug-in); what it
predicts is the label's (`BaselineSpec.target`):

- text inputs: TF-IDF over the text fields, logistic regression, no cleaning beyond "use it if
  it is a string";
- column inputs, a class: one-hot categoricals, standardised numerics (median-imputed, with
  missing indicators), a date as its year, logistic regression; no cleaning beyond "use it if it
  is a plain number / a string / an ISO date";
- column inputs, a number: the same features plus the hour of day of an ISO timestamp when the
  kind names one, gradient-boosted trees for the absolute error on a log scale; its naive
  partner is the seasonal-naive forecast, the record's own value one season earlier
  (`BaselineSpec.seasonal`), used when it is a plain number.

A candidate's accuracy is scored between the two on exactly the records the candidate was
scored on (CheckContext.baseline_predictions), so the anchors move with the traffic. The
same plain model is calibration's performance model (harness.calibration).

Fitted once per (dataset, seed, root) per process; fitting takes a few seconds.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from grader.truth import ScenarioTraffic
from harness.data.engine import generate_training, load_recipe
from harness.data.features import BaselineSpec
from harness.data.kinds import kind_for

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

MODELS = ("majority", "plain_model")


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
    if spec.hour_of:
        cols[HOUR] = [_plain_hour(r.get(spec.hour_of)) for r in records]
    return pd.DataFrame(cols, index=range(len(records)))


HOUR = "__hour__"


def _plain_hour(v: Any) -> str:
    """The hour of an ISO 8601 UTC timestamp (`2025-03-14T09:30:00Z`), else "(none)"."""
    if isinstance(v, datetime) and not pd.isna(v):  # typed clean records (calibration)
        return f"{v.hour:02d}"
    if isinstance(v, str) and len(v) == 20 and v[10] == "T" and v.endswith("Z"):
        return v[11:13]
    return "(none)"


def _tabular_model(spec: BaselineSpec) -> Pipeline:
    # scikit-learn loads on first fit, not at import: a grading imports this module on its
    # critical path while the fit itself runs on the planning thread
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                            StandardScaler())
    if spec.regression:
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.preprocessing import OrdinalEncoder

        # Trees on the raw plain features, fitted for the metric it is graded on (absolute error,
        # which also shrugs off the few glitched actuals), on a log scale: demand at sites of
        # different sizes is multiplicative. A linear model on these features does no better
        # than the seasonal-naive forecast (measured: 85.6 vs 85.1 MW), so it anchors nothing.
        cats = spec.categorical + ([HOUR] if spec.hour_of else [])
        encode = ColumnTransformer(
            [("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                            encoded_missing_value=-1), cats)],
            remainder="passthrough")
        trees = HistGradientBoostingRegressor(loss="absolute_error", max_iter=200, random_state=0,
                                              categorical_features=list(range(len(cats))))
        return TransformedTargetRegressor(regressor=make_pipeline(encode, trees), func=_log_positive,
                                          inverse_func=np.exp, check_inverse=False)
    columns = ColumnTransformer([
        ("numeric", numeric, spec.numeric + spec.dates),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), spec.categorical + ([HOUR] if spec.hour_of else [])),
    ])
    return make_pipeline(columns, LogisticRegression(max_iter=500, tol=1e-4))


def _log_positive(x: Any) -> Any:
    """log of values >= 1 (a zero or negative reading is a glitch, kept finite); NaN stays NaN."""
    return np.log(np.clip(np.asarray(x, dtype=float), 1.0, None))


def _inputs(records: list[Mapping[str, Any]], spec: BaselineSpec) -> Any:
    if spec.inputs == "columns":
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
        if spec.regression:  # plain: the actuals as numbers, whatever they are (glitches included)
            df = df[pd.to_numeric(df[label], errors="coerce").notna()]
            y = pd.to_numeric(df[label])
        else:
            y = df[label].astype(str).str.strip()
        if y.empty:
            raise ValueError("training data has no labelled rows")
        wanted = spec.text if spec.inputs == "text" else (
            spec.numeric + spec.dates + spec.categorical + ([spec.hour_of] if spec.hour_of else []))
        records = df[[c for c in wanted if c in df.columns]].to_dict("records")
        if spec.inputs == "columns":
            model = _tabular_model(spec)
        elif spec.regression:
            raise ValueError("no plain model reads text for a numeric label: give the recipe classes")
        else:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline

            model = make_pipeline(
                TfidfVectorizer(min_df=2, sublinear_tf=True, max_features=50_000),
                LogisticRegression(max_iter=300, tol=1e-3),
            )
        # one BLAS thread: on a shared 2-core machine threading made this fit 10x slower, not faster
        with threadpool_limits(limits=1):
            model.fit(_inputs(records, spec), y)
        majority = "" if spec.regression else Counter(y).most_common(1)[0][0]
        log.debug("%s baselines fitted on %d rows; majority class %s", spec.inputs, len(df), majority)
        return cls(label=label, classes=[] if spec.regression else sorted(y.unique()), majority=majority, model=model,
                   train_rows=len(df), spec=spec)

    @classmethod
    def for_exercise(cls, dataset: str, label: str, seed: int, root: Path | None = None) -> "Baselines":
        return _cached(dataset, label, seed, root)

    def predict(self, records: Iterable[Mapping[str, Any]]) -> list[Any]:
        """Class labels (str), or numbers rounded to 0.1 for a numeric target."""
        rows = [r if isinstance(r, Mapping) else {} for r in records]
        if not rows:
            return []
        with threadpool_limits(limits=1):
            out = self.model.predict(_inputs(rows, self.spec))
        return [round(float(p), 1) for p in out] if self.spec.regression else [str(p) for p in out]

    def predictions(self, traffic: ScenarioTraffic | Mapping[str, ScenarioTraffic],
                    models: tuple[str, ...] = MODELS) -> dict[str, dict[str, Any]]:
        """{"majority": {id: label}, "plain_model": {id: label}} for every record — CheckContext.baseline_predictions.

        For a numeric target: {"seasonal_naive": {id: number}, "plain_model": {id: number}}, the
        seasonal value only where the record carries it as a plain number."""
        ids, records = [], []
        for sc in _scenarios(traffic):
            for ph in sc.phases:
                for rec, truth in zip(ph.records, ph.truths):
                    ids.append(truth.id)
                    records.append(rec if isinstance(rec, Mapping) else {})
        out: dict[str, dict[str, Any]] = {}
        if self.spec.regression:
            # no majority class for a number: the naive partner is the value one season earlier
            out["seasonal_naive"] = {i: v for i, r in zip(ids, records)
                                     if (v := _plain_number(r.get(self.spec.seasonal))) == v}
            out["plain_model"] = dict(zip(ids, self.predict(records)))
            return out
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
    recipe = load_recipe(dataset, root)
    frame = generate_training(recipe, seed).frame
    return Baselines.fit(frame, label, kind_for(recipe).baseline_spec(recipe))
