"""A grading's report files and the summary a hiring manager reads first.

Results point at a report folder relative to the data dir (report.json/.md/.html, as the
grader wrote them). The summary sorts the checks into habits shown and habits missing:
a measured check that passed is a habit shown; one that failed is missing; a contract
duty (gate) only shows up when it failed, since meeting it earns nothing by itself.
"""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, TypeAdapter, ValidationError

from grader.exercise import exercises_dir
from grader.report.model import CheckEntry, Report
from grader.report.render import FIGURES, FigureEntry
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


def load_figures(settings: WebSettings, result: Result | None) -> list[tuple[str, str]]:
    """(caption, base64 PNG) of the report's figures, shown inline on the report page; [] for an older
    report (its report.html still has them)."""
    folder = inside(settings.storage_root, result.report_dir) if result is not None else None
    index = folder / FIGURES / "index.json" if folder is not None else None
    if index is None or not index.is_file():
        return []
    try:
        entries = TypeAdapter(list[FigureEntry]).validate_json(index.read_bytes()[:200_000])
    except ValueError:
        return []
    out = []
    for e in entries[:20]:
        png = index.parent / e.file
        if "/" in e.file or not png.is_file() or png.stat().st_size > 5 * 2**20:
            continue
        out.append((e.caption, base64.b64encode(png.read_bytes()).decode("ascii")))
    return out


class AnchorScores(BaseModel):
    score: float
    dimensions: dict[str, float]


class Anchors(BaseModel):
    seed: int
    solutions: dict[str, AnchorScores]


ANCHOR_NAMES = ("reference", "robust-demo", "accuracy-only")


def load_anchors(exercise: str) -> Anchors | None:
    """What the exercise's shipped solutions score (exercises/<id>/anchors.json), or None."""
    try:
        path = exercises_dir() / exercise / "anchors.json"
        return Anchors.model_validate_json(path.read_bytes()) if path.is_file() else None
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Bar:
    dimension: str
    score: float
    weight: float
    anchors: list[tuple[str, float]]  # (solution, score) drawn as ticks on the bar


def chart(summary: Summary, anchors: Anchors | None) -> list[Bar]:
    ticks = {n: anchors.solutions[n] for n in ANCHOR_NAMES if anchors and n in anchors.solutions}
    return [Bar(name, score, weight, [(n, a.dimensions[name]) for n, a in ticks.items() if name in a.dimensions])
            for name, score, weight in summary.dimensions]


def verdict(summary: Summary, anchors: Anchors | None) -> str:
    """One sentence a hiring manager reads first: where the total sits against the shipped solutions."""
    if summary.status != "graded":
        first = summary.reasons[0] if summary.reasons else summary.status.replace("_", " ")
        return f"Not graded in full ({summary.status.replace('_', ' ')}): {first}"
    if anchors is None or not all(n in anchors.solutions for n in ANCHOR_NAMES):
        return f"Scored {summary.score:.1f} / 100."
    ref, demo, acc = (anchors.solutions[n].score for n in ANCHOR_NAMES)
    s = summary.score
    if s >= ref - 5:
        return f"At the reference solution's level ({ref:.0f}): the production habits this exercise measures are there."
    if s > demo + 5:
        return (f"Between the robust demo ({demo:.0f}) and the reference ({ref:.0f}): a working service with some "
                "production habits; the missing ones are listed below.")
    if s > acc + 5:
        return (f"Around the robust demo's level ({demo:.0f}): the service survives messy input but shows little "
                "monitoring or degradation handling.")
    return (f"At the accuracy-only level ({acc:.0f}): a model is served, with few of the production habits this "
            "exercise measures.")


def accuracy_line(metric: str) -> str:
    """What the accuracy dimension's 0-100 means, beside the raw accuracy (or error) the page also shows."""
    if metric != "accuracy":
        return ("The accuracy dimension is 0 at the better of the best constant and the seasonal-naive forecast, "
                "100 at the exercise's plain model: the raw error is shown for reference.")
    return ("The accuracy dimension is 0 at the best constant answer and 100 at the exercise's plain model (or 85 % "
            "accuracy, if lower): a candidate need not beat a plain model, so 100 sits beside a raw accuracy below "
            "100 %.")
