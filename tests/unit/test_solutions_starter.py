"""The candidate's starter runs and answers every call in contract v1's shape."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from grader.contract import FeedbackResponse, HealthResponse, MonitoringResponse, PredictResponse
from harness.solutions import imported_service, materialize_solution

RECORD = {"id": "s-1", "created_at": "2026-05-02T10:22:05Z", "channel": "chat", "customer_tier": "premium",
          "product": "router", "language": "de", "subject": "Router not working", "body": "It keeps disconnecting.",
          "account_age_days": 30, "prior_tickets": 0, "order_value": 0}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    dest = materialize_solution("support-triage", "starter", tmp_path_factory.mktemp("starter") / "svc")
    with imported_service(dest, "service.main") as module:
        with TestClient(module.create_app(), raise_server_exceptions=False) as c:
            yield c


def test_answers_in_contract_shape(client: TestClient) -> None:
    HealthResponse.model_validate(client.get("/health").json())
    batch = [RECORD, {"id": "s-2", "subject": None, "body": ""}, {"id": "s-3", "order_value": "$1,250.00",
                                                                   "subject": "Refund", "body": "Please."}]
    r = client.post("/predict", json={"records": batch})
    assert r.status_code == 200
    results = PredictResponse.model_validate(r.json()).results
    assert [x.id for x in results] == ["s-1", "s-2", "s-3"]
    assert results[1].status == "invalid" and results[1].prediction is None
    assert results[0].prediction in {"billing", "technical", "account", "shipping", "refunds"}
    fb = client.post("/feedback", json={"labels": [{"id": "s-1", "label": "technical"}]})
    assert fb.status_code in (200, 202)
    FeedbackResponse.model_validate(fb.json())
    MonitoringResponse.model_validate(client.get("/monitoring").json())


def test_malformed_body_gets_a_4xx(client: TestClient) -> None:
    assert 400 <= client.post("/predict", content=b"{oops").status_code < 500
    assert 400 <= client.post("/predict", json={"rows": []}).status_code < 500
