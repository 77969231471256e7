"""The committed openapi.json must be exactly what the contract models produce."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from grader.contract import MonitoringResponse, PredictRequest, Result
from grader.openapi import render_openapi

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_matches_models() -> None:
    committed = (ROOT / "exercises/support-triage/starter/contract/openapi.json").read_text()
    assert committed == render_openapi(), "run `make openapi` and commit the result"


def test_openapi_names_every_call() -> None:
    doc = json.loads(render_openapi())
    assert {"/health", "/predict", "/feedback", "/monitoring", "/metrics"} <= set(doc["paths"])


def test_result_rejects_confidence_out_of_range() -> None:
    with pytest.raises(ValidationError):
        Result(id="r-1", status="ok", prediction="billing", confidence=1.5)


def test_result_rejects_unknown_status() -> None:
    with pytest.raises(ValidationError):
        Result(id="r-1", status="maybe", prediction="billing")


def test_predict_request_bounds() -> None:
    with pytest.raises(ValidationError):
        PredictRequest(records=[])
    with pytest.raises(ValidationError):
        PredictRequest(records=[{"id": str(i)} for i in range(1001)])
    assert PredictRequest(records=[{"id": "a", "x": 1}]).records[0].model_extra == {"x": 1}


def test_monitoring_allows_extra_fields() -> None:
    view = MonitoringResponse.model_validate({
        "drift": {"detected": True, "features": ["channel"]},
        "data_quality": {"detected": False, "features": []},
        "performance": {"degraded": False, "metric": "accuracy", "value": None},
        "window": 500,
    })
    assert view.drift.features == ["channel"]
