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

    # Every status a conforming service may answer is listed, so API testers (schemathesis)
    # and candidates read the same rules the grader applies.
    not_ready = {503: {"description": "Not ready yet (still loading); anything but 200 means not ready"}}
    bad_body = {400: {"description": "The body is not JSON"},
                422: {"description": "The body is JSON but not an object with a non-empty list under the key"}}

    @app.get("/health", response_model=c.HealthResponse, summary="200 {status: ok} once ready",
             responses=not_ready)
    def health() -> Any: ...

    @app.post(
        "/predict",
        response_model=c.PredictResponse,
        summary="One result per record, same order, same ids",
        description=("A bad record never spoils the batch: it is answered status 'invalid' in its place. A 4xx is "
                     "only for a body that cannot be read as a batch; a 5xx is always a failure."),
        responses={**bad_body, 413: {"description": "More than 1000 records in one call"}, **not_ready},
    )
    def predict(body: c.PredictRequest) -> Any: ...

    @app.post("/feedback", response_model=c.FeedbackResponse, status_code=202,
              summary="True labels, arriving late (200 or 202)",
              responses={200: {"description": "Accepted", "model": c.FeedbackResponse}, **bad_body, **not_ready})
    def feedback(body: c.FeedbackRequest) -> Any: ...

    @app.get("/monitoring", response_model=c.MonitoringResponse,
             summary="Current view over a recent window", responses=not_ready)
    def monitoring() -> Any: ...

    @app.get("/metrics", response_class=Response, summary="Optional: Prometheus text format",
             responses={404: {"description": "Not implemented (the endpoint is optional)"}, **not_ready})
    def metrics() -> Any: ...

    return app.openapi()


def render_openapi() -> str:
    return json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n"
