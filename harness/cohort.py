"""`shiftwork grade --submissions FOLDER`: grade every entry, then one table (cohort.md, cohort.csv)."""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

import harness.grading as grading  # grade_one looked up at call time: tests swap it
from grader.grade import exit_on_sigterm
from harness.runtime.select import require_sandbox
from harness.submission import submission_name
from grader.errors import ConfigError, RuntimeUnavailable, SubmissionError, UsageError
from grader.exercise import DIMENSIONS

log = logging.getLogger(__name__)

_ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar")
COLUMNS = ["submission", "status", "score", *DIMENSIONS, "reason"]


def entries(folder: Path) -> list[Path]:
    """Sub-folders and archives, hidden ones left out, in name order."""
    if not folder.is_dir():
        raise UsageError(f"--submissions {folder}: not a folder")
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")
                  and (p.is_dir() or p.name.lower().endswith(_ARCHIVES)))


def row(name: str, report: Any = None, error: str = "") -> dict[str, Any]:
    if report is None:
        return {"submission": name, "status": "not_graded", "score": "", "reason": error}
    out = {"submission": report.submission, "status": report.status, "score": report.score,
           "reason": "; ".join(report.reasons)[:200]}
    out.update({d: round(report.dimensions[d].score, 1) for d in DIMENSIONS if d in report.dimensions})
    return out


def write_cohort(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """cohort.csv in grading order; cohort.md best score first (ungraded rows last)."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "cohort.csv", out / "cohort.md"
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)

    def rank(r: dict[str, Any]) -> float:
        value = r.get("score")
        return -float(value) if isinstance(value, (int, float)) else 1.0

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in sorted(rows, key=rank):
        lines.append("| " + " | ".join(str(r.get(c, "")).replace("|", "/") for c in COLUMNS) + " |")
    md_path.write_text("# Cohort\n\n" + "\n".join(lines) + "\n")
    return md_path, csv_path


def _not_graded(console: Console, rows: list[dict[str, Any]], name: str, error: str) -> None:
    line = " ".join(error.split())[:300]
    # The message quotes candidate-chosen names: printed as text, never as markup.
    console.print(f"[red]{escape(name)}: not graded:[/] {escape(line)}", highlight=False)
    rows.append(row(name, error=line))


def grade_cohort(folder: Path, *, exercise: str | None, out: Path | None, runtime: str, seed: int | None,
                 allow_bad_token: bool, console: Console, allow_local_git: bool = False) -> int:
    """Grade every entry into OUT/<name>/; an unreadable entry becomes a row, not a stop.

    Only faults of the grader itself stop the cohort (a broken exercise, no runtime, an
    unwritable report folder); whatever one submission makes go wrong ends as its row.
    """
    items = entries(folder)
    if not items:
        raise UsageError(f"--submissions {folder}: no folders or archives in it")
    base = out or Path("reports")
    rows: list[dict[str, Any]] = []
    plans: dict[tuple[str, int], Any] = {}  # candidates share traffic only when they share a seed
    written = 0
    for entry in items:
        name = submission_name(str(entry))
        try:
            report, _ = grading.grade_one(entry, exercise=exercise, out=base / name, runtime=runtime, seed=seed,
                                          allow_bad_token=allow_bad_token, console=console, plan_cache=plans,
                                          allow_local_git=allow_local_git)
        except (ConfigError, RuntimeUnavailable):
            raise  # the grader cannot work at all: the next entry would fail the same way
        except (SubmissionError, UsageError) as exc:
            # One unreadable submission must not stop the cohort.
            _not_graded(console, rows, name, str(exc))
            continue
        except Exception as exc:  # anything else one submission provoked: its row says what, the cohort goes on
            log.debug("%s: not graded", name, exc_info=True)
            _not_graded(console, rows, name, str(grading.as_submission_error(entry, exc)))
            continue
        rows.append(row(name, report))
        written += 1
    md, csv_path = write_cohort(rows, base)
    console.print(escape(f"cohort: {written} of {len(items)} graded; table in {md} and {csv_path}"), highlight=False)
    return 0 if written else 1


def grade_command(*, submission: str | None, submissions: Path | None, exercise: str | None, out: Path | None,
                  runtime: str, seed: int | None, allow_bad_token: bool, console: Console,
                  allow_local_git: bool = False) -> int:
    """The CLI entry. Returns 0 whenever a report was written; raises ShiftworkError otherwise.

    Never runs a submission unsandboxed unless the grader named `--runtime local`: `auto`
    without a Docker engine is an error here (the check runs before anything is resolved).
    """
    exit_on_sigterm()
    if bool(submission) == bool(submissions):
        raise UsageError("give one SUBMISSION, or --submissions FOLDER (not both)")
    require_sandbox(runtime)
    if submission:
        try:
            grading.grade_one(submission, exercise=exercise, out=out, runtime=runtime, seed=seed,
                      allow_bad_token=allow_bad_token, console=console, allow_local_git=allow_local_git)
        except grading.SUBMISSION_FAULTS as exc:
            raise grading.as_submission_error(submission, exc) from exc
        return 0
    assert submissions is not None
    return grade_cohort(submissions, exercise=exercise, out=out, runtime=runtime, seed=seed,
                        allow_bad_token=allow_bad_token, console=console, allow_local_git=allow_local_git)
