"""Ticket router: TF-IDF on subject+body, one-hot categories, scaled numbers, logistic regression.

The accuracy-only model and training, unchanged; the fitted pipeline also remembers the
training medians (`fill_values_`) so the service can fill gaps the same way training did.
"""
import os
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "train.csv"
CATS = ["channel", "customer_tier", "product", "language"]
NUMS = ["account_age_days", "prior_tickets", "order_value"]
LABEL = "queue"


def model_paths():
    paths = [HERE / "model" / "model.joblib", Path("/tmp/model/model.joblib")]
    if os.environ.get("MODEL_DIR"):
        paths.insert(0, Path(os.environ["MODEL_DIR"]) / "model.joblib")
    return paths


def prepare(df):
    df = df.copy()
    df["text"] = df["subject"] + " " + df["body"]
    for c in CATS:
        df[c] = df[c].str.strip().str.lower()
    for c in NUMS:
        df[c] = df[c].astype(float)
    return df[["text"] + CATS + NUMS]


def build():
    features = ColumnTransformer([
        ("text", TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True), "text"),
        ("cat", OneHotEncoder(handle_unknown="ignore"), CATS),
        ("num", StandardScaler(), NUMS),
    ])
    return Pipeline([("features", features), ("clf", LogisticRegression(C=4.0, max_iter=300, tol=1e-3))])


def train(path=DATA):
    df = pd.read_csv(path)
    df = df.dropna(subset=[LABEL])
    df["subject"] = df["subject"].fillna("")
    df["body"] = df["body"].fillna("")
    for c in CATS:
        df[c] = df[c].fillna("unknown")
    medians = {}
    for c in NUMS:
        df[c] = pd.to_numeric(df[c], errors="coerce")
        medians[c] = float(df[c].median())
        df[c] = df[c].fillna(medians[c])
    model = build()
    model.fit(prepare(df), df[LABEL])
    model.fill_values_ = medians
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
