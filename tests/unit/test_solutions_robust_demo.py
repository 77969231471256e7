"""The robust-demo solution: the accuracy-only model behind a pipeline that never crashes.

Whatever arrives is answered 200 with one "ok" result per record (never coerced, invalid
or fallback, no issues); malformed bodies get a 4xx; feedback is accepted and ignored;
monitoring never alarms. The grader holds it far below the reference (test_product_gap).
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from grader.contract import FeedbackResponse, MonitoringResponse, PredictResponse
from harness.solutions import imported_service, materialize_solution, solution_names

CLEAN = {"id": "c-1", "created_at": "2026-05-02T10:22:05Z", "channel": "web", "customer_tier": "free",
         "product": "web-store", "language": "en", "subject": "Charged twice for my order",
         "body": "I was charged twice this month. Please send me a corrected invoice.",
         "account_age_days": 420, "prior_tickets": 1, "order_value": 80.5}

MESSY = [
    {"order_value": "$1,250.00"},
    {"order_value": "52,000"},
    {"account_age_days": "3 years"},
    {"prior_tickets": "n/a"},
    {"order_value": -5},
    {"order_value": 10 ** 400},  # beyond float range
    {"order_value": float("inf")},
    {"order_value": float("nan")},
    {"account_age_days": True},
    {"prior_tickets": [1, 2]},
    {"order_value": {"amount": 3}},
    {"body": None},
    {"subject": None, "body": None},
    {"subject": 12345},
    {"body": ["not", "text"]},
    {"subject": "", "body": "   "},
    {"body": "<p>My &amp; order</p> Ã©tÃ©"},
    {"channel": "  WEB "},
    {"channel": 7},
    {"channel": None, "product": "brand-new-gadget"},
    {"created_at": "yesterday"},
    {"created_at": 1714644125},
    {"unknown_field": "x", "order_amount": 12.0},
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    dest = materialize_solution("support-triage", "robust-demo", tmp_path_factory.mktemp("robust") / "svc")
    path = dest / "data" / "train.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([rows[0], *rows[1::4]])
    with imported_service(dest, "app") as module:
        with TestClient(module.app, raise_server_exceptions=False) as c:
            yield c


def _post(client: TestClient, records: list) -> object:
    # json.dumps writes NaN and Infinity as JavaScript does; messy upstreams send them too
    return client.post("/predict", content=json.dumps({"records": records}),
                       headers={"Content-Type": "application/json"})


def _ok(response, ids: list[str]) -> None:
    assert response.status_code == 200, response.text[:300]
    results = PredictResponse.model_validate(response.json()).results
    assert [r.id for r in results] == ids
    for r in results:
        assert r.status == "ok" and r.issues == [] and r.prediction is not None, r
        assert r.confidence is None or 0 <= r.confidence <= 1


def test_is_a_solution() -> None:
    assert "robust-demo" in solution_names("support-triage")
    src = Path(__file__).resolve().parents[2] / "exercises" / "support-triage" / "solutions" / "robust-demo"
    dockerfile = (src / "Dockerfile").read_text().splitlines()
    assert dockerfile[:2] == ["ARG BASE_IMAGE=python:3.11-slim", "FROM ${BASE_IMAGE}"]
    assert "USER 65534:65534" in dockerfile
    allowed = {line.split("==")[0] for line in
               (src.parent.parent / "runtime-requirements.txt").read_text().splitlines()
               if line and not line.startswith("#")}
    wanted = {line.split("==")[0] for line in (src / "requirements.txt").read_text().splitlines() if line}
    assert wanted <= allowed, wanted - allowed


def test_serves_clean_records(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    batch = [CLEAN, {**CLEAN, "id": "c-2", "subject": "Where is my order?", "body": "The parcel never arrived."}]
    r = client.post("/predict", json={"records": batch})
    _ok(r, ["c-1", "c-2"])
    results = r.json()["results"]
    assert results[0]["prediction"] == "billing" and results[1]["prediction"] == "shipping"


@pytest.mark.parametrize("messy", MESSY, ids=lambda m: ",".join(f"{k}={str(v)[:12]}" for k, v in m.items()))
def test_a_messy_record_is_answered_ok(client: TestClient, messy: dict) -> None:
    r = _post(client, [CLEAN, {**CLEAN, "id": "m", **messy}])
    _ok(r, ["c-1", "m"])
    assert r.json()["results"][0]["prediction"] == "billing"  # the good record is not spoiled


def test_missing_fields_and_odd_records_never_5xx(client: TestClient) -> None:
    batch = [{"id": "empty"}, {"id": 42, **{k: v for k, v in CLEAN.items() if k != "id"}}, {},
             {"id": "only-text", "body": "refund please"}, "not an object", None, [1, 2]]
    r = client.post("/predict", json={"records": batch})
    _ok(r, ["empty", "42", "2", "only-text", "4", "5", "6"])


def test_a_full_batch_of_mess(client: TestClient) -> None:
    batch = [{**CLEAN, "id": f"r-{i}", **MESSY[i % len(MESSY)]} for i in range(1000)]
    _ok(_post(client, batch), [f"r-{i}" for i in range(1000)])


@pytest.mark.parametrize("body", [b"not json", b"{", b"null", b"[]", b'{"records": []}', b'{"records": {}}',
                                  b'{"rows": [1]}', b'"records"'])
def test_malformed_bodies_get_a_4xx(client: TestClient, body: bytes) -> None:
    r = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (body, r.status_code)


def test_too_many_records_get_a_4xx(client: TestClient) -> None:
    r = client.post("/predict", json={"records": [{**CLEAN, "id": str(i)} for i in range(1001)]})
    assert r.status_code == 413


def test_feedback_is_accepted_and_ignored(client: TestClient) -> None:
    r = client.post("/feedback", json={"labels": [{"id": "c-1", "label": "billing"}, {"id": "c-2", "label": "x"}]})
    assert r.status_code == 202 and FeedbackResponse.model_validate(r.json()).accepted == 2
    assert 400 <= client.post("/feedback", content=b"nope").status_code < 500
    assert 400 <= client.post("/feedback", json={"labels": "x"}).status_code < 500


def test_monitoring_never_alarms(client: TestClient) -> None:
    # whatever traffic came before, including a burst of shifted mess
    drifted = [{**CLEAN, "id": f"d-{i}", "channel": "fax", "order_value": "n/a", "body": None} for i in range(500)]
    _ok(client.post("/predict", json={"records": drifted}), [f"d-{i}" for i in range(500)])
    client.post("/feedback", json={"labels": [{"id": f"d-{i}", "label": "refunds"} for i in range(500)]})
    view = MonitoringResponse.model_validate(client.get("/monitoring").json())
    assert not view.drift.detected and not view.data_quality.detected and not view.performance.degraded
    assert view.drift.features == [] and view.data_quality.features == []
    assert view.performance.value is None or math.isfinite(view.performance.value)
