"""The reference solution behaves as contract v1 and the brief promise (in-process, small data)."""
from __future__ import annotations

import csv
import importlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.contract import MonitoringResponse, PredictResponse
from harness.data.engine import generate_scenario, load_recipe
from grader.scenario import Phase, Scenario
from harness.solutions import imported_service, materialize_solution


def subsample_csv(path: Path, every: int) -> None:
    """Keep every n-th training row: same time span and mix, a quicker model."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([rows[0], *rows[1::every]])


def traffic(*phases: dict, seed: int = 3) -> list[list[dict]]:
    """Wire records per phase, from an in-memory scenario (nothing held back is read)."""
    scenario = Scenario.model_validate({"name": "unit-test", "phases": list(phases)})
    generated = generate_scenario(load_recipe("support-triage"), scenario, seed)
    return [p.records for p in generated.phases]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    dest = materialize_solution("support-triage", "reference", tmp_path_factory.mktemp("reference") / "svc")
    subsample_csv(dest / "data" / "train.csv", every=4)
    with imported_service(dest, "triage.app") as module:
        yield module


@pytest.fixture
def client(service) -> TestClient:
    # A fresh app per test: fresh monitoring state; the model is cached after the first start.
    with TestClient(service.create_app(), raise_server_exceptions=True) as c:
        yield c


def post_batches(client: TestClient, records: list[dict], size: int = 100) -> list[dict]:
    out = []
    for i in range(0, len(records), size):
        r = client.post("/predict", json={"records": records[i:i + size]})
        assert r.status_code == 200, r.text[:300]
        out += PredictResponse.model_validate(r.json()).model_dump()["results"]
    return out


GOOD = {"id": "good", "created_at": "2026-05-02T10:22:05Z", "channel": "email", "customer_tier": "standard",
        "product": "router", "language": "en", "subject": "Where is my order #12345?",
        "body": "The tracking number hasn't updated in days.", "account_age_days": 420, "prior_tickets": 1,
        "order_value": 80.5}


def test_health_answers_ok(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_currency_string_is_coerced_not_rejected(client: TestClient) -> None:
    res = post_batches(client, [GOOD, {**GOOD, "id": "money", "order_value": "$1,250.00", "channel": " EMAIL"}])
    assert [r["status"] for r in res] == ["ok", "coerced"]
    assert res[0]["issues"] == []
    issues = {(i["field"], i["code"]) for i in res[1]["issues"]}
    assert {f for f, _ in issues} == {"order_value", "channel"}
    assert res[1]["prediction"] is not None


def test_bad_records_are_flagged_without_spoiling_the_batch(client: TestClient) -> None:
    batch = [
        {**GOOD, "id": "no-text", "subject": "  ", "body": None},
        GOOD,
        {**GOOD, "id": "lots", "order_value": "lots"},
        {**GOOD, "id": "negative", "account_age_days": -3},
        {**GOOD, "id": "listy", "body": ["refund", "please"], "subject": 12345},
        "not an object",
        {**GOOD, "id": "extra", "utm_source": "newsletter", "prior_tickets": None},
    ]
    res = post_batches(client, batch)
    assert [r["id"] for r in res] == ["no-text", "good", "lots", "negative", "listy", "5", "extra"]
    assert [r["status"] for r in res] == ["invalid", "ok", "invalid", "invalid", "invalid", "invalid", "coerced"]
    for r in res:
        if r["status"] == "invalid":
            assert r["prediction"] is None and r["issues"], r
    assert {"field": "order_value", "code": "not_a_number"} in res[2]["issues"]
    assert {"field": "account_age_days", "code": "out_of_range"} in res[3]["issues"]
    assert {(i["field"], i["code"]) for i in res[6]["issues"]} == {("utm_source", "unknown_field"),
                                                                    ("prior_tickets", "missing")}


@pytest.mark.parametrize("body, status", [
    (b"this is not json", 400),
    (b'{"rows": []}', 422),
    (b'{"records": []}', 422),
    (b'[1, 2, 3]', 422),
])
def test_malformed_bodies_get_a_4xx_with_a_message(client: TestClient, body: bytes, status: int) -> None:
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert r.json()["detail"]


def test_unseen_product_is_served_as_fallback(client: TestClient) -> None:
    res = post_batches(client, [{**GOOD, "id": "new", "product": "hover-board"}])
    assert res[0]["status"] == "fallback"
    assert {"field": "product", "code": "unseen_category"} in res[0]["issues"]
    assert res[0]["prediction"] is not None


def test_drift_silent_on_stable_traffic_then_fires_on_a_strong_shift(client: TestClient) -> None:
    stable, shifted = traffic(
        {"name": "stable", "records": 500},
        {"name": "chat", "records": 400, "shifts": [
            {"kind": "covariate", "field": "channel", "weights": {"email": 0.1, "chat": 0.7, "phone": 0.05, "web": 0.15}}]},
    )
    res = post_batches(client, stable)
    view = MonitoringResponse.model_validate(client.get("/monitoring").json())
    assert not view.drift.detected and not view.data_quality.detected, view
    fallback = sum(r["status"] == "fallback" for r in res) / len(res)
    assert fallback < 0.06
    post_batches(client, shifted)
    view = MonitoringResponse.model_validate(client.get("/monitoring").json())
    assert view.drift.detected
    assert view.drift.features == ["channel"]


def test_one_odd_batch_alone_raises_no_alarm(client: TestClient) -> None:
    stable, odd = traffic(
        {"name": "stable", "records": 500},
        {"name": "odd", "records": 200, "shifts": [{"kind": "unit_change", "field": "order_value", "factor": 100}]},
    )
    post_batches(client, stable + odd[:100])
    view = client.get("/monitoring").json()
    assert "order_value" in view["drift"]["firing_now"] and not view["drift"]["detected"]
    post_batches(client, odd[100:])  # the shift persists: now it is an alarm
    assert client.get("/monitoring").json()["drift"]["features"] == ["order_value"]


def test_quality_alarm_names_the_fields_of_a_missing_burst(client: TestClient) -> None:
    stable, outage = traffic(
        {"name": "stable", "records": 300},
        {"name": "outage", "records": 400, "shifts": [
            {"kind": "missing_burst", "fields": ["prior_tickets", "customer_tier"], "rate": 0.6}]},
    )
    post_batches(client, stable)
    assert not client.get("/monitoring").json()["data_quality"]["detected"]
    res = post_batches(client, outage)
    assert all(r["status"] != "invalid" or r["prediction"] is None for r in res)
    quality = client.get("/monitoring").json()["data_quality"]
    assert quality["detected"] and quality["features"] == ["customer_tier", "prior_tickets"]


def test_performance_degrades_after_wrong_labels(client: TestClient) -> None:
    (records,) = traffic({"name": "stable", "records": 300})
    res = post_batches(client, records)
    served = [r for r in res if r["prediction"] is not None]
    right = client.post("/feedback", json={"labels": [{"id": r["id"], "label": r["prediction"]} for r in served]})
    assert right.status_code in (200, 202) and right.json()["accepted"] == len(served)
    perf = client.get("/monitoring").json()["performance"]
    assert perf == {**perf, "degraded": False, "metric": "accuracy", "value": 1.0}
    res = post_batches(client, traffic({"name": "more", "records": 300}, seed=4)[0])
    wrong = [{"id": r["id"], "label": "billing" if r["prediction"] != "billing" else "shipping"}
             for r in res if r["prediction"] is not None]
    client.post("/feedback", json={"labels": wrong})
    perf = client.get("/monitoring").json()["performance"]
    assert perf["degraded"] and perf["value"] < 0.5


def test_feedback_rejects_a_body_without_labels(client: TestClient) -> None:
    assert client.post("/feedback", content=b"nope").status_code == 400
    assert client.post("/feedback", json={"ids": []}).status_code == 422


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    post_batches(client, [GOOD])
    text = client.get("/metrics").text
    assert 'triage_records_total{status="ok"} 1.0' in text


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.just(10**400) | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)
FIELDS = st.sampled_from(["id", "created_at", "channel", "customer_tier", "product", "language", "subject", "body",
                          "account_age_days", "prior_tickets", "order_value", "extra"])


@settings(max_examples=200, deadline=None)
@given(record=st.dictionaries(FIELDS, JSON, max_size=12) | JSON)
def test_cleaning_never_raises_and_always_decides(service, record) -> None:
    cleaning = importlib.import_module("triage.cleaning")
    c = cleaning.clean_record(record, 0)
    assert c.status in {"ok", "coerced", "invalid"}
    assert isinstance(c.id, str)
    if c.status == "ok":
        assert not c.issues
