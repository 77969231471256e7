"""`shiftwork scenarios check`: the calibration table, and the command that prints it (and ships it)."""
from __future__ import annotations

from grader.errors import CalibrationFailed
from grader.exercise import load_exercise
from harness.calibration import (ASPECTS, EVIDENTLY_WINDOWS, MUST_BE_SILENT, MUST_DETECT, SEED_ALPHA,
                                 CalibrationReport, Verdict, seed_floor)
from harness.calibration_store import cached_report, ship


def _cell(rate: float | None, expect: str, v: Verdict, worst: tuple[int, float] | None = None) -> str:
    shown = "n/a" if rate is None else f"{rate:.2f}"
    if v == "reported":
        return f"[dim]{shown}[/]"
    mark = "[red]FAIL[/]" if v == "FAIL" else "[green]ok[/]"
    # the seed furthest from the bar: a verdict holds only if it holds there too
    return f"{shown} {expect} {mark}" + (f"\nworst seed {worst[1]:.2f}" if worst is not None else "")


def render(report: CalibrationReport, console) -> None:
    """One table per scenario: per aspect the pooled rate, the expectation, whether it holds and the worst seed."""
    from rich.table import Table

    for scenario in dict.fromkeys(p.scenario for p in report.phases):
        table = Table(title=scenario, title_justify="left", title_style="bold")
        aspect = {"min_width": 16}  # "0.98 silent FAIL" / "worst seed 0.93" stay on their lines
        for col, kw in (("phase", {"no_wrap": True}), ("window", {"justify": "right"}), ("drift", aspect),
                        ("quality", aspect), ("performance", aspect), ("evidently", {}),
                        ("accuracy" if report.metric == "accuracy" else report.metric.upper(), {"justify": "right"}),
                        ("fields (rate)", {})):
            table.add_column(col, **kw)
        for p in (p for p in report.phases if p.scenario == scenario):
            cells = [_cell(p.rate(a), getattr(p.expect, a), p.verdicts[a], p.worst_seed(a)) for a in ASPECTS]
            ev = f"{p.evidently_rate:.2f}" if p.evidently_rate is not None else "n/a"
            acc = "n/a" if p.window_accuracy is None else f"{p.window_accuracy:.3f}"
            fields = ", ".join(f"{f} {r:.2f}" for f, r in p.field_rates.items() if r >= 0.1)
            for g, r in p.slice_rates.items():
                v = p.slice_verdicts.get(g, "reported")
                if p.expect.slices == "unscored":
                    continue
                per = [s.slice_rates[g] for s in p.seeds if g in s.slice_rates]
                span = f" seeds {min(per):.2f}-{max(per):.2f}" if per else ""
                fields += f"; {g} {r:.2f}{span} ({'[green]' + v + '[/]' if v != 'FAIL' else '[red]FAIL[/]'})"
            table.add_row(p.phase, str(p.window), *cells, ev, acc, fields)
        console.print(table)
    notes = sorted({p.evidently_note for p in report.phases if p.evidently_note})
    n = report.windows
    across = (f"{n} simulated windows per seed x {len(report.seeds)} seeds, pooled" if report.seeds
              else f"{n} simulated windows")
    console.print(
        f"Rates = share of {across}, that the reference detector flagged; 'detect' needs >= {MUST_DETECT} pooled and "
        f"no seed significantly below (exact binomial, alpha {SEED_ALPHA}: a seed of {n} windows >= "
        f"{seed_floor('detect', n):.2f}); 'silent' <= {MUST_BE_SILENT} pooled and no seed above "
        f"{seed_floor('silent', n):.2f}; worst seed = the single seed furthest from the bar; dim = not scored. "
        f"Evidently (ks/chisquare, Bonferroni) on {EVIDENTLY_WINDOWS} windows per phase of the first seed, second "
        "opinion only" + (f"; n/a: {'; '.join(notes)}" if notes else "") + ".")
    figure = "Stable accuracy" if report.metric == "accuracy" else "Stable mean absolute error"
    spread = (f" (seeds {min(report.seed_stable):.3f}-{max(report.seed_stable):.3f})"
              if len(report.seed_stable) > 1 else "")
    console.print(f"{figure} {report.stable_accuracy:.3f}{spread} (the grader's plain baseline); {report.reference}; "
                  f"seeds {', '.join(map(str, report.seeds or [report.seed]))}; simulated in {report.seconds:.1f} s"
                  f"{' (read from cache)' if report.cached else ''}; cache key {report.key}.")


def check_command(exercise_id: str, *, windows: int, seed: int, console, write_shipped: bool = False) -> None:
    """`shiftwork scenarios check`: print the calibration table; CalibrationFailed if unfair.

    `write_shipped` (--ship) also writes the report where the checkout ships it (`make calibration`)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    exercise = load_exercise(exercise_id)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("preparing reference and model", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=f"simulating {label}")

        if write_shipped:
            report, path = ship(exercise, windows=windows, seed=seed, progress=progress)
        else:
            report = cached_report(exercise, windows=windows, seed=seed, progress=progress)
    render(report, console)
    if write_shipped:
        console.print(f"shipped {exercise.id}'s calibration (key {report.key}) at {path}", highlight=False,
                      markup=False)
    failures = report.failures()
    if failures:
        raise CalibrationFailed(f"{len(failures)} phase expectation(s) fail calibration: " + "; ".join(failures))
