"""Calibration: is each scenario fair at the window size it uses?

Every traffic phase of every scenario (held back and public) is simulated: `windows`
clean windows of `scenario.window` records are drawn from the data engine and run
through the calibrated reference detector (grader.detector) against the training
distribution, and through the grader's plain baseline model for the recipe's kind
(harness.baseline, chosen by the data-kind plug-in: TF-IDF for text, one-hot +
standardised numerics for tables) for the performance expectation. A phase's expectation is confirmed when the reference does
what it asks ("must detect": rate >= 0.95, "must stay silent": rate <= 0.05); otherwise
the phase FAILS and `shiftwork scenarios check` exits non-zero. The grader scores only
confirmed expectations (`scored_phases`), from a cached report.

Evidently (explicit definition, ks / chisquare, Bonferroni threshold) runs on a few
windows per phase as a second opinion; it is reported, never used as truth.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from scipy import stats

from grader.checks.base import Scored
from grader.detector import ReferenceDetector
from grader.truth import PhaseExpect
from grader.errors import CalibrationFailed, ConfigError, UsageError
from grader.exercise import Exercise, load_exercise, repo_root
from grader.scenario import Phase, Scenario

log = logging.getLogger(__name__)

ALPHA = 0.01
MUST_DETECT = 0.95
MUST_BE_SILENT = 0.05
EVIDENTLY_WINDOWS = 5
REFERENCE_ROWS = 5000
HOLDOUT_ROWS = 10000
# A window "underperforms" when the z-test says so AND accuracy fell by at least this much:
# the same effect-size gate idea as the detector, so tiny biases do not become alarms.
PERFORMANCE_GATE = 0.03
# The same gate for a numeric target: the window's mean absolute error rose by at least this share.
ERROR_GATE = 0.15
# Bump when the simulation changes meaning, so cached reports are not reused.
# 2: the performance model is the grader's plain baseline of the recipe's kind.
CALIBRATION_VERSION = 4  # 3: per-group (slice) performance; 4: numeric targets (error tests)

Aspect = Literal["drift", "quality", "performance"]
ASPECTS: tuple[Aspect, ...] = ("drift", "quality", "performance")
Verdict = Literal["must detect", "must stay silent", "FAIL", "reported"]


class PhaseCalibration(BaseModel):
    scenario: str
    phase: str
    window: int
    windows: int
    drift_rate: float
    quality_rate: float
    performance_rate: float | None = Field(description="None when windows carry no labels")
    evidently_rate: float | None = Field(description="Second opinion; None = n/a (evidently raised)")
    evidently_note: str = ""
    field_rates: dict[str, float] = Field(default_factory=dict, description="Per-field rate (drift or quality)")
    window_accuracy: float | None = Field(default=None, description="Accuracy, or MAE for a numeric target")
    expect: PhaseExpect
    verdicts: dict[Aspect, Verdict]
    # per group "field=value" of the exercise's slice fields: share of windows where that group underperformed
    slice_rates: dict[str, float] = Field(default_factory=dict)
    slice_verdicts: dict[str, Verdict] = Field(default_factory=dict)

    def rate(self, aspect: Aspect) -> float | None:
        return {"drift": self.drift_rate, "quality": self.quality_rate, "performance": self.performance_rate}[aspect]

    def failures(self) -> list[str]:
        out = []
        for a in ASPECTS:
            if self.verdicts[a] == "FAIL":
                want = getattr(self.expect, a)
                rate = self.rate(a)
                shown = "n/a" if rate is None else f"{rate:.2f}"
                out.append(f"{self.scenario}/{self.phase}: {a} expected {want}, reference rate {shown}")
        if self.expect.slices == "detect" and self.slice_rates and "must detect" not in self.slice_verdicts.values():
            out.append(f"{self.scenario}/{self.phase}: slices expected detect, no group's rate reaches {MUST_DETECT}: "
                       + ", ".join(f"{g} {r:.2f}" for g, r in self.slice_rates.items()))
        if self.expect.slices != "unscored" and not self.slice_rates:
            out.append(f"{self.scenario}/{self.phase}: slices expected {self.expect.slices}, but the exercise names no "
                       "slice field or the windows carry no labels")
        out += [f"{self.scenario}/{self.phase}: slice {g} expected silent, reference rate {self.slice_rates[g]:.2f}"
                for g, v in self.slice_verdicts.items() if v == "FAIL"]
        return out


class CalibrationReport(BaseModel):
    exercise: str
    key: str
    windows: int
    seed: int
    reference: str
    stable_accuracy: float = Field(description="The plain baseline's stable accuracy, or its MAE for a numeric target")
    metric: str = Field(default="accuracy", description="What stable_accuracy and window_accuracy hold")
    seconds: float
    phases: list[PhaseCalibration]
    cached: bool = Field(default=False, exclude=True)

    def failures(self) -> list[str]:
        return [f for p in self.phases for f in p.failures()]


def verdict(expect: str, rate: float | None) -> Verdict:
    if expect == "detect":
        return "must detect" if rate is not None and rate >= MUST_DETECT else "FAIL"
    if expect == "silent":
        return "must stay silent" if rate is not None and rate <= MUST_BE_SILENT else "FAIL"
    return "reported"


def slice_verdicts(expect: str, rates: dict[str, float]) -> dict[str, Verdict]:
    """A 'detect' phase scores the groups the reference finds reliably (must detect) or never
    (must stay silent); a 'silent' phase needs every group silent."""
    out: dict[str, Verdict] = {}
    for group, rate in rates.items():
        if expect == "detect":
            out[group] = ("must detect" if rate >= MUST_DETECT else "must stay silent" if rate <= MUST_BE_SILENT
                          else "reported")
        elif expect == "silent":
            out[group] = "must stay silent" if rate <= MUST_BE_SILENT else "FAIL"
        else:
            out[group] = "reported"
    return out


def group_key(field: str, value: object) -> str:
    return f"{field}={str(value).strip().lower()}"


def _window_seed(seed: int, scenario: str, phase: str, i: int) -> int:
    digest = hashlib.sha256(f"calibration|{seed}|{scenario}|{phase}|{i}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _underperforms(correct: int, n: int, stable_correct: int, stable_n: int) -> bool:
    """One-sided two-proportion z-test (alpha 0.01) plus an effect gate: did accuracy fall?"""
    if n == 0 or stable_correct / stable_n - correct / n < PERFORMANCE_GATE:
        return False
    pooled = (correct + stable_correct) / (n + stable_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / stable_n))
    if se == 0:
        return False
    z = (stable_correct / stable_n - correct / n) / se
    return float(stats.norm.sf(z)) < ALPHA


def _errors_rose(errors: np.ndarray, stable: np.ndarray) -> bool:
    """Numeric target: one-sided Welch test (alpha 0.01) that absolute errors grew, plus an effect gate."""
    if len(errors) < 2 or errors.mean() < stable.mean() * (1 + ERROR_GATE):
        return False
    t = stats.ttest_ind(errors, stable, equal_var=False, alternative="greater")
    return float(t.pvalue) < ALPHA


class _Simulator:
    """Everything drawn once per calibration: reference, detector, plain model."""

    def __init__(self, exercise: Exercise, seed: int) -> None:
        from harness.baseline import Baselines
        from harness.data import engine
        from harness.data.kinds import kind_for

        self.engine = engine
        self.recipe = engine.load_recipe(exercise.dataset, root=exercise.root.parent.parent)
        if self.recipe.target != exercise.target:
            raise ConfigError(f"{exercise.id}: exercise.toml says target = {exercise.target!r} but dataset "
                              f"{exercise.dataset} is {self.recipe.target!r}")
        self.kind = kind_for(self.recipe)
        self.label = self.recipe.label
        # What is monitored, and how, is the kind's: identity and time never (timestamps always
        # move forward), texts for presence only, a date of birth as an age.
        probe = self.kind.monitored(self.recipe, engine.reference_clean(self.recipe, seed, n=10))
        self.numeric, self.categorical, self.text = probe.numeric, probe.categorical, probe.missing_only
        # The whole training period, as a candidate's service would use its training data.
        # Stable phases run at the end of training (a mild categorical trend), but at this
        # window size the difference is invisible: measured false-alarm rate over 480
        # stable windows was 0.4 % against the whole period, 1.0 % against its last quarter.
        self.reference = self._monitored(engine.reference_clean(self.recipe, seed, n=REFERENCE_ROWS))
        self.detector = ReferenceDetector(self.reference, self.numeric, self.categorical, ALPHA, missing_only=self.text)
        # The grader's own plain baseline (one per kind), fitted on the messy training data as graded.
        self.model = Baselines.fit(engine.generate_training(self.recipe, seed).frame, self.label,
                                   self.kind.baseline_spec(self.recipe))
        # Stable accuracy from a large, separate draw: a biased estimate here turns straight
        # into performance false alarms on stable phases.
        # Out of sample, from the population scenario windows come from: a table's training
        # rows would flatter the model (in-sample accuracy) and turn into false alarms.
        holdout = engine.reference_clean(self.recipe, seed + 1, n=HOLDOUT_ROWS, pool="heldout")
        self.stable_n = len(holdout)
        self.regression = self.recipe.target == "regression"
        if self.regression:
            self.stable_errors = self._errors(holdout)
        correct = self._correct(holdout) if not self.regression else np.zeros(len(holdout), dtype=bool)
        self.stable_correct = int(correct.sum())
        # per group of each slice field: its own stable accuracy (groups differ at baseline)
        self.slices = list(exercise.slices) if not self.regression else []
        self.group_stable: dict[str, tuple[int, int]] = {}
        for f in self.slices:
            values = holdout[f].astype(str).str.strip().str.lower()
            for v in sorted(values.unique()):
                mask = (values == v).to_numpy()
                self.group_stable[group_key(f, v)] = (int(correct[mask].sum()), int(mask.sum()))
        self.reference_note = (f"reference: reference_clean(seed={seed}) {REFERENCE_ROWS} rows (whole training period); "
                               f"stable accuracy on {HOLDOUT_ROWS} more")

    def _monitored(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.kind.monitored(self.recipe, frame).frame

    def _errors(self, frame: pd.DataFrame) -> np.ndarray:
        records = frame.drop(columns=[self.label]).to_dict("records")
        return np.abs(np.array(self.model.predict(records), dtype=float) - frame[self.label].to_numpy(dtype=float))

    def stable_figure(self) -> float:
        """Stable accuracy, or for a numeric target the stable mean absolute error."""
        return float(self.stable_errors.mean()) if self.regression else self.stable_correct / self.stable_n

    def _correct(self, frame: pd.DataFrame) -> np.ndarray:
        # typed clean records, as the plain model would read them off the wire
        records = frame.drop(columns=[self.label]).to_dict("records")
        return np.array(self.model.predict(records)) == frame[self.label].astype(str).to_numpy()

    def phase(self, scenario: Scenario, phase: Phase, windows: int, seed: int, tick: Callable[[], None]) -> PhaseCalibration:
        drift = quality = perf = 0
        labelled = True
        fields: Counter[str] = Counter()
        groups: Counter[str] = Counter()
        acc: list[float] = []
        ev_frames: list[pd.DataFrame] = []
        for i in range(windows):
            wseed = _window_seed(seed, scenario.name, phase.name, i)
            w = self.engine.sample_clean(self.recipe, scenario, phase.name, scenario.window, wseed)
            mon = self._monitored(w)
            v = self.detector.check(mon)
            drift += v.drift
            quality += v.quality
            fields.update(set(v.drift_fields) | set(v.quality_fields))
            if self.regression and self.label in w.columns and w[self.label].notna().all():
                e = self._errors(w)
                acc.append(float(e.mean()))  # the window's mean absolute error
                perf += _errors_rose(e, self.stable_errors)
            elif self.label in w.columns and w[self.label].notna().all():
                c = self._correct(w)
                acc.append(float(c.mean()))
                perf += _underperforms(int(c.sum()), len(c), self.stable_correct, self.stable_n)
                for f in self.slices:
                    values = w[f].astype(str).str.strip().str.lower().to_numpy()
                    for g, (sc, sn) in self.group_stable.items():
                        if not g.startswith(f + "="):
                            continue
                        mask = values == g.split("=", 1)[1]
                        groups[g] += _underperforms(int(c[mask].sum()), int(mask.sum()), sc, sn)
            else:
                labelled = False
            if i < EVIDENTLY_WINDOWS:
                ev_frames.append(mon)
            tick()
        ev_rate, ev_note = evidently_rate(self.reference, ev_frames, self.numeric, self.categorical, ALPHA)
        rates = {"drift": drift / windows, "quality": quality / windows, "performance": perf / windows if labelled else None}
        return PhaseCalibration(
            scenario=scenario.name, phase=phase.name, window=scenario.window, windows=windows,
            drift_rate=rates["drift"], quality_rate=rates["quality"], performance_rate=rates["performance"],
            evidently_rate=ev_rate, evidently_note=ev_note,
            field_rates={f: n / windows for f, n in sorted(fields.items())},
            window_accuracy=float(np.mean(acc)) if acc else None,
            expect=phase.expect,
            verdicts={a: verdict(getattr(phase.expect, a), rates[a]) for a in ASPECTS},
            slice_rates=(slice_rates := {g: groups[g] / windows for g in self.group_stable} if labelled else {}),
            slice_verdicts=slice_verdicts(phase.expect.slices, slice_rates),
        )


def evidently_rate(reference: pd.DataFrame, frames: list[pd.DataFrame], numeric: list[str],
                   categorical: list[str], alpha: float) -> tuple[float | None, str]:
    """Share of windows where evidently (ks / chisquare, Bonferroni) calls any column drifted."""
    if not frames:
        return None, "no windows"
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount

    cols = numeric + categorical
    dd = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    ref_ds = Dataset.from_pandas(reference[cols], data_definition=dd)
    # Keep only monitored columns that are present: a renamed one is then simply absent,
    # which is exactly the break evidently cannot handle (it raises -> "n/a").
    frames = [f[[c for c in f.columns if c in cols]] for f in frames]
    metric = DriftedColumnsCount(columns=cols, num_method="ks", cat_method="chisquare", threshold=alpha / len(cols))
    hits = 0
    for frame in frames:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")  # its chisquare divides by zero on unseen categories
                cur_ds = Dataset.from_pandas(frame, data_definition=dd)
                value = Report([metric]).run(cur_ds, ref_ds).dict()["metrics"][0]["value"]
        except Exception as exc:  # evidently raises on renamed / all-NaN / mistyped columns
            return None, f"{type(exc).__name__}: {str(exc)[:80]}"
        hits += float(value["count"]) >= 1
    return hits / len(frames), ""


def _traffic(exercise: Exercise) -> list[Scenario]:
    return [*exercise.held_back_scenarios(), exercise.public()]


def calibrate(exercise: Exercise, *, windows: int = 40, seed: int = 7,
              progress: Callable[[int, int, str], None] | None = None) -> CalibrationReport:
    """Simulate every traffic phase; `progress(done, total, label)` is called per window."""
    if windows < 1:
        raise UsageError("calibration needs at least 1 window per phase")
    started = time.perf_counter()
    scenarios = _traffic(exercise)
    sim = _Simulator(exercise, seed)
    phases = [(s, p) for s in scenarios for p in s.phases if p.kind == "traffic"]
    total, done = len(phases) * windows, 0
    results = []
    for s, p in phases:
        def tick(label: str = f"{s.name}/{p.name}") -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total, label)

        results.append(sim.phase(s, p, windows, seed, tick))
    return CalibrationReport(
        exercise=exercise.id, key=cache_key(exercise, windows=windows, seed=seed), windows=windows, seed=seed,
        reference=sim.reference_note, stable_accuracy=sim.stable_figure(),
        metric="mae" if sim.regression else "accuracy",
        seconds=round(time.perf_counter() - started, 2), phases=results,
    )


def cache_key(exercise: Exercise, *, windows: int, seed: int) -> str:
    """Hash of everything the simulation depends on: recipe, scenarios, code, windows, seed."""
    repo = exercise.root.parent.parent
    h = hashlib.sha256(f"v{CALIBRATION_VERSION}|{windows}|{seed}".encode())
    files = [exercise.root / "exercise.toml", exercise.root / exercise.public_scenario]
    files += [exercise.root / "scenarios" / n for n in exercise.scenarios]
    dataset = repo / "datasets" / exercise.dataset
    files += sorted(p for p in dataset.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    code = Path(__file__).resolve().parent.parent
    files += [code / "grader" / "detector.py", code / "harness" / "baseline.py", Path(__file__).resolve()]
    files += sorted((code / "harness" / "data").glob("*.py"))
    for f in files:
        h.update(str(f.name).encode())
        h.update(f.read_bytes() if f.is_file() else b"<missing>")
    return h.hexdigest()[:24]


def cached_report(exercise: Exercise, *, windows: int = 40, seed: int = 7, cache_dir: Path | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> CalibrationReport:
    folder = cache_dir or repo_root() / ".cache" / "calibration"
    stem = f"{exercise.id}-w{windows}-s{seed}"
    path = folder / f"{stem}-{cache_key(exercise, windows=windows, seed=seed)}.json"
    if path.is_file():
        try:
            report = CalibrationReport.model_validate_json(path.read_text())
            report.cached = True
            return report
        except ValueError:
            log.warning("ignoring unreadable calibration cache %s", path)
    report = calibrate(exercise, windows=windows, seed=seed, progress=progress)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # graders may calibrate side by side
        tmp.write_text(report.model_dump_json(indent=1))
        tmp.replace(path)
        for stale in folder.glob(f"{stem}-*.json"):
            # Same settings, older inputs or code: never read again, so do not let them pile up.
            if stale != path and stale.stat().st_mtime < path.stat().st_mtime - 1:
                stale.unlink(missing_ok=True)
    except OSError as exc:  # a read-only checkout still grades; it just recalibrates next time
        log.warning("cannot cache calibration at %s: %s", path, exc)
    return report


def scored_phases(exercise: Exercise, *, windows: int = 40, seed: int = 7, cache_dir: Path | None = None) -> Scored:
    """Phases whose expectation the reference confirmed; only these may be scored."""
    report = cached_report(exercise, windows=windows, seed=seed, cache_dir=cache_dir)
    scored = Scored()
    for p in report.phases:
        for a in ASPECTS:
            v = p.verdicts[a]
            if v in ("must detect", "must stay silent"):
                getattr(scored, a)[(p.scenario, p.phase)] = "detect" if v == "must detect" else "silent"
        if p.failures():
            continue  # a phase that fails calibration scores no slice either
        for g, v in p.slice_verdicts.items():
            if v in ("must detect", "must stay silent"):
                field, value = g.split("=", 1)
                scored.slices[(p.scenario, p.phase, field, value)] = "detect" if v == "must detect" else "silent"
    return scored


def _cell(rate: float | None, expect: str, v: Verdict) -> str:
    shown = "n/a" if rate is None else f"{rate:.2f}"
    if v == "reported":
        return f"[dim]{shown}[/]"
    mark = "[red]FAIL[/]" if v == "FAIL" else "[green]ok[/]"
    return f"{shown} {expect} {mark}"


def render(report: CalibrationReport, console) -> None:
    """One table per scenario: per aspect the reference's rate, the expectation and whether it holds."""
    from rich.table import Table

    for scenario in dict.fromkeys(p.scenario for p in report.phases):
        table = Table(title=scenario, title_justify="left", title_style="bold")
        for col, kw in (("phase", {"no_wrap": True}), ("window", {"justify": "right"}), ("drift", {}),
                        ("quality", {}), ("performance", {}), ("evidently", {}),
                        ("accuracy" if report.metric == "accuracy" else report.metric.upper(), {"justify": "right"}),
                        ("fields (rate)", {})):
            table.add_column(col, **kw)
        for p in (p for p in report.phases if p.scenario == scenario):
            cells = [_cell(p.rate(a), getattr(p.expect, a), p.verdicts[a]) for a in ASPECTS]
            ev = f"{p.evidently_rate:.2f}" if p.evidently_rate is not None else "n/a"
            acc = "n/a" if p.window_accuracy is None else f"{p.window_accuracy:.3f}"
            fields = ", ".join(f"{f} {r:.2f}" for f, r in p.field_rates.items() if r >= 0.1)
            fields += "".join(f"; {g} {r:.2f} ({'[green]' + v + '[/]' if v != 'FAIL' else '[red]FAIL[/]'})"
                              for g, r in p.slice_rates.items() if p.expect.slices != "unscored"
                              for v in [p.slice_verdicts.get(g, "reported")])
            table.add_row(p.phase, str(p.window), *cells, ev, acc, fields)
        console.print(table)
    notes = sorted({p.evidently_note for p in report.phases if p.evidently_note})
    console.print(
        f"Rates = share of {report.windows} simulated windows the reference detector flagged; "
        f"'detect' needs >= {MUST_DETECT}, 'silent' <= {MUST_BE_SILENT}; dim = not scored. "
        f"Evidently (ks/chisquare, Bonferroni) on {EVIDENTLY_WINDOWS} windows per phase, second opinion only"
        + (f"; n/a: {'; '.join(notes)}" if notes else "") + ".")
    figure = "Stable accuracy" if report.metric == "accuracy" else "Stable mean absolute error"
    console.print(f"{figure} {report.stable_accuracy:.3f} (the grader's plain baseline); {report.reference}; "
                  f"seed {report.seed}; simulated in {report.seconds:.1f} s"
                  f"{' (read from cache)' if report.cached else ''}; cache key {report.key}.")


def check_command(exercise_id: str, *, windows: int, seed: int, console) -> None:
    """`shiftwork scenarios check`: print the calibration table; CalibrationFailed if unfair."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    exercise = load_exercise(exercise_id)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("preparing reference and model", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=f"simulating {label}")

        report = cached_report(exercise, windows=windows, seed=seed, progress=progress)
    render(report, console)
    failures = report.failures()
    if failures:
        raise CalibrationFailed(f"{len(failures)} phase expectation(s) fail calibration: " + "; ".join(failures))
