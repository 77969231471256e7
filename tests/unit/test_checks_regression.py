"""Regression targets: the error checks, their naive anchors, the report's metric, numeric feedback."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

import _builders as b
from grader.contract import Result
from grader.errors import ConfigError
from grader.exercise import Exercise, load_exercise
from grader.replay import ReplayBudgets, replay
from grader.report import build_report
from grader.report.render import render_html, render_markdown
from grader.scenario import Scenario
from grader.scoring import run_checks
from grader.target import Classification, Regression, target_for
from grader.truth import RecordTruth

CHECKS = ("in_distribution_accuracy", "shift_accuracy")


def scores(ctx) -> dict[str, float]:
    return {c: b.run_check(c, ctx).score for c in CHECKS}


def scored_truths(ctx, check: str) -> list[float]:
    """The true values of the rows a check scores (stable clean records, or usable shifted ones)."""
    out = []
    for tr in ctx.traffic.values():
        for ph in tr.phases:
            for t in ph.truths:
                if check == "in_distribution_accuracy" and t.kind == "clean" and not ph.truth.shifts:
                    out.append(float(t.label))
                if check == "shift_accuracy" and t.kind != "invalid" and ph.truth.shifts:
                    out.append(float(t.label))
    return out


# --- the target plug-in and the exercise ------------------------------------------------------------

def test_the_exercise_names_its_target_and_metric(tmp_path: Path) -> None:
    assert (target_for(b.exercise()).kind, b.exercise().metric) == ("classification", "accuracy")
    ex = b.regression_exercise()
    assert isinstance(target_for(ex), Regression) and ex.metric == "mae"
    raw = {**b.exercise().model_dump(), "target": "regression", "metric": "accuracy"}
    with pytest.raises(ValidationError, match="'accuracy' does not fit target 'regression'"):
        Exercise.model_validate(raw)
    folder = tmp_path / "exercises" / "fc"
    folder.mkdir(parents=True)
    folder.joinpath("exercise.toml").write_text(
        'id = "fc"\nversion = "1"\ntitle = "t"\ndataset = "d"\nlabel = "y"\ntarget = "regression"\n'
        'metric = "rmse"\nscenarios = ["a.toml"]\npublic_scenario = "p.toml"\n'
        'checks = [{id = "shift_accuracy"}]\n[weights]\nvalidation = 0.2\nmonitoring = 0.2\n'
        'degradation = 0.2\noperations = 0.2\naccuracy = 0.2\n')
    with pytest.raises(ConfigError, match=r"exercise.toml: metric: .*'rmse' does not fit target 'regression' \(use mae\)"):
        load_exercise("fc", tmp_path)


def test_truths_carry_numbers_and_a_missing_actual_is_no_label() -> None:
    t = RecordTruth(id="a", scenario="s", phase="p", index=0, kind="clean", label=12, original_label=3.5)
    assert t.label == 12.0 and isinstance(t.label, float) and t.original_label == 3.5
    assert RecordTruth(id="a", scenario="s", phase="p", index=0, kind="clean", label=float("nan")).label is None
    assert RecordTruth(id="a", scenario="s", phase="p", index=0, kind="clean", label="billing").label == "billing"


def test_only_finite_json_numbers_are_usable_forecasts() -> None:
    reg, cls = Regression(), Classification()
    assert [reg.usable(v) for v in (1, 2.5, -0.0)] == [True, True, True]
    assert [reg.usable(v) for v in ("2.5", True, None, float("nan"), float("inf"), [1.0], {"v": 1})] == [False] * 7
    assert "is not a finite JSON number" in reg.unusable("2.5") and cls.usable("2.5")


# --- both ways: a good forecast scores ~1, the trivial strategies 0 ------------------------------------

def test_a_forecast_close_to_the_truth_scores_full_marks() -> None:
    ctx = b.regression_standard(answer=b.forecast(noise=1.0))
    for check in CHECKS:
        r = b.run_check(check, ctx)
        assert r.score == pytest.approx(1.0) and r.passed, (check, r.evidence)
        assert r.metrics["mae"] < r.metrics["plain_model"] < r.metrics["null"]
        assert r.title.startswith("Error (MAE)") and "MAE 0." in r.evidence and "seasonal-naive" in r.evidence


def test_a_middling_forecast_scores_on_the_line_between_the_anchors() -> None:
    r = b.run_check("in_distribution_accuracy", b.regression_standard(answer=b.forecast(noise=7.0)))
    m = r.metrics
    assert m["plain_model"] < m["mae"] < m["null"]
    assert 0.05 < r.score < 0.95
    assert r.score == pytest.approx((m["null"] - m["mae"]) / (m["null"] - m["plain_model"]))


@pytest.mark.parametrize("check", CHECKS)
def test_the_best_constant_in_hindsight_scores_zero(check: str) -> None:
    y = sorted(scored_truths(b.regression_standard(), check))
    median = (y[(len(y) - 1) // 2] + y[len(y) // 2]) / 2  # by hand: the anchor's own median is under test
    for value in (median, median + 5.0, 100.0):
        r = b.run_check(check, b.regression_standard(answer=b.constant_forecast(value)))
        assert r.score == 0.0 and not r.passed, (value, r.evidence)
        assert r.metrics["mae"] >= r.metrics["best_constant"] >= r.metrics["null"]
        assert r.debrief and r.failures


@pytest.mark.parametrize("check", CHECKS)
def test_echoing_the_value_one_season_ago_scores_zero(check: str) -> None:
    r = b.run_check(check, b.regression_standard(answer=b.seasonal_echo))
    assert r.score == 0.0 and r.metrics["mae"] >= r.metrics["seasonal_naive"] - 1e-9


def test_a_plain_model_no_better_than_the_naive_forecast_leaves_a_step() -> None:
    ctx = b.regression_standard(answer=b.seasonal_echo)
    ctx.baseline_predictions["plain_model"] = dict(ctx.baseline_predictions["seasonal_naive"])
    echo = b.run_check("in_distribution_accuracy", ctx)
    assert echo.score == 0.0 and echo.metrics["plain_model"] == pytest.approx(echo.metrics["seasonal_naive"])
    assert "1 % below it (the plain model" in echo.evidence
    good = b.regression_standard(answer=b.forecast(noise=1.0))
    good.baseline_predictions["plain_model"] = dict(good.baseline_predictions["seasonal_naive"])
    assert b.run_check("in_distribution_accuracy", good).score == 1.0


def test_without_a_plain_model_the_error_is_not_measured() -> None:
    ctx = b.regression_standard()
    del ctx.baseline_predictions["plain_model"]
    r = b.run_check("shift_accuracy", ctx)
    assert r.not_measured and "plain-model baseline unavailable (raw MAE" in r.not_measured and r.score == 0


# --- unserved records earn nothing ------------------------------------------------------------------

def test_declining_every_record_scores_zero() -> None:
    ctx = b.regression_standard(answer=b.reject_all)
    for check in CHECKS:
        r = b.run_check(check, ctx)
        assert r.score == 0.0 and r.metrics["mae"] >= max(r.metrics["seasonal_naive"], r.metrics["best_constant"])
        assert f"{len(scored_truths(ctx, check))} record(s) not served count at the error of the worse" in r.evidence
    # every batch failing: nothing was answered, so nothing is measured (and nothing earned)
    dead = b.regression_standard(answer=b.forecast(), fail_batches=set(range(60)))
    for check in CHECKS:
        r = b.run_check(check, dead)
        assert r.score == 0.0 and r.not_measured and r.metrics == {"mae": None}


def test_declining_the_records_it_cannot_forecast_earns_nothing_for_them() -> None:
    # seasonal-naive on half the records, declined on the other half: no better than seasonal-naive
    half_echo = lambda rec, t: b.seasonal_echo(rec, t) if t.index % 2 else b.reject_all(rec, t)  # noqa: E731
    assert scores(b.regression_standard(answer=half_echo)) == {c: 0.0 for c in CHECKS}
    # the truth on half, declined on the rest: the declined half costs what the worse naive answer costs
    good = b.forecast(noise=0.0)
    half_good = lambda rec, t: good(rec, t) if t.index % 2 else b.reject_all(rec, t)  # noqa: E731
    full, half = scores(b.regression_standard(answer=good)), scores(b.regression_standard(answer=half_good))
    for check in CHECKS:
        assert half[check] < full[check] == 1.0
    r = b.run_check("in_distribution_accuracy", b.regression_standard(answer=half_good))
    assert r.failures[0].split(" ")[0].endswith(("0", "2", "4", "6", "8")) and "-> invalid" in r.failures[0]


@pytest.mark.parametrize("bad", ["101.5", None, True, float("nan")])
def test_a_prediction_that_is_not_a_number_is_not_served(bad: object) -> None:
    ok = b.forecast(noise=0.0)
    answer = lambda rec, t: ok(rec, t).model_copy(update={"prediction": bad}) if ok(rec, t).prediction is not None \
        else ok(rec, t)  # noqa: E731
    ctx = b.regression_standard(answer=answer)
    r = b.run_check("in_distribution_accuracy", ctx)
    assert r.score == 0.0
    assert "of them answered with a prediction that is not a number) count at the error" in r.evidence
    if isinstance(bad, str):
        assert "(not served: prediction '101.5' is not a finite JSON number)" in r.failures[0]
    served = b.run_check("valid_served", ctx)
    assert served.score == 0.0 and "Served: 0/" in served.evidence


def test_a_number_is_still_a_number_in_a_fallback_answer() -> None:
    # fallback answers count by their prediction, as for classification
    fb = lambda rec, t: Result(id=t.id, status="fallback", prediction=float(t.label)) if t.kind != "invalid" \
        else b.reject_all(rec, t)  # noqa: E731
    assert b.run_check("shift_accuracy", b.regression_standard(answer=fb)).score == 1.0


# --- the other degradation checks are target-neutral ------------------------------------------------

def test_the_performance_alarm_reads_monitoring_whatever_the_target() -> None:
    assert b.run_check("performance_alarm", b.regression_standard(monitor=b.oracle_monitor())).score == 1.0
    r = b.run_check("performance_alarm", b.regression_standard(monitor=b.never_on))
    assert r.score == 0.0 and any("the forecast error had risen" in q for q in r.debrief)
    r = b.run_check("slice_alarm", b.regression_standard())
    assert r.not_measured and "no group's performance drop" in r.not_measured


# --- the report ---------------------------------------------------------------------------------------

def test_the_report_holds_the_declared_metric() -> None:
    ctx = b.regression_standard(answer=b.constant_forecast(90.0))
    results = run_checks(ctx)
    report = build_report(ctx, results)
    by_id = {r.id: r for r in results}
    assert report.accuracy.metric == "mae"
    assert report.accuracy.in_distribution == pytest.approx(by_id["in_distribution_accuracy"].metrics["mae"])
    assert report.accuracy.under_shift == pytest.approx(by_id["shift_accuracy"].metrics["mae"])
    assert report.accuracy.under_shift > 1
    data = json.loads(report.model_dump_json())
    assert data["accuracy"]["metric"] == "mae" and data["accuracy"]["under_shift"] > 1
    md, html = render_markdown(report), render_html(report, {})
    assert f"| MAE under shift | {report.accuracy.under_shift:.3f} |" in md and "accuracy in distribution" not in md
    assert "<th>MAE in distribution</th>" in html and "accuracy under shift" not in html
    assert report.model_validate_json(report.model_dump_json()).accuracy.metric == "mae"


def test_a_classification_report_keeps_the_v1_accuracy_block() -> None:
    ctx = b.standard()
    report = build_report(ctx, run_checks(ctx))
    assert json.loads(report.model_dump_json())["accuracy"] == {"in_distribution": 1.0, "under_shift": 1.0}
    assert "| accuracy in distribution | 100.0% |" in render_markdown(report)
    with pytest.raises(ValidationError, match="must be at most 1"):
        type(report.accuracy)(in_distribution=1.5)


# --- replay sends numeric actuals to /feedback as JSON numbers ----------------------------------------

class _Service(BaseHTTPRequestHandler):
    feedback: list[bytes] = []

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/feedback":
            type(self).feedback.append(body)
            self._send({"accepted": len(json.loads(body)["labels"])})
        else:
            recs = json.loads(body)["records"]
            self._send({"results": [{"id": r["id"], "status": "ok", "prediction": 1.5} for r in recs]})

    def do_GET(self) -> None:  # noqa: N802
        self._send({"drift": {"detected": False}, "data_quality": {"detected": False},
                    "performance": {"degraded": False, "metric": "mae", "value": 1.0}})


def test_replay_posts_numeric_labels_as_json_numbers() -> None:
    tr, _, _ = b.regression_traffic("fb", [b.PhaseSpec("p", 12, kinds=["clean", "clean", "invalid"])])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    # shutdown() waits up to one poll: the default half second, paid by every test
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    _Service.feedback = []
    try:
        sc = Scenario(name="fb", batch_size=4, label_delay=1, window=12, phases=[{"name": "p", "records": 12}])
        run = replay(f"http://127.0.0.1:{server.server_address[1]}", tr, sc, None,  # type: ignore[arg-type]
                     ReplayBudgets(request_timeout_s=5, grading_timeout_s=60))
    finally:
        server.shutdown()
        server.server_close()
    sent = [lab for body in _Service.feedback for lab in json.loads(body)["labels"]]
    truths = {t.id: t.label for t in tr.phases[0].truths if t.kind != "invalid"}
    assert {s["id"]: s["label"] for s in sent} == truths and len(sent) == 8
    assert all(type(s["label"]) is float for s in sent)  # a JSON number, never a string
    assert all(b'"label":"' not in body for body in _Service.feedback)
    assert sum(f.labels for f in run.feedback) == 8 and all(f.status_code == 200 for f in run.feedback)
