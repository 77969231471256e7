"""load-forecast's starter and solutions behave as contract v1 and the brief promise (in-process).

- reference: never a 5xx on messy records; reads "1,234.5 MW" and "18.2°C"; reads timestamps
  in every documented spelling (epoch, US dates, "+10:00", local time with AEST) to UTC;
  rejects impossible readings and records with nothing to forecast from; falls back to the
  seasonal-naive forecast on a temperature beyond training; flags a stuck sensor, a unit
  change, an outage and a rising error, and stays silent on stable traffic;
- accuracy-only: the same model, no validation (a messy batch is a 500), the same error;
- robust-demo: never breaks, answers everything "ok", never alarms;
- starter: speaks the contract, forecasts the demand one day earlier, rejects only non-objects.
"""
from __future__ import annotations

import importlib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.contract import MonitoringResponse, PredictResponse
from grader.scenario import Scenario
from harness.data.engine import generate_scenario, load_recipe
from harness.solutions import imported_service, materialize_solution, solution_names

EXERCISE = "load-forecast"
GOOD = {"id": "good", "interval_start": "2025-07-02T08:30:00Z", "site": "metro", "temperature_c": 14.2,
        "workday": "yes", "load_yesterday_mw": 2100.5, "load_last_week_mw": 2050.0}
WHEN = datetime(2025, 7, 2, 8, 30, tzinfo=timezone.utc)


def traffic(*phases: dict, seed: int = 3) -> list[tuple[list[dict], dict[str, float]]]:
    """(wire records, true actual by id) per phase, from an in-memory scenario (nothing held back is read)."""
    scenario = Scenario.model_validate({"name": "unit-test", "phases": list(phases)})
    generated = generate_scenario(load_recipe(EXERCISE), scenario, seed)
    return [(p.records, {t.id: t.label for t in p.truths if t.label is not None}) for p in generated.phases]


def post_batches(client: TestClient, records: list, size: int = 100) -> list[dict]:
    out = []
    for i in range(0, len(records), size):
        r = client.post("/predict", json={"records": records[i:i + size]})
        assert r.status_code == 200, r.text[:300]
        out += PredictResponse.model_validate(r.json()).model_dump()["results"]
    return out


def replay(client: TestClient, records: list[dict], truth: dict[str, float], size: int = 100) -> dict:
    """Forecast batch by batch, sending each batch's actuals right after it; the last /monitoring view."""
    for i in range(0, len(records), size):
        res = post_batches(client, records[i:i + size], size)
        labels = [{"id": r["id"], "label": truth[r["id"]]} for r in res if r["id"] in truth]
        assert client.post("/feedback", json={"labels": labels}).status_code in (200, 202)
    view = client.get("/monitoring").json()
    MonitoringResponse.model_validate(view)
    return view


def issues_of(result: dict) -> set[tuple[str, str]]:
    return {(i["field"], i["code"]) for i in result["issues"]}


def test_every_solution_is_listed() -> None:
    assert set(solution_names(EXERCISE)) >= {"starter", "reference", "accuracy-only", "robust-demo"}


# -- reference ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    dest = materialize_solution(EXERCISE, "reference", tmp_path_factory.mktemp("lf-reference") / "svc")
    with imported_service(dest, "forecast.app") as module:
        yield module


@pytest.fixture
def client(reference) -> TestClient:
    # A fresh app per test: fresh monitoring state; the model is cached after the first start.
    with TestClient(reference.create_app(), raise_server_exceptions=True) as c:
        yield c


def cleaning():
    return importlib.import_module("forecast.cleaning")


def test_clean_record_is_ok_with_a_forecast_in_mw(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    (res,) = post_batches(client, [GOOD])
    assert res["status"] == "ok" and res["issues"] == [] and res["confidence"] is None
    # a real forecast: near the lags (the same half-hour a day and a week earlier), not a copy of either
    assert 0.5 * GOOD["load_yesterday_mw"] < res["prediction"] < 2 * GOOD["load_yesterday_mw"]
    # the optional prediction interval is an extra result field (contract v1 allows extras)
    (raw,) = client.post("/predict", json={"records": [GOOD]}).json()["results"]
    lo, hi = raw["interval"]
    assert lo < raw["prediction"] == res["prediction"] < hi


@pytest.mark.parametrize("field, text, want", [
    ("load_yesterday_mw", "1,234.5 MW", 1234.5), ("load_yesterday_mw", "1234.5MW", 1234.5),
    ("load_last_week_mw", "1,234.5", 1234.5), ("load_last_week_mw", " 987.0 mw ", 987.0),
    ("temperature_c", "18.2°C", 18.2), ("temperature_c", "18.2 degC", 18.2), ("temperature_c", "18.2 C", 18.2),
    ("temperature_c", "9.5", 9.5),
])
def test_readings_with_units_are_parsed_and_coerced(reference, client: TestClient, field: str, text: str,
                                                    want: float) -> None:
    c = cleaning().clean_record({**GOOD, field: text})
    assert c.values[field] == pytest.approx(want)
    (res,) = post_batches(client, [{**GOOD, "id": "unit", field: text}])
    assert res["status"] == "coerced" and {f for f, _ in issues_of(res)} == {field}


@pytest.mark.parametrize("text", [
    "2025-07-02T08:30:00Z", "2025-07-02T18:30:00+10:00", "02/07/2025 18:30 AEST", "2025-07-02 18:30 AEST",
    "07/02/2025 08:30", "02 Jul 2025 08:30", "02.07.2025 08:30", "July 02, 2025 08:30:00", 1751445000,
    "1751445000", 1751445000000, "2025-07-02T08:30:00",
])
def test_timestamps_in_every_spelling_read_as_the_same_utc_instant(reference, text) -> None:
    c = cleaning().clean_record({**GOOD, "interval_start": text})
    assert c.values["interval_start"] == WHEN
    canonical = text == "2025-07-02T08:30:00Z"
    assert (c.status == "ok") == canonical and (c.issues == []) == canonical, c.issues


def test_local_time_moves_the_forecast_with_the_time_of_day(client: TestClient) -> None:
    # the same readings at 18:30 local (an evening peak) and at 04:30 local (the night): the
    # model reads both spellings of the first as one instant and tells the two apart
    res = post_batches(client, [{**GOOD, "id": "utc"},
                                {**GOOD, "id": "aest", "interval_start": "02/07/2025 18:30 AEST"},
                                {**GOOD, "id": "night", "interval_start": "2025-07-01T18:30:00Z"}])
    assert res[0]["prediction"] == res[1]["prediction"] and res[1]["status"] == "coerced"
    assert res[2]["prediction"] != res[0]["prediction"]


@pytest.mark.parametrize("value", ["soon", "31/31/2025 99:99", [2025], {"t": 1}, True, 12])
def test_unreadable_timestamp_is_coerced_and_forecast_without_the_time(client: TestClient, value) -> None:
    (res,) = post_batches(client, [{**GOOD, "id": "when", "interval_start": value}])
    assert res["status"] == "coerced" and res["prediction"] is not None
    assert issues_of(res) == {("interval_start", "unparseable")}


def test_bad_records_are_invalid_without_spoiling_the_batch(client: TestClient) -> None:
    batch = [
        {**GOOD, "id": "negative", "load_yesterday_mw": -250.0},
        GOOD,
        {**GOOD, "id": "sensor", "temperature_c": -99.0},
        {**GOOD, "id": "lots", "load_last_week_mw": "lots"},
        {**GOOD, "id": "listy", "temperature_c": [14.2]},
        "not an object",
        {**GOOD, "id": "nolags", "load_yesterday_mw": None, "load_last_week_mw": "  "},
        {**GOOD, "id": "huge", "load_yesterday_mw": 10 ** 400},
        {**GOOD, "id": "extra", "meter_firmware": "4.3.0", "temperature_c": None, "site": " Metro", "workday": "YES"},
        {**GOOD, "id": "weekonly", "load_yesterday_mw": None},
    ]
    res = post_batches(client, batch)
    assert [r["id"] for r in res] == ["negative", "good", "sensor", "lots", "listy", "5", "nolags", "huge", "extra",
                                      "weekonly"]
    assert [r["status"] for r in res] == ["invalid", "ok", "invalid", "invalid", "invalid", "invalid", "invalid",
                                          "invalid", "coerced", "coerced"]
    assert all(r["prediction"] is None and r["confidence"] is None for r in res if r["status"] == "invalid")
    assert ("load_yesterday_mw", "out_of_range") in issues_of(res[0])
    assert ("temperature_c", "out_of_range") in issues_of(res[2])
    assert ("load_last_week_mw", "not_a_number") in issues_of(res[3])
    assert {f for f, _ in issues_of(res[6])} == {"load_yesterday_mw", "load_last_week_mw"}
    assert issues_of(res[8]) == {("meter_firmware", "unknown_field"), ("temperature_c", "missing"),
                                 ("site", "normalized"), ("workday", "normalized")}
    assert issues_of(res[9]) == {("load_yesterday_mw", "missing")} and res[9]["prediction"] > 0


def test_loads_reported_in_gw_are_converted_flagged_and_fall_back(client: TestClient) -> None:
    # a bare reading a thousand times small is beyond every load in training (the dictionary's
    # `unfamiliar` kind): the record falls back, forecast from the converted lags
    gw = {**GOOD, "id": "gw", "load_yesterday_mw": GOOD["load_yesterday_mw"] / 1000,
          "load_last_week_mw": GOOD["load_last_week_mw"] / 1000}
    res = post_batches(client, [GOOD, gw, {**GOOD, "id": "small", "site": "valley", "load_yesterday_mw": 150.0}])
    assert res[1]["status"] == "fallback"
    assert issues_of(res[1]) == {("load_yesterday_mw", "unit_converted"), ("load_last_week_mw", "unit_converted"),
                                 ("load_yesterday_mw", "beyond_training_range"),
                                 ("load_last_week_mw", "beyond_training_range")}
    assert res[1]["prediction"] == pytest.approx(res[0]["prediction"], rel=0.01)
    # 150 MW is no GW reading (not converted), but below every load in training: a fallback too
    assert ("load_yesterday_mw", "unit_converted") not in issues_of(res[2])
    assert res[2]["status"] == "fallback" and ("load_yesterday_mw", "beyond_training_range") in issues_of(res[2])
    assert res[0]["status"] == "ok"


def test_temperature_beyond_training_falls_back_to_yesterday(client: TestClient) -> None:
    res = post_batches(client, [{**GOOD, "id": "hot", "temperature_c": 52.0},
                                {**GOOD, "id": "cold", "temperature_c": -18.0}])
    for r in res:
        assert r["status"] == "fallback" and r["prediction"] == GOOD["load_yesterday_mw"]
        assert ("temperature_c", "beyond_training_range") in issues_of(r)


def test_unseen_site_falls_back_to_the_model_without_the_site(client: TestClient) -> None:
    res = post_batches(client, [{**GOOD, "id": "new", "site": "harbour"}, {**GOOD, "id": "none", "site": None}])
    assert res[0]["status"] == "fallback" and ("site", "unseen_category") in issues_of(res[0])
    assert res[0]["prediction"] == res[1]["prediction"]


@pytest.mark.parametrize("body, status", [(b"this is not json", 400), (b'{"rows": []}', 422),
                                          (b'{"records": []}', 422), (b'[1, 2, 3]', 422)])
def test_malformed_bodies_get_a_4xx_with_a_message(client: TestClient, body: bytes, status: int) -> None:
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.json()["detail"]


def test_messy_traffic_never_5xxs(client: TestClient) -> None:
    ((messy, _),) = traffic({"name": "messy", "records": 600, "mess": 4.0})
    res = post_batches(client, messy)
    assert len(res) == 600
    assert {r["status"] for r in res} <= {"ok", "coerced", "invalid", "fallback"}
    assert all((r["prediction"] is None) == (r["status"] == "invalid") for r in res)
    assert client.post("/feedback", json={"labels": [{"id": 1}, "x", {"id": "a", "label": "n/a"}]}).status_code == 202
    MonitoringResponse.model_validate(client.get("/monitoring").json())


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.just(10**400) | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)
FIELDS = st.sampled_from([*GOOD, "extra"])


@settings(max_examples=200, deadline=None)
@given(record=st.dictionaries(FIELDS, JSON, max_size=9) | JSON)
def test_cleaning_never_raises_and_always_decides(reference, record) -> None:
    c = cleaning().clean_record(record, 0)
    assert c.status in {"ok", "coerced", "invalid"}
    assert isinstance(c.id, str)
    if c.status == "ok":
        assert not c.issues


HOSTILE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                       | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                       max_leaves=5)


@settings(max_examples=60, deadline=None)
@given(records=st.lists(st.dictionaries(FIELDS, HOSTILE, max_size=9) | HOSTILE, min_size=1, max_size=5))
def test_hostile_records_never_5xx_and_each_gets_one_answer(reference, records) -> None:
    with TestClient(reference.create_app(), raise_server_exceptions=False) as c:
        r = c.post("/predict", json={"records": records})
        assert r.status_code == 200, r.text[:300]
        res = PredictResponse.model_validate(r.json()).results
        assert len(res) == len(records)
        assert all((x.prediction is None) == (x.status == "invalid") for x in res)


# -- monitoring ----------------------------------------------------------------------------------
STABLE = {"name": "stable", "records": 700}


def test_stable_traffic_raises_nothing(client: TestClient) -> None:
    ((stable, truth),) = traffic(STABLE, seed=5)
    view = replay(client, stable, truth)
    assert not view["drift"]["detected"] and not view["data_quality"]["detected"], view
    perf = view["performance"]
    assert perf["metric"] == "mae" and perf["value"] is not None and not perf["degraded"]


def test_a_stuck_temperature_sensor_is_drift_on_that_field(client: TestClient) -> None:
    (stable, truth), (stuck, truth2) = traffic(
        STABLE, {"name": "stuck", "records": 600, "shifts": [{"kind": "stuck_value", "field": "temperature_c"}]})
    assert not replay(client, stable, truth)["drift"]["detected"]
    view = replay(client, stuck, truth2)
    assert view["drift"]["detected"] and view["drift"]["features"] == ["temperature_c"], view["drift"]


def test_loads_sent_in_another_unit_are_drift_on_both_load_fields(client: TestClient) -> None:
    (stable, truth), (scaled, truth2) = traffic(STABLE, {"name": "gigawatts", "records": 500, "shifts": [
        {"kind": "unit_change", "field": "load_yesterday_mw", "factor": 0.001},
        {"kind": "unit_change", "field": "load_last_week_mw", "factor": 0.001}]})
    assert not replay(client, stable, truth)["drift"]["detected"]
    view = replay(client, scaled, truth2)
    assert view["drift"]["detected"] and view["drift"]["features"] == ["load_last_week_mw", "load_yesterday_mw"]


def test_an_outage_is_a_quality_alarm_naming_the_fields(client: TestClient) -> None:
    (stable, truth), (outage, truth2) = traffic(STABLE, {"name": "outage", "records": 500, "shifts": [
        {"kind": "missing_burst", "fields": ["temperature_c", "load_last_week_mw"], "rate": 0.6}]})
    assert not replay(client, stable, truth)["data_quality"]["detected"]
    quality = replay(client, outage, truth2)["data_quality"]
    assert quality["detected"] and quality["features"] == ["load_last_week_mw", "temperature_c"]


def test_a_rising_error_degrades_performance_and_names_the_metric(client: TestClient) -> None:
    (stable, truth), (tariff, truth2) = traffic(STABLE, {"name": "tariff", "records": 900, "shifts": [
        {"kind": "profile_change", "factor": 0.6, "hours": [7, 23]}]})
    before = replay(client, stable, truth)["performance"]
    assert not before["degraded"] and before["metric"] == "mae"
    after = replay(client, tariff, truth2)["performance"]
    assert after["degraded"] and after["value"] > 1.3 * after["reference"], after


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    post_batches(client, [GOOD])
    assert 'forecast_records_total{status="ok"} 1.0' in client.get("/metrics").text


# -- the demos and the starter -------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: materialize_solution(EXERCISE, name, tmp_path_factory.mktemp(f"lf-{name}") / "svc")
            for name in ("accuracy-only", "robust-demo", "starter")}


def _client_for(dest: Path, module: str):
    with imported_service(dest, module) as mod:
        app = mod.create_app() if hasattr(mod, "create_app") else mod.app
        with TestClient(app, raise_server_exceptions=False) as c:
            yield c


MESSY = [{**GOOD, "id": f"m{i}", **patch} for i, patch in enumerate([
    {"load_yesterday_mw": "1,234.5 MW"}, {"temperature_c": "18.2°C"}, {"interval_start": "02/07/2025 18:30 AEST"},
    {"load_yesterday_mw": -250.0}, {"temperature_c": 52.0}, {"load_last_week_mw": "lots"},
    {"temperature_c": [1]}, {"site": " Metro"}, {"temperature_c": -99.0}, {"workday": None},
])]


def _mae(client: TestClient, records: list[dict], truth: dict[str, float]) -> float:
    res = post_batches(client, records)
    errs = [abs(r["prediction"] - truth[r["id"]]) for r in res if r["id"] in truth and r["prediction"] is not None]
    assert len(errs) == len(records)
    return sum(errs) / len(errs)


def test_accuracy_only_matches_the_reference_on_clean_traffic_and_breaks_on_messy(reference, demo_dirs) -> None:
    ((clean, truth),) = traffic({"name": "clean", "records": 1000, "mess": 0.0}, seed=11)
    with TestClient(reference.create_app()) as c:
        ref_mae = _mae(c, clean, truth)
    for c in _client_for(demo_dirs["accuracy-only"], "app"):
        res = post_batches(c, [GOOD, {**GOOD, "id": "g2", "site": "valley", "load_yesterday_mw": 350.0}])
        assert [r["status"] for r in res] == ["ok", "ok"]
        assert abs(_mae(c, clean, truth) - ref_mae) <= 0.05 * ref_mae
        assert c.post("/predict", json={"records": MESSY}).status_code == 500  # a demo: no validation


def test_robust_demo_answers_everything_ok_and_never_alarms(demo_dirs) -> None:
    for c in _client_for(demo_dirs["robust-demo"], "app"):
        res = post_batches(c, [GOOD, *MESSY, "not an object"])
        assert len(res) == len(MESSY) + 2
        assert {r["status"] for r in res} == {"ok"} and all(r["prediction"] and not r["issues"] for r in res)
        assert c.post("/feedback", json={"labels": [{"id": "good", "label": 2000.0}]}).json() == {"accepted": 1}
        view = MonitoringResponse.model_validate(c.get("/monitoring").json())
        assert not (view.drift.detected or view.data_quality.detected or view.performance.degraded)
        assert c.post("/predict", content=b"nope").status_code == 400


def test_starter_speaks_the_contract_and_repeats_yesterday(demo_dirs) -> None:
    for c in _client_for(demo_dirs["starter"], "service.main"):
        res = post_batches(c, [GOOD, {**GOOD, "id": "str", "load_yesterday_mw": "1,234.5 MW"}, "not an object"])
        assert [r["status"] for r in res] == ["ok", "invalid", "invalid"]
        assert res[0]["prediction"] == GOOD["load_yesterday_mw"]  # the seasonal-naive forecast
        assert c.post("/feedback", json={"labels": [{"id": "good", "label": 2000.0}]}).status_code == 202
        view = MonitoringResponse.model_validate(c.get("/monitoring").json())
        assert not (view.drift.detected or view.data_quality.detected or view.performance.degraded)
        assert view.performance.metric == "mae" and view.performance.value == pytest.approx(100.5)
        assert c.post("/predict", content=b"nope").status_code == 422
