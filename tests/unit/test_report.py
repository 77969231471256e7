"""report.json v1 schema, Markdown and HTML rendering with embedded figures, debrief questions."""
from __future__ import annotations

import base64
import json
import re

import _builders as b
import pytest

from grader.checks.base import CheckResult
from grader.report import build_report, write_reports
from grader.report.debrief import collect_debrief
from grader.report.model import Report
from grader.scoring import run_checks

V1_KEYS = {"report_version", "exercise", "submission", "status", "reasons", "score", "dimensions", "checks",
           "accuracy", "debrief"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    ctx = b.standard(answer=b.serve_all_ok, monitor=b.always_on, fail_batches={3})
    ctx.transcript.timings_s = {"replay": 12.5}
    report = build_report(ctx, run_checks(ctx))
    out = tmp_path_factory.mktemp("report")
    return report, write_reports(report, ctx, out / "nested")


def test_report_json_is_v1(written):
    _, paths = written
    data = json.loads(paths["json"].read_text())
    assert V1_KEYS <= set(data)
    assert data["report_version"] == 1 and isinstance(data["exercise"], str) and isinstance(data["submission"], str)
    assert data["status"] in {"graded", "build_failed", "start_failed", "crashed", "timed_out"}
    assert isinstance(data["reasons"], list) and 0 <= data["score"] <= 100
    assert set(data["dimensions"]) == {"validation", "monitoring", "degradation", "operations", "accuracy"}
    for d in data["dimensions"].values():
        assert {"score", "weight"} <= set(d) and 0 <= d["score"] <= 100 and 0 <= d["weight"] <= 1
        # additive: what a null service gets and what earned the points above it
        assert d["baseline"] == 0 and d["null_service"] and isinstance(d["earned"], list)
        earned = sum(e["points"] for e in d["earned"])
        assert earned == pytest.approx(d["score"], abs=0.5)
    for c in data["checks"]:
        assert {"id", "dimension", "score", "passed", "evidence"} <= set(c)
        assert 0 <= c["score"] <= 1 and isinstance(c["passed"], bool) and c["evidence"]
    assert set(data["accuracy"]) == {"in_distribution", "under_shift"}
    assert all(v is None or 0 <= v <= 1 for v in data["accuracy"].values())
    assert data["debrief"] and all(isinstance(q, str) for q in data["debrief"])
    assert data["seed"] == 42 and data["runtime"] == "local" and data["timings_s"] == {"replay": 12.5}
    assert data["generated_by"].startswith("shiftwork")
    assert Report.model_validate(data).score == data["score"]


def test_total_matches_dimensions(written):
    report, _ = written
    expected = sum(d.score * d.weight for d in report.dimensions.values())
    assert report.score == pytest.approx(expected, abs=0.1)
    assert report.score < 80


def test_markdown_has_tables_evidence_failures_and_debrief(written):
    report, paths = written
    md = paths["md"].read_text()
    assert f"**{report.score:.1f} / 100**" in md
    assert "| validation |" in md and "| drift_false_alarms |" in md
    assert "#### no_server_errors" in md and "Failing requests:" in md and "HTTP 500" in md
    assert "## Debrief questions" in md and report.debrief[0] in md
    # every dimension says what a null service would have got and where the points came from
    assert md.count("— baseline 0.0.** A null service scores") == 5 and "Points above it: " in md
    assert "Gates (contract duties that multiply the dimension): no_server_errors x" in md


def test_html_is_self_contained_with_png_figures(written):
    report, paths = written
    html = paths["html"].read_text()
    imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(imgs) == 4  # 3 drift timelines + latency histogram
    assert all(base64.b64decode(s)[:8] == b"\x89PNG\r\n\x1a\n" for s in imgs)
    assert "Drift timeline — drift" in html and "Latency under load" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "Debrief questions" in html


def test_html_escapes_candidate_text(tmp_path):
    ctx = b.standard()
    results = run_checks(ctx)
    results[0].failures = ["<script>alert(1)</script>"]
    paths = write_reports(build_report(ctx, results), ctx, tmp_path)
    html = paths["html"].read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_failed_status_report_still_renders(tmp_path):
    base = b.standard()
    ctx = b.context(list(base.traffic.values()), [], base.scored, status="build_failed",
                    reasons=["pip install failed: no matching distribution"])
    report = build_report(ctx, run_checks(ctx))
    report = report.model_copy(update={"notes": ["graded with the local runtime: NOT isolated"],
                                       "service_log_tail": "ERROR: No matching distribution <torch>"})
    assert report.score == 0.0 and report.status == "build_failed"
    assert len(report.debrief) == 1 and "did not build" in report.debrief[0]
    paths = write_reports(report, ctx, tmp_path)
    md, html = paths["md"].read_text(), paths["html"].read_text()
    assert "pip install failed" in md and "NOT isolated" in md and "No matching distribution <torch>" in md
    assert "No matching distribution &lt;torch&gt;" in html and "NOT isolated" in html
    assert json.loads(paths["json"].read_text())["service_log_tail"].startswith("ERROR")
    assert json.loads(paths["json"].read_text())["accuracy"] == {"in_distribution": None, "under_shift": None}


def test_debrief_orders_by_points_lost_and_deduplicates():
    ex = b.exercise()
    res = [CheckResult(id="in_distribution_accuracy", dimension="accuracy", score=0.0, passed=False, evidence="",
                       debrief=["small"]),
           CheckResult(id="drift_false_alarms", dimension="monitoring", score=0.0, passed=False, evidence="",
                       weight=2, debrief=["big", "small"]),
           CheckResult(id="malformed_rejected", dimension="validation", score=1.0, passed=True, evidence="",
                       debrief=["passed checks ask nothing"])]
    assert collect_debrief(res, ex) == ["big", "small"]


def test_the_figures_are_written_beside_the_report_as_files_the_html_also_holds(written):
    import base64

    from pydantic import TypeAdapter

    from grader.report.render import FIGURES, FigureEntry

    _, paths = written
    folder = paths["html"].parent / FIGURES
    entries = TypeAdapter(list[FigureEntry]).validate_json((folder / "index.json").read_bytes())
    assert entries, "the standard run draws at least one figure"
    html = paths["html"].read_text()
    for e in entries:
        png = (folder / e.file).read_bytes()
        assert png.startswith(b"\x89PNG") and base64.b64encode(png).decode() in html and e.caption in html
