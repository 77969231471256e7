"""HTTP service implementing contract v1 (contract/openapi.json).

The request bodies are parsed by hand on purpose: with a strict request model, one bad
record would turn the whole batch into a 422, and the contract says bad records never
spoil the good ones. Never answer 5xx; a body that is not JSON or has no `records` gets
a 4xx with a message.
"""
from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from service.fields import EXERCISE
from service.model import load_model
from service.monitoring import Monitor
from service.validation import validate

MAX_BATCH = 1000


def create_app() -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        state["model"] = load_model()
        state["monitor"] = Monitor()
        yield

    app = FastAPI(title=EXERCISE, lifespan=lifespan)

    async def read_json(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except ValueError:
            return None

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        payload = await read_json(request)
        records = payload.get("records") if isinstance(payload, dict) else None
        if not isinstance(records, list) or not 1 <= len(records) <= MAX_BATCH:
            return JSONResponse({"detail": f"body must be JSON with 'records': a list of 1 to {MAX_BATCH} objects"},
                                status_code=422)
        model, monitor = state["model"], state["monitor"]
        checked = [validate(r, i) for i, r in enumerate(records)]
        results, predictions = [], []
        for c in checked:
            if c.invalid:
                results.append({"id": c.id, "status": "invalid", "prediction": None, "confidence": None,
                                "issues": c.issues})
                predictions.append(None)
                continue
            label, confidence = model.predict(c.values)
            # TODO(fallback): status "fallback" (with a safe prediction and an issue) when the
            #   record is unfamiliar or the model is unsure.
            results.append({"id": c.id, "status": c.status, "prediction": label, "confidence": confidence,
                            "issues": c.issues})
            predictions.append(label)
        monitor.observe(checked, predictions)
        return JSONResponse({"results": results})

    @app.post("/feedback", status_code=202)
    async def feedback(request: Request) -> JSONResponse:
        payload = await read_json(request)
        labels = payload.get("labels") if isinstance(payload, dict) else None
        if not isinstance(labels, list):
            return JSONResponse({"detail": "body must be JSON with 'labels': [{id, label}, ...]"}, status_code=422)
        pairs = [(str(x.get("id")), str(x.get("label"))) for x in labels if isinstance(x, dict)]
        return JSONResponse({"accepted": state["monitor"].feedback(pairs)}, status_code=202)

    @app.get("/monitoring")
    async def monitoring() -> dict[str, Any]:
        return state["monitor"].view()

    # TODO(operations): GET /metrics in Prometheus text format is optional (prometheus-client).
    return app
