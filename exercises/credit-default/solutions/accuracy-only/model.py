"""Default-risk model: one-hot categories, numbers as they are, the age from the date of birth,
gradient-boosted trees (the same family and settings as solutions/reference)."""
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "train.csv"
CATS = ["sex", "education", "marital_status", "employment_type"]
NUMS = ["credit_limit", "annual_income", "repayment_status", "repayment_status_prev", "bill_amount", "paid_amount"]
AMOUNTS = ["credit_limit", "annual_income", "bill_amount", "paid_amount"]
LABEL = "outcome"


def model_paths():
    paths = [HERE / "model" / "model.joblib", Path("/tmp/model/model.joblib")]
    if os.environ.get("MODEL_DIR"):
        paths.insert(0, Path(os.environ["MODEL_DIR"]) / "model.joblib")
    return paths


def prepare(df):
    df = df.copy()
    born = pd.to_datetime(df["date_of_birth"], format="%Y-%m-%d")
    applied = pd.to_datetime(df["applied_at"], format="%Y-%m-%dT%H:%M:%SZ")
    df["age"] = (applied - born).dt.days / 365.25
    for c in CATS:
        df[c] = df[c].str.strip().str.lower()
    for c in NUMS:
        df[c] = df[c].astype(float)
    for c in AMOUNTS:
        df[c] = np.sign(df[c]) * np.log1p(df[c].abs())
    return df[CATS + NUMS + ["age"]]


def build():
    features = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATS),
        ("num", "passthrough", NUMS + ["age"]),
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
    df["date_of_birth"] = pd.to_datetime(df["date_of_birth"], format="%Y-%m-%d", errors="coerce").dt.strftime("%Y-%m-%d")
    df["applied_at"] = pd.to_datetime(df["applied_at"], format="%Y-%m-%dT%H:%M:%SZ", errors="coerce") \
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    model = build()
    model.fit(prepare(df), df[LABEL])
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
