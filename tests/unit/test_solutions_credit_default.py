"""credit-default's starter and solutions behave as contract v1 and the brief promise (in-process).

- reference: never a 5xx on messy records; coerces "NT$ 52,000" and "52.000,00"; reads an
  annual income sent per month (x12, flagged); treats undocumented codes as missing; rejects
  impossible ages; falls back on an employment type never seen; reports drift, quality,
  performance and per-group slices;
- accuracy-only: a good model, no validation (a messy batch is a 500);
- robust-demo: never breaks, answers everything "ok", never alarms;
- starter: speaks the contract, predicts the majority outcome, rejects only non-objects.
"""
from __future__ import annotations

import csv
import importlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.contract import MonitoringResponse, PredictResponse
from grader.scenario import Scenario
from harness.data.engine import generate_scenario, load_recipe
from harness.solutions import imported_service, materialize_solution, solution_names

EXERCISE = "credit-default"
GOOD = {"id": "good", "applied_at": "2025-07-02T10:22:05Z", "sex": "female", "education": "university",
        "marital_status": "single", "employment_type": "salaried", "date_of_birth": "1990-04-12",
        "credit_limit": 120000, "annual_income": 300000, "repayment_status": 0, "repayment_status_prev": 0,
        "bill_amount": 40000, "paid_amount": 2000}


def subsample_csv(path: Path, every: int) -> None:
    """Keep every n-th training row: same time span and mix, a quicker model."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([rows[0], *rows[1::every]])


def traffic(*phases: dict, seed: int = 3) -> list[list[dict]]:
    """Wire records per phase, from an in-memory scenario (nothing held back is read)."""
    scenario = Scenario.model_validate({"name": "unit-test", "phases": list(phases)})
    generated = generate_scenario(load_recipe(EXERCISE), scenario, seed)
    return [p.records for p in generated.phases]


def post_batches(client: TestClient, records: list, size: int = 100) -> list[dict]:
    out = []
    for i in range(0, len(records), size):
        r = client.post("/predict", json={"records": records[i:i + size]})
        assert r.status_code == 200, r.text[:300]
        out += PredictResponse.model_validate(r.json()).model_dump()["results"]
    return out


def test_every_solution_is_listed() -> None:
    assert set(solution_names(EXERCISE)) >= {"starter", "reference", "accuracy-only", "robust-demo"}


# -- reference ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    dest = materialize_solution(EXERCISE, "reference", tmp_path_factory.mktemp("cd-reference") / "svc")
    subsample_csv(dest / "data" / "train.csv", every=2)
    with imported_service(dest, "credit.app") as module:
        yield module


@pytest.fixture
def client(reference) -> TestClient:
    # A fresh app per test: fresh monitoring state; the model is cached after the first start.
    with TestClient(reference.create_app(), raise_server_exceptions=True) as c:
        yield c


def issues_of(result: dict) -> set[tuple[str, str]]:
    return {(i["field"], i["code"]) for i in result["issues"]}


def test_clean_record_is_ok(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    (res,) = post_batches(client, [GOOD])
    assert res["status"] == "ok" and res["issues"] == [] and res["prediction"] in ("default", "no_default")
    assert 0 <= res["confidence"] <= 1


@pytest.mark.parametrize("field, value", [
    ("credit_limit", "NT$ 52,000"), ("credit_limit", "52.000,00"), ("credit_limit", "52,000"),
    ("credit_limit", "52000 TWD"), ("paid_amount", "964,00"), ("repayment_status", " 1 "),
])
def test_amount_strings_are_coerced(client: TestClient, field: str, value: str) -> None:
    (res,) = post_batches(client, [{**GOOD, "id": "money", field: value}])
    assert res["status"] == "coerced" and res["prediction"] is not None
    assert {f for f, _ in issues_of(res)} == {field}


def test_currency_amount_reads_as_the_same_number(reference) -> None:
    cleaning = importlib.import_module("credit.cleaning")
    for text, want in (("NT$ 52,000", 52000), ("52.000,00", 52000), ("NT$52,000", 52000), ("52000 TWD", 52000),
                       ("964,00", 964), ("1,234,567", 1234567)):
        c = cleaning.clean_record({**GOOD, "credit_limit": text} if want >= 1000 else {**GOOD, "paid_amount": text})
        got = c.values["credit_limit"] if want >= 1000 else c.values["paid_amount"]
        assert got == want, (text, got)


@pytest.mark.parametrize("value", ["4,300/month", "4300 per month", "NT$ 4,300 monthly"])
def test_monthly_income_is_multiplied_and_flagged(reference, client: TestClient, value: str) -> None:
    cleaning = importlib.import_module("credit.cleaning")
    c = cleaning.clean_record({**GOOD, "annual_income": value})
    assert c.values["annual_income"] == 4300 * 12
    (res,) = post_batches(client, [{**GOOD, "id": "monthly", "annual_income": value}])
    assert res["status"] == "coerced" and ("annual_income", "monthly_amount") in issues_of(res)


@pytest.mark.parametrize("field, value", [("education", "5"), ("education", 0), ("education", "6"),
                                          ("marital_status", "0")])
def test_undocumented_codes_are_treated_as_missing(reference, client: TestClient, field: str, value) -> None:
    (res,) = post_batches(client, [{**GOOD, "id": "code", field: value}])
    assert res["status"] == "coerced" and issues_of(res) == {(field, "undocumented_code")}
    cleaning = importlib.import_module("credit.cleaning")
    assert cleaning.clean_record({**GOOD, field: value}).values[field] is None


@pytest.mark.parametrize("value", ["12/04/1990", "04-12-1990", "12.04.1990", "April 12, 1990", "19900412",
                                   "1990/04/12"])
def test_dates_of_birth_in_other_spellings_are_coerced(reference, client: TestClient, value: str) -> None:
    cleaning = importlib.import_module("credit.cleaning")
    assert str(cleaning.clean_record({**GOOD, "date_of_birth": value}).values["date_of_birth"]) == "1990-04-12"
    (res,) = post_batches(client, [{**GOOD, "id": "dob", "date_of_birth": value}])
    assert res["status"] == "coerced" and issues_of(res) == {("date_of_birth", "date_format")}


@pytest.mark.parametrize("value", ["2026-03-07", "2025-07-01", "2018-02-27", "1785-01-01", "1890-06-30",
                                   "not a date", 19900412])
def test_impossible_ages_are_invalid(client: TestClient, value) -> None:
    res = post_batches(client, [{**GOOD, "id": "age", "date_of_birth": value}, GOOD])
    assert res[0]["status"] == "invalid" and res[0]["prediction"] is None and res[0]["confidence"] is None
    assert {f for f, _ in issues_of(res[0])} == {"date_of_birth"}
    assert res[1]["status"] == "ok"  # one bad record never spoils the batch


def test_bad_records_are_flagged_without_spoiling_the_batch(client: TestClient) -> None:
    batch = [
        {**GOOD, "id": "pending", "paid_amount": "pending"},
        GOOD,
        {**GOOD, "id": "range", "repayment_status": 12},
        {**GOOD, "id": "listy", "bill_amount": [55670]},
        "not an object",
        {**GOOD, "id": "extra", "broker_id": "b-113", "sex": None},
        {**GOOD, "id": "variant", "marital_status": " SINGLE ", "employment_type": "Self_Employed"},
        {**GOOD, "id": "epoch", "applied_at": 1752022863},
        {**GOOD, "id": "huge", "credit_limit": 10 ** 400},
    ]
    res = post_batches(client, batch)
    assert [r["id"] for r in res] == ["pending", "good", "range", "listy", "4", "extra", "variant", "epoch", "huge"]
    assert [r["status"] for r in res] == ["invalid", "ok", "invalid", "invalid", "invalid", "coerced", "coerced",
                                          "coerced", "invalid"]
    assert ("paid_amount", "not_a_number") in issues_of(res[0])
    assert ("repayment_status", "out_of_range") in issues_of(res[2])
    assert issues_of(res[5]) == {("broker_id", "unknown_field"), ("sex", "missing")}
    assert issues_of(res[6]) == {("marital_status", "normalized"), ("employment_type", "normalized")}


def test_unseen_employment_type_falls_back_to_the_model_without_it(client: TestClient) -> None:
    res = post_batches(client, [{**GOOD, "id": "gig", "employment_type": "gig_worker"},
                                {**GOOD, "id": "none", "employment_type": None}])
    assert res[0]["status"] == "fallback" and res[0]["prediction"] is not None
    assert ("employment_type", "unseen_category") in issues_of(res[0])
    # served as if the employment type were unknown: the same answer as a record without it
    assert (res[0]["prediction"], res[0]["confidence"]) == (res[1]["prediction"], res[1]["confidence"])


@pytest.mark.parametrize("body, status", [(b"this is not json", 400), (b'{"rows": []}', 422),
                                          (b'{"records": []}', 422), (b'[1, 2, 3]', 422)])
def test_malformed_bodies_get_a_4xx_with_a_message(client: TestClient, body: bytes, status: int) -> None:
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.json()["detail"]


def test_messy_traffic_never_5xxs(client: TestClient) -> None:
    (messy,) = traffic({"name": "messy", "records": 600, "mess": 4.0})
    res = post_batches(client, messy)
    assert len(res) == 600
    assert {r["status"] for r in res} <= {"ok", "coerced", "invalid", "fallback"}
    assert all((r["prediction"] is None) == (r["status"] == "invalid") for r in res)
    MonitoringResponse.model_validate(client.get("/monitoring").json())


def test_drift_silent_when_stable_then_names_the_income_unit_change(client: TestClient) -> None:
    stable, monthly = traffic(
        {"name": "stable", "records": 600},
        {"name": "monthly", "records": 600, "shifts": [
            {"kind": "unit_change", "field": "annual_income", "factor": 1 / 12}]},
    )
    post_batches(client, stable)
    view = MonitoringResponse.model_validate(client.get("/monitoring").json())
    assert not view.drift.detected and not view.data_quality.detected, view
    post_batches(client, monthly)
    view = MonitoringResponse.model_validate(client.get("/monitoring").json())
    assert view.drift.detected and view.drift.features == ["annual_income"]


def test_quality_alarm_names_the_bureau_fields_of_an_outage(client: TestClient) -> None:
    bureau = ["repayment_status", "repayment_status_prev", "bill_amount", "paid_amount"]
    stable, outage = traffic(
        {"name": "stable", "records": 300},
        {"name": "outage", "records": 500, "shifts": [{"kind": "missing_burst", "fields": bureau, "rate": 0.6}]},
    )
    post_batches(client, stable)
    assert not client.get("/monitoring").json()["data_quality"]["detected"]
    post_batches(client, outage)
    quality = client.get("/monitoring").json()["data_quality"]
    assert quality["detected"] and quality["features"] == sorted(bureau)


def _label_as(res: list[dict], wrong_for: str | None, records: list[dict]) -> list[dict]:
    """Feedback: right for everyone, except wrong for group `wrong_for`."""
    sex = {r.get("id"): r.get("sex") for r in records if isinstance(r, dict)}
    out = []
    for r in res:
        if r["prediction"] is None:
            continue
        wrong = wrong_for is not None and sex.get(r["id"]) == wrong_for
        label = r["prediction"] if not wrong else ("default" if r["prediction"] == "no_default" else "no_default")
        out.append({"id": r["id"], "label": label})
    return out


def test_slices_report_each_group_and_flag_only_the_one_that_dropped(client: TestClient) -> None:
    (records,) = traffic({"name": "stable", "records": 600})
    records = [{**r, "sex": r.get("sex") if r.get("sex") in ("female", "male") else "female"} for r in records]
    res = post_batches(client, records)
    accepted = client.post("/feedback", json={"labels": _label_as(res, None, records)})
    assert accepted.status_code in (200, 202)
    perf = MonitoringResponse.model_validate(client.get("/monitoring").json()).performance
    assert perf.slices is not None and sorted(s.value for s in perf.slices) == ["female", "male"]
    assert all(s.field == "sex" and s.metric == "accuracy" and not s.degraded for s in perf.slices)
    (more,) = traffic({"name": "more", "records": 600}, seed=4)
    more = [{**r, "sex": r.get("sex") if r.get("sex") in ("female", "male") else "female"} for r in more]
    res = post_batches(client, more)
    client.post("/feedback", json={"labels": _label_as(res, "male", more)})
    perf = client.get("/monitoring").json()["performance"]
    flagged = {s["value"]: s["degraded"] for s in perf["slices"]}
    assert flagged == {"female": False, "male": True}, perf["slices"]
    male = next(s for s in perf["slices"] if s["value"] == "male")
    assert male["metric_value"] is not None and male["metric_value"] < 0.5


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    post_batches(client, [GOOD])
    assert 'credit_records_total{status="ok"} 1.0' in client.get("/metrics").text


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.just(10**400) | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)
FIELDS = st.sampled_from([*GOOD, "extra"])


@settings(max_examples=200, deadline=None)
@given(record=st.dictionaries(FIELDS, JSON, max_size=14) | JSON)
def test_cleaning_never_raises_and_always_decides(reference, record) -> None:
    cleaning = importlib.import_module("credit.cleaning")
    c = cleaning.clean_record(record, 0)
    assert c.status in {"ok", "coerced", "invalid"}
    assert isinstance(c.id, str)
    if c.status == "ok":
        assert not c.issues


# -- the demos and the starter -------------------------------------------------------------------
def _app_client(tmp_path_factory, name: str, module: str, every: int = 4):
    dest = materialize_solution(EXERCISE, name, tmp_path_factory.mktemp(f"cd-{name}") / "svc")
    subsample_csv(dest / "data" / "train.csv", every=every)
    return dest, module


@pytest.fixture(scope="module")
def demo_apps(tmp_path_factory: pytest.TempPathFactory):
    return {name: _app_client(tmp_path_factory, name, mod) for name, mod in
            (("accuracy-only", "app"), ("robust-demo", "app"), ("starter", "service.main"))}


def _client_for(dest: Path, module: str):
    with imported_service(dest, module) as mod:
        app = mod.create_app() if hasattr(mod, "create_app") else mod.app
        with TestClient(app, raise_server_exceptions=False) as c:
            yield c


MESSY = [{**GOOD, "id": f"m{i}", **patch} for i, patch in enumerate([
    {"credit_limit": "NT$ 52,000"}, {"annual_income": "4,300/month"}, {"education": "5"},
    {"date_of_birth": "2026-03-07"}, {"employment_type": "gig_worker"}, {"paid_amount": "pending"},
    {"bill_amount": [1]}, {"date_of_birth": "June 30, 1987"}, {"repayment_status": 12}, {"sex": None},
])]


def test_accuracy_only_serves_clean_records_and_breaks_on_messy_ones(demo_apps) -> None:
    for c in _client_for(*demo_apps["accuracy-only"]):
        res = post_batches(c, [GOOD, {**GOOD, "id": "g2", "repayment_status": 2}])
        assert [r["status"] for r in res] == ["ok", "ok"]
        assert c.post("/predict", json={"records": MESSY}).status_code == 500  # a demo: no validation


def test_robust_demo_answers_everything_ok_and_never_alarms(demo_apps) -> None:
    for c in _client_for(*demo_apps["robust-demo"]):
        res = post_batches(c, [GOOD, *MESSY, "not an object"])
        assert len(res) == len(MESSY) + 2
        assert {r["status"] for r in res} == {"ok"} and all(r["prediction"] and not r["issues"] for r in res)
        assert c.post("/feedback", json={"labels": [{"id": "good", "label": "default"}]}).json() == {"accepted": 1}
        view = MonitoringResponse.model_validate(c.get("/monitoring").json())
        assert not (view.drift.detected or view.data_quality.detected or view.performance.degraded)
        assert c.post("/predict", content=b"nope").status_code == 400


def test_starter_speaks_the_contract_and_does_almost_nothing(demo_apps) -> None:
    for c in _client_for(*demo_apps["starter"]):
        res = post_batches(c, [GOOD, *MESSY, "not an object"])
        assert [r["status"] for r in res] == ["ok"] * (len(MESSY) + 1) + ["invalid"]
        assert {r["prediction"] for r in res[:-1]} == {"no_default"}  # the majority outcome
        view = MonitoringResponse.model_validate(c.get("/monitoring").json())
        assert not (view.drift.detected or view.data_quality.detected or view.performance.degraded)
        assert c.post("/predict", content=b"nope").status_code == 422
