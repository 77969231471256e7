"""Substation demand forecasting API."""
from contextlib import asynccontextmanager

import pandas as pd
from fastapi import FastAPI

from model import load, predict as forecast

state = {}


@asynccontextmanager
async def lifespan(app):
    state["model"] = load()
    yield


app = FastAPI(title="load-forecast", lifespan=lifespan)


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict")
def predict(payload: dict):
    df = pd.DataFrame(payload["records"])
    preds = forecast(state["model"], df)
    return {"results": [{"id": rid, "status": "ok", "prediction": float(p), "confidence": None, "issues": []}
                        for rid, p in zip(df["id"], preds)]}
