"""The model: one-hot categories, numbers as they are, gradient-boosted trees (the reference's
family and settings).

The accuracy-only model and training, unchanged; the fitted pipeline also remembers the
training medians (`fill_values_`) so the service can fill gaps the same way every time.
"""
import os
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from service.fields import CATEGORICAL_FIELDS, LABEL, NUMERIC_FIELDS

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "train.csv"
CATS = list(CATEGORICAL_FIELDS)
NUMS = list(NUMERIC_FIELDS)


def model_paths():
    paths = [HERE / "model" / "model.joblib", Path("/tmp/model/model.joblib")]
    if os.environ.get("MODEL_DIR"):
        paths.insert(0, Path(os.environ["MODEL_DIR"]) / "model.joblib")
    return paths


def prepare(df):
    df = df.copy()
    for c in CATS:
        df[c] = df[c].str.strip().str.lower()
    for c in NUMS:
        df[c] = df[c].astype(float)
    return df[CATS + NUMS]


def build():
    features = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATS),
        ("num", "passthrough", NUMS),
    ])
    clf = HistGradientBoostingClassifier(learning_rate=0.05, max_iter=200, max_leaf_nodes=15, min_samples_leaf=40,
                                         l2_regularization=1.0, early_stopping=False, random_state=0)
    return Pipeline([("features", features), ("clf", clf)])


def train(path=DATA):
    df = pd.read_csv(path, dtype=str)
    df = df.dropna(subset=[LABEL])
    for c in CATS:
        df[c] = df[c].fillna("unknown")
    for c in NUMS:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    model = build()
    model.fit(prepare(df), df[LABEL])
    model.fill_values_ = {c: float(df[c].median()) for c in NUMS}
    return model


def save(model):
    for p in model_paths():
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            joblib.dump(model, p)
            return p
        except OSError:
            continue


def load():
    for p in model_paths():
        if p.exists():
            return joblib.load(p)
    model = train()
    save(model)
    return model
