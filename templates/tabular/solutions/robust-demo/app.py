"""Scoring API — the accuracy-only demo made never to crash.

Whatever arrives is coerced into something the model can score: numbers through
pd.to_numeric(errors="coerce") (what cannot be read, " 1,234 " included, becomes the training
median), categories stripped and lower-cased (a missing one is "unknown", as in training),
unknown fields ignored and missing ones added. Every record is answered "ok"
with a prediction and no issues; nothing is ever "coerced", "invalid" or "fallback". Labels
sent to /feedback are accepted and ignored, and /monitoring never raises an alarm. A numeric
target (service/fields.py TARGET) is answered with a number and no confidence.
"""
import json
import logging
import math
from contextlib import asynccontextmanager

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from model import CATS, NUMERIC_TARGET, NUMS, load, prepare
from service.fields import EXERCISE

log = logging.getLogger(__name__)

MAX_BATCH = 1000
state = {}


def _category(v):
    if isinstance(v, str) and v.strip():
        return v.strip()
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v)):
        return str(v)
    return "unknown"  # what training filled gaps with


def _number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:
            return None
    return v


def coerce(records, fill):
    """One clean DataFrame (id + the model's columns) from whatever the records are."""
    rows = []
    for i, r in enumerate(records):
        r = r if isinstance(r, dict) else {}
        rid = r.get("id")
        row = {"id": rid if isinstance(rid, str) else (str(i) if rid is None else str(rid))}
        for c in CATS:
            row[c] = _category(r.get(c))
        for c in NUMS:
            row[c] = _number(r.get(c))
        rows.append(row)
    df = pd.DataFrame(rows, columns=["id", *CATS, *NUMS])
    for c in NUMS:
        col = pd.to_numeric(df[c], errors="coerce").astype(float)
        col = col.where(np.isfinite(col))  # inf is no more a number than "n/a"
        df[c] = col.fillna(fill[c])
    return df


def _estimate(model, df):
    """A numeric target: one number per record; the answer to a blank record where one cannot be scored."""
    try:
        return model.predict(prepare(df)).astype(float)
    except Exception:  # one record the coercion did not foresee must not fail the batch
        log.exception("batch scoring failed; scoring records one by one")
        out = []
        for i in range(len(df)):
            try:
                out.append(float(model.predict(prepare(df.iloc[[i]]))[0]))
            except Exception:
                out.append(state["default"])
        return np.array(out, dtype=float)


def _predict(model, df):
    classes = model.classes_
    try:
        proba = model.predict_proba(prepare(df))
    except Exception:  # one record the coercion did not foresee must not fail the batch
        log.exception("batch scoring failed; scoring records one by one")
        blank = np.zeros(len(classes))
        blank[list(classes).index(state["default"])] = 1.0
        out = []
        for i in range(len(df)):
            try:
                out.append(model.predict_proba(prepare(df.iloc[[i]]))[0])
            except Exception:
                out.append(blank)
        proba = np.vstack(out)
    return classes, proba


@asynccontextmanager
async def lifespan(app):
    model = load()
    state["model"], state["fill"] = model, model.fill_values_
    blank = coerce([{}], state["fill"])
    if NUMERIC_TARGET:
        state["default"] = float(model.predict(prepare(blank))[0])
    else:
        state["default"] = model.classes_[int(model.predict_proba(prepare(blank))[0].argmax())]
    yield


app = FastAPI(title=f"{EXERCISE} (robust demo)", lifespan=lifespan)


async def _json(request):
    try:
        return json.loads(await request.body()), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, JSONResponse({"detail": f"body is not valid JSON: {exc}"}, status_code=400)


@app.get("/health")
def health():
    if "model" not in state:
        return JSONResponse({"status": "starting"}, status_code=503)
    return {"status": "ok"}


@app.post("/predict")
async def predict(request: Request):
    payload, error = await _json(request)
    if error is not None:
        return error
    records = payload.get("records") if isinstance(payload, dict) else None
    if not isinstance(records, list) or not records:
        return JSONResponse({"detail": "body must be a JSON object with a non-empty 'records' list"},
                            status_code=422)
    if len(records) > MAX_BATCH:
        return JSONResponse({"detail": f"at most {MAX_BATCH} records per call"}, status_code=413)
    df = coerce(records, state["fill"])
    if NUMERIC_TARGET:
        return {"results": [{"id": rid, "status": "ok",
                             "prediction": float(y) if math.isfinite(y) else state["default"],
                             "confidence": None, "issues": []}
                            for rid, y in zip(df["id"], _estimate(state["model"], df))]}
    classes, proba = _predict(state["model"], df)
    results = []
    for rid, p in zip(df["id"], proba):
        k = int(p.argmax())
        conf = float(p[k])
        results.append({"id": rid, "status": "ok", "prediction": str(classes[k]),
                        "confidence": min(max(conf, 0.0), 1.0) if math.isfinite(conf) else None, "issues": []})
    return {"results": results}


@app.post("/feedback")
async def feedback(request: Request):
    payload, error = await _json(request)
    if error is not None:
        return error
    labels = payload.get("labels") if isinstance(payload, dict) else None
    if not isinstance(labels, list):
        return JSONResponse({"detail": "body must be a JSON object with a 'labels' list"}, status_code=422)
    accepted = sum(1 for x in labels if isinstance(x, dict) and x.get("id") is not None)
    return JSONResponse({"accepted": accepted}, status_code=202)  # accepted, and ignored


@app.get("/monitoring")
def monitoring():
    return {"drift": {"detected": False, "features": []},
            "data_quality": {"detected": False, "features": []},
            "performance": {"degraded": False, "metric": "mae" if NUMERIC_TARGET else "accuracy", "value": None}}
