"""The accuracy-only solution: a good model shipped as a demo (clean input only, no monitoring)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from grader.contract import PredictResponse
from harness.solutions import imported_service, materialize_solution

CLEAN = {"id": "c-1", "created_at": "2026-05-02T10:22:05Z", "channel": "web", "customer_tier": "free",
         "product": "web-store", "language": "en", "subject": "Charged twice for my order",
         "body": "I was charged twice this month. Please send me a corrected invoice.",
         "account_age_days": 420, "prior_tickets": 1, "order_value": 80.5}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    dest = materialize_solution("support-triage", "accuracy-only", tmp_path_factory.mktemp("acc") / "svc")
    path = dest / "data" / "train.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([rows[0], *rows[1::4]])
    with imported_service(dest, "app") as module:
        with TestClient(module.app, raise_server_exceptions=False) as c:
            yield c


def test_serves_clean_records(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    batch = [CLEAN, {**CLEAN, "id": "c-2", "subject": "Where is my order?", "body": "The parcel never arrived."}]
    r = client.post("/predict", json={"records": batch})
    assert r.status_code == 200
    results = PredictResponse.model_validate(r.json()).results
    assert [x.id for x in results] == ["c-1", "c-2"]
    assert {x.status for x in results} == {"ok"}
    assert results[0].prediction == "billing" and results[1].prediction == "shipping"


@pytest.mark.parametrize("messy", [
    {"order_value": "$1,250.00"},
    {"body": None},
    {"subject": 12345},
])
def test_one_messy_record_fails_the_whole_batch(client: TestClient, messy: dict) -> None:
    r = client.post("/predict", json={"records": [CLEAN, {**CLEAN, "id": "m", **messy}]})
    assert r.status_code == 500


def test_has_no_monitoring(client: TestClient) -> None:
    assert client.get("/monitoring").status_code == 404
    assert client.post("/feedback", json={"labels": [{"id": "c-1", "label": "billing"}]}).status_code == 404
