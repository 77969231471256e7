"""Scoring API: the model, served."""
from contextlib import asynccontextmanager

import pandas as pd
from fastapi import FastAPI

from model import NUMERIC_TARGET, load, prepare
from service.fields import EXERCISE

state = {}


@asynccontextmanager
async def lifespan(app):
    state["model"] = load()
    yield


app = FastAPI(title=EXERCISE, lifespan=lifespan)


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict")
def predict(payload: dict):
    model = state["model"]
    df = pd.DataFrame(payload["records"])
    if NUMERIC_TARGET:
        return {"results": [{"id": rid, "status": "ok", "prediction": float(y), "confidence": None, "issues": []}
                            for rid, y in zip(df["id"], model.predict(prepare(df)))]}
    proba = model.predict_proba(prepare(df))
    classes = model.classes_
    results = []
    for rid, p in zip(df["id"], proba):
        k = p.argmax()
        results.append({"id": rid, "status": "ok", "prediction": str(classes[k]),
                        "confidence": float(p[k]), "issues": []})
    return {"results": results}
