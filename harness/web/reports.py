"""A grading's report files and the summary a hiring manager reads first.

Results point at a report folder relative to the data dir (report.json/.md/.html, as the
grader wrote them). The summary sorts the checks into habits shown and habits missing:
a measured check that passed is a habit shown; one that failed is missing; a contract
duty (gate) only shows up when it failed, since meeting it earns nothing by itself.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from grader.report.model import CheckEntry, Report
from harness.store.models import Job, Result
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)
REPORT_FILES = {"json": "report.json", "md": "report.md", "html": "report.html"}
MEDIA_TYPES = {"json": "application/json", "md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}


def inside(data_dir: Path, rel: str | None) -> Path | None:
    """`rel` resolved under the data dir, or None when it is empty or points outside it."""
    if not rel:
        return None
    root = data_dir.resolve()
    path = (root / rel).resolve()
    return path if path.is_relative_to(root) and path != root else None


def latest_result(job: Job) -> Result | None:
    """The job's final result, else its newest attempt's (a job being retried shows the last word)."""
    return job.final or (job.results[-1] if job.results else None)


def report_file(settings: WebSettings, result: Result | None, kind: str) -> Path | None:
    if result is None or kind not in REPORT_FILES:
        return None
    folder = inside(settings.storage_root, result.report_dir)
    path = folder / REPORT_FILES[kind] if folder is not None else None
    return path if path is not None and path.is_file() else None


def load_report(settings: WebSettings, result: Result | None) -> Report | None:
    path = report_file(settings, result, "json")
    if path is None:
        return None
    try:
        return Report.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        log.warning("report %s unreadable: %s", path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None


@dataclass(frozen=True)
class Habit:
    check: str
    title: str
    dimension: str
    score: float  # 0..1
    evidence: str
    gate: bool = False


@dataclass
class Summary:
    score: float | None
    status: str
    reasons: list[str]
    dimensions: list[tuple[str, float, float]] = field(default_factory=list)  # name, score 0..100, weight
    shown: list[Habit] = field(default_factory=list)
    missing: list[Habit] = field(default_factory=list)
    not_measured: list[Habit] = field(default_factory=list)
    debrief: list[str] = field(default_factory=list)
    accuracy_in: float | None = None
    accuracy_shift: float | None = None
    metric: str = "accuracy"  # how accuracy_in / accuracy_shift read: "accuracy", or an error such as "MAE"


def _habit(c: CheckEntry) -> Habit:
    evidence = " ".join(c.evidence.split())
    return Habit(check=c.id, title=c.title or c.id.replace("_", " "), dimension=c.dimension, score=c.score,
                 evidence=evidence if len(evidence) <= 240 else evidence[:239] + "…", gate=c.role == "gate")


def summarize(report: Report | None, result: Result | None = None) -> Summary:
    """The two-minute view of a report (or of a result without one: a failure before grading)."""
    if report is None:
        return Summary(score=result.score if result else None, status=result.status if result else "not graded",
                       reasons=[result.reason] if result and result.reason else [])
    out = Summary(score=report.score, status=report.status, reasons=list(report.reasons),
                  dimensions=[(n, d.score, d.weight) for n, d in report.dimensions.items()],
                  debrief=list(report.debrief), accuracy_in=report.accuracy.in_distribution,
                  accuracy_shift=report.accuracy.under_shift, metric=report.accuracy.metric_name)
    weight = {n: d.weight for n, d in report.dimensions.items()}
    # Most weighty first: what moves the score most is what a hiring manager should read first.
    for c in sorted(report.checks, key=lambda c: -(weight.get(c.dimension, 0.0) * c.weight)):
        if c.not_measured:
            out.not_measured.append(_habit(c))
        elif c.role == "gate":
            if not c.passed:
                out.missing.append(_habit(c))
        elif c.passed:
            out.shown.append(_habit(c))
        else:
            out.missing.append(_habit(c))
    return out
