"""`make demo`: grade the reference, accuracy-only and robust-demo solutions side by side.

python -m harness.demo [--runtime auto|local|docker] [--out reports/demo]

The point of shiftwork in one table: the accuracy-only service is about as accurate as
the reference, and scores far below it once validation, monitoring and degradation count.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from grader.errors import ShiftworkError
from grader.exercise import DIMENSIONS
from grader.grade import GradePlan, exit_on_sigterm
from harness.grading import grade_one
from harness.solutions import materialize_solution

log = logging.getLogger(__name__)

EXERCISE = "support-triage"
SOLUTIONS = ("reference", "accuracy-only", "robust-demo")
SEED = 7


def run_demo(runtime: str, out: Path, console: Console) -> dict[str, Any]:
    reports: dict[str, Any] = {}
    plans: dict[tuple[str, int], GradePlan] = {}
    with tempfile.TemporaryDirectory(prefix="shiftwork-demo-") as tmp:
        for name in SOLUTIONS:
            folder = materialize_solution(EXERCISE, name, Path(tmp) / name, seed=SEED)
            # The project's own solutions: `auto` may fall back to the unsandboxed local runtime.
            report, _ = grade_one(folder, exercise=EXERCISE, out=out / name, runtime=runtime, seed=SEED,
                                  console=console, plan_cache=plans, local_fallback=True)
            reports[name] = report
    return reports


def comparison_table(reports: dict[str, Any]) -> Table:
    table = Table(title=f"{EXERCISE}, seed {SEED}: the same task, graded on held-back shifted traffic")
    table.add_column("")
    for name in reports:
        table.add_column(name, justify="right")
    table.add_row("status", *(r.status for r in reports.values()))
    table.add_row("[bold]total (0-100)[/]", *(f"[bold]{r.score:.1f}[/]" for r in reports.values()))
    for dim in DIMENSIONS:
        weight = next(iter(reports.values())).dimensions[dim].weight
        table.add_row(f"{dim} (x{weight:g})", *(f"{r.dimensions[dim].score:.0f}" for r in reports.values()))

    def acc(r: Any, key: str) -> str:
        v = getattr(r.accuracy, key)
        if v is None:
            return "n/a"
        return f"{v:.1%}" if r.accuracy.metric_name == "accuracy" else f"{v:.1f}"

    metric = next(iter(reports.values())).accuracy.metric_name
    table.add_row(f"{metric}, in distribution", *(acc(r, "in_distribution") for r in reports.values()))
    table.add_row(f"{metric}, under shift", *(acc(r, "under_shift") for r in reports.values()))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="auto", choices=("auto", "local", "docker"))
    parser.add_argument("--out", type=Path, default=Path("reports") / "demo", help="where the two reports go")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    console = Console()
    err = Console(stderr=True)

    exit_on_sigterm()
    try:
        reports = run_demo(args.runtime, args.out, err)
    except ShiftworkError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        return exc.exit_code
    console.print(comparison_table(reports))
    for name in reports:
        console.print(f"{name}: {args.out / name / 'report.html'}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
