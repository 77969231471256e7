"""Build contract/openapi.json from the contract models (the only source of truth)."""
from __future__ import annotations

import json
from typing import Any

from grader import contract as c


def build_openapi() -> dict[str, Any]:
    """Return the OpenAPI document for contract v1, built from grader.contract."""
    # A throwaway FastAPI app is the least code that turns pydantic models into OpenAPI;
    # it is never served.
    from fastapi import FastAPI, Response

    app = FastAPI(
        title="shiftwork candidate service",
        version=f"contract-v{c.CONTRACT_VERSION}",
        description="Contract v1. Listen on port 8000, or $PORT when set. All bodies are JSON.",
    )

    @app.get("/health", response_model=c.HealthResponse, summary="200 {status: ok} once ready")
    def health() -> Any: ...

    @app.post(
        "/predict",
        response_model=c.PredictResponse,
        summary="One result per record, same order, same ids",
        responses={400: {"description": "Body is not JSON or lacks records"},
                   422: {"description": "Body is not JSON or lacks records"}},
    )
    def predict(body: c.PredictRequest) -> Any: ...

    @app.post("/feedback", response_model=c.FeedbackResponse, status_code=202,
              summary="True labels, arriving late (200 or 202)")
    def feedback(body: c.FeedbackRequest) -> Any: ...

    @app.get("/monitoring", response_model=c.MonitoringResponse,
             summary="Current view over a recent window")
    def monitoring() -> Any: ...

    @app.get("/metrics", response_class=Response, summary="Optional: Prometheus text format")
    def metrics() -> Any: ...

    return app.openapi()


def render_openapi() -> str:
    return json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n"
