"""`shiftwork check` (`make check` in a bundle): the public self-check.

Works from the bundle alone: `.exercise.json`, the pre-generated public traffic with its
truth (selfcheck/traffic.json) and an allowlisted subset of exercise.toml plus the public
phases' calibrated expectations (selfcheck/exercise.json), both written by
`shiftwork package`. It never needs exercises/, datasets/ or anything held back. The
service runs in the chosen runtime, the public traffic is replayed by the grader's replay
engine and scored by the grader's checks, and every check is printed.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from grader.checks import provided, resolve, unmet
from grader.checks.base import FieldTruth, Scored
from grader.errors import ShiftworkError, UsageError
from grader.exercise import DIMENSIONS, Budgets, CheckSpec, Exercise, Limits
from grader.grade import GradePlan
from grader.scenario import Scenario
from grader.transcript import Transcript
from grader.truth import ScenarioTraffic
from harness.baseline import Baselines, BaselineSpec
from harness.calibration_store import scored_phases
from harness.data.kinds import kind_for
from harness.grading import grade_prepared
from harness.runtime.select import choose_runtime

log = logging.getLogger(__name__)

SETTINGS_PATH = "selfcheck/exercise.json"
TRAFFIC_PATH = "selfcheck/traffic.json"
SETTINGS_VERSION = 3  # 2: the plain baseline's spec travels with the bundle; 3: per-group (slice) expectations and drift fields too
REPORT_DIR = "selfcheck"  # report.md/.html/.json and transcript.json land here, beside the settings
GRADED_RUN_NOTE = (
    "The graded run uses different, larger, shifted traffic: held-back scenarios this self-check "
    "does not contain. Passing here means your service speaks the contract and reacts sensibly; "
    "it does not predict your score."
)
# Never copied into the runtime's view of the bundle (the docker context ignores them too).
STAGE_IGNORE = (".git", ".venv", "venv", "reports", "__pycache__", ".pytest_cache", "tools", "selfcheck",
                "submission.tar.gz", "*.pyc")

Expect = Literal["detect", "silent"]
REASON_INDENT = 4  # columns before a check's reason in `shiftwork check`'s output


class PhaseExpectation(BaseModel):
    """Calibrated expectations of one public phase (None: not scored)."""

    model_config = ConfigDict(extra="forbid")
    phase: str
    drift: Expect | None = None
    quality: Expect | None = None
    performance: Expect | None = None
    # per group of the exercise's slice fields ("sex=female"): detect | silent, as calibration confirmed it
    slices: dict[str, Expect] = Field(default_factory=dict)
    # a drift onset's fields as calibration measured them (grader.checks.base.FieldTruth): the moved ones
    # must be named, the unclear ones may be; rates = share of windows the reference flagged each field
    moved: list[str] = Field(default_factory=list)
    unclear: list[str] = Field(default_factory=list)
    field_rates: dict[str, float] = Field(default_factory=dict)


def _scored_from(scenario: str, expectations: list[PhaseExpectation]) -> Any:
    """grader.checks.base.Scored of the public scenario from its calibrated expectations."""
    scored = Scored()
    for e in expectations:
        for aspect in ("drift", "quality", "performance"):
            value = getattr(e, aspect)
            if value is not None:
                getattr(scored, aspect)[(scenario, e.phase)] = value
        for group, value in e.slices.items():
            field, _, level = group.partition("=")
            scored.slices[(scenario, e.phase, field, level)] = value
        if e.drift == "detect" and (e.moved or e.unclear):
            scored.attribution[(scenario, e.phase)] = FieldTruth(
                moved=frozenset(e.moved), unclear=frozenset(e.unclear),
                rates=tuple(sorted(e.field_rates.items(), key=lambda x: -x[1])))
    return scored


class BundleSettings(BaseModel):
    """selfcheck/exercise.json: what the self-check needs and nothing held back.

    An allowlisted subset of exercise.toml (no held-back scenario names: they would say
    which shifts are coming), the public scenario definition and its calibrated expectations.
    """

    model_config = ConfigDict(extra="forbid")
    settings_version: int = SETTINGS_VERSION
    exercise: str
    version: str
    title: str
    label: str
    classes: list[str]
    target: str = Field(default="classification", description="classification, or regression for a numeric label")
    metric: str = Field(default="", description="The accuracy checks' metric (empty: the target's default)")
    weights: dict[str, float]
    budgets: Budgets
    limits: Limits
    checks: list[CheckSpec] = Field(description="The checks that make sense on the public scenario")
    scenario: Scenario
    expectations: list[PhaseExpectation]
    baseline: BaselineSpec = Field(description="What the plain baseline reads: the data kind's spec")
    fields: list[str] = Field(default_factory=list, description="The documented raw input fields")

    def exercise_model(self, root: Path) -> Exercise:
        # Exercise needs a held-back list; the public scenario stands in (never loaded from here).
        return Exercise(
            id=self.exercise, version=self.version, title=self.title, dataset=self.exercise, label=self.label,
            weights=self.weights, budgets=self.budgets, limits=self.limits, scenarios=["(held back)"],
            public_scenario=SETTINGS_PATH, checks=self.checks, root=root, target=self.target, metric=self.metric,
        )

    def scored(self) -> Any:
        return _scored_from(self.scenario.name, self.expectations)


# -- package time (called by harness.bundle) ------------------------------------------------

def public_expectations(ex: Exercise, scenario: Scenario) -> list[PhaseExpectation]:
    """The public phases' calibrated expectations, read from the exercise's calibration (which
    simulates the public scenario with the held-back ones: one cached report, one run)."""
    scored = scored_phases(ex)
    out = []
    for phase in scenario.phases:
        if phase.kind != "traffic":
            continue
        key = (scenario.name, phase.name)
        groups = {f"{f}={v}": e for (s, p, f, v), e in scored.slices.items() if (s, p) == key}
        moved = scored.attribution.get(key)
        out.append(PhaseExpectation(phase=phase.name, drift=scored.drift.get(key),
                                    quality=scored.quality.get(key), performance=scored.performance.get(key),
                                    slices=groups, moved=sorted(moved.moved) if moved else [],
                                    unclear=sorted(moved.unclear) if moved else [],
                                    field_rates=dict(moved.rates) if moved else {}))
    return out


def public_checks(ex: Exercise, scenario: Scenario, traffic: ScenarioTraffic,
                  expectations: list[PhaseExpectation]) -> list[CheckSpec]:
    """The exercise's checks the public scenario can measure: each check declares what it needs."""
    scored = _scored_from(scenario.name, expectations)
    missing = unmet([c.id for c in ex.checks], provided(scored, {traffic.scenario: traffic}, [scenario]))
    return [c for c in ex.checks if c.id not in missing]


def settings_for(ex: Exercise, scenario: Scenario, traffic: ScenarioTraffic, recipe: Any, *,
                 console: Any = None) -> BundleSettings:
    if console is not None:
        console.print("calibrating the public scenario (cached after the first run)", highlight=False)
    expectations = public_expectations(ex, scenario)
    return BundleSettings(
        exercise=ex.id, version=ex.version, title=ex.title, label=ex.label, classes=list(recipe.classes),
        target=ex.target, metric=ex.metric,
        weights=dict(ex.weights), budgets=ex.budgets, limits=ex.limits,
        checks=public_checks(ex, scenario, traffic, expectations), scenario=scenario, expectations=expectations,
        baseline=kind_for(recipe).baseline_spec(recipe),
        fields=[f.name for f in recipe.fields if f.kind != "id" and f.name != recipe.label],
    )


# -- check time ---------------------------------------------------------------------------

class Bundle(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    root: Path
    meta: dict[str, str]
    settings: BundleSettings
    traffic: ScenarioTraffic


def load_bundle(path: Path) -> Bundle:
    root = Path(path)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder (run `shiftwork check` inside your exercise repository)")
    meta_path = root / ".exercise.json"
    if not meta_path.is_file():
        raise UsageError(f"{root} has no .exercise.json: is this the exercise repository you were sent?")
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict) or not isinstance(meta.get("exercise"), str):
            raise ValueError("no exercise id")
    except ValueError as exc:
        raise UsageError(f"{meta_path} is not readable: {exc}") from exc
    missing = [p for p in (SETTINGS_PATH, TRAFFIC_PATH) if not (root / p).is_file()]
    if missing:
        raise UsageError(f"{root} lacks {', '.join(missing)}: restore them from the exercise you were sent")
    try:
        settings = BundleSettings.model_validate_json((root / SETTINGS_PATH).read_text())
        traffic = ScenarioTraffic.model_validate_json((root / TRAFFIC_PATH).read_text())
    except ValidationError as exc:
        raise UsageError(f"the self-check files in {root}/selfcheck are damaged: {exc.errors()[0]['msg']}") from exc
    if settings.exercise != meta["exercise"]:
        raise UsageError(f"{SETTINGS_PATH} is for {settings.exercise}, .exercise.json says {meta['exercise']}")
    return Bundle(root=root, meta={k: str(v) for k, v in meta.items()}, settings=settings, traffic=traffic)


def check_command(path: Path, *, runtime: str, console: Any) -> int:
    """Run the public self-check; 0 when it could run (whatever the results), else non-zero."""
    try:
        bundle = load_bundle(path)
        results = run_selfcheck(bundle, runtime=runtime, console=console)
    except ShiftworkError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return exc.exit_code
    print_results(bundle, results, console)
    return 0


def _stage(root: Path, into: Path) -> Path:
    """A copy of the service folder without venvs, git data and the self-check's own files."""
    dest = into / "service"
    shutil.copytree(root, dest, symlinks=True, ignore=shutil.ignore_patterns(*STAGE_IGNORE))
    return dest


def run_selfcheck(bundle: Bundle, *, runtime: str, console: Any) -> "SelfCheckOutcome":
    settings = bundle.settings
    exercise = settings.exercise_model(bundle.root)
    rt = choose_runtime(runtime, exercise, console, run_label="selfcheck")
    with tempfile.TemporaryDirectory(prefix="shiftwork-check-") as tmp:
        service = _stage(bundle.root, Path(tmp))
        console.print(f"self-check: {settings.title} ({settings.exercise} {settings.version}), "
                      f"runtime {rt.name}, public scenario {settings.scenario.name!r} "
                      f"({sum(len(p.records) for p in bundle.traffic.phases)} records)", highlight=False)
        return replay_and_score(bundle, exercise, rt, service, console)


class SelfCheckOutcome(BaseModel):
    status: str
    reasons: list[str] = Field(default_factory=list)
    results: list[Any] = Field(default_factory=list)  # grader.report.model.CheckEntry
    log_tail: str = ""
    reports: list[Path] = Field(default_factory=list)  # selfcheck/report.md, report.html, report.json
    score: float | None = None  # the total out of 100, as report.json has it
    dimensions: dict[str, float] = Field(default_factory=dict)  # dimension -> score out of 100


def replay_and_score(bundle: Bundle, exercise: Exercise, rt: Any, service: Path, console: Any) -> SelfCheckOutcome:
    """Build/start the service and grade it on the public scenario, exactly as `shiftwork grade` does
    (the grader's own run_service and report), then keep the reports in selfcheck/."""
    settings, traffic = bundle.settings, bundle.traffic
    plan = GradePlan(exercise=exercise, seed=traffic.seed, scenarios=[settings.scenario],
                     traffic={traffic.scenario: traffic}, scored=settings.scored(), classes=list(settings.classes),
                     checks=resolve([c.id for c in exercise.checks]), baseline_predictions=_baselines(bundle),
                     baseline_name=settings.baseline.describe, fields=list(settings.fields))
    console.print("preparing your service (build, or install and run its python build steps)", highlight=False)
    transcript = Transcript(exercise=settings.exercise, submission=bundle.root.name, runtime=rt.name,
                            candidate=bundle.meta.get("candidate"), seed=traffic.seed)
    # the grader's own summary line would show a total (a quiet console): the self-check prints its table
    report, out = grade_prepared(service, plan, rt, bundle.root / REPORT_DIR, budgets=settings.budgets,
                                 console=Console(quiet=True), note_unisolated=False, transcript=transcript)
    if transcript.startup_s is not None:
        console.print(f"your service answered /health after {transcript.startup_s:.1f} s", highlight=False)
    return SelfCheckOutcome(status=report.status, reasons=list(report.reasons), results=list(report.checks),
                            log_tail=transcript.log_tail,
                            reports=[out / "report.md", out / "report.html", out / "report.json"],
                            score=report.score, dimensions={d: v.score for d, v in report.dimensions.items()})


def _baselines(bundle: Bundle) -> dict[str, dict[str, str]]:
    """The grader's naive baselines, fitted on this bundle's data/train.csv (a few seconds)."""
    train = bundle.root / "data" / "train.csv"
    if not train.is_file():
        log.warning("no data/train.csv: the accuracy checks will report their baselines as unavailable")
        return {}
    import pandas as pd

    try:
        frame = pd.read_csv(train, dtype=str)
        return Baselines.fit(frame, bundle.settings.label, bundle.settings.baseline).predictions(bundle.traffic)
    except (ValueError, KeyError) as exc:
        log.warning("cannot fit the baselines on %s: %s", train, exc)
        return {}


def print_results(bundle: Bundle, outcome: SelfCheckOutcome, console: Any) -> None:
    if outcome.status != "graded":
        console.print(f"[bold red]{outcome.status.replace('_', ' ')}[/]: " + escape("; ".join(outcome.reasons)),
                      highlight=False, markup=True)
        if outcome.log_tail:
            console.rule("the last lines your service printed")
            console.print(outcome.log_tail[-2000:], highlight=False, markup=False)
            console.rule()
    # Every reason whole (the number that explains a score is often at its end), on the lines under
    # its check so that it wraps at the terminal's width: a column beside the checks would get only a
    # third of 80 columns, and a reason of a few hundred characters would run to a dozen lines.
    console.print("public self-check", style="bold", highlight=False)
    id_width = max([len("check"), *(len(r.id) for r in outcome.results)])
    console.print(f"{'check':<{id_width}}  {'dim':<4}  {'score':>5}  result", highlight=False, markup=False)
    passed = measured = 0
    for r in outcome.results:
        if r.not_measured:
            verdict, colour = "n/a", "dim"
        else:
            measured += 1
            passed += bool(r.passed)
            verdict, colour = ("pass", "green") if r.passed else ("fail", "red")
        # Text, not markup: reasons quote the candidate's own answers
        console.print(Text.assemble(f"{r.id:<{id_width}}  {r.dimension[:4]:<4}  {r.score:>5.2f}  ", (verdict, colour)),
                      highlight=False)
        why = " ".join((r.not_measured or r.evidence or "").split())
        for line in Text(why).wrap(console, max(20, console.width - REASON_INDENT)):
            line.rstrip()  # no padding to the width: piped into a file, it would be trailing blanks
            console.print(Text(" " * REASON_INDENT) + line, highlight=False, soft_wrap=True)
    if outcome.score is not None:
        dims = "  ".join(f"{d} {outcome.dimensions[d]:.0f}" for d in DIMENSIONS if d in outcome.dimensions)
        console.print(Text.assemble("total ", (f"{outcome.score:.1f}", "bold"), "/100 on the public scenario",
                                    f"  ({dims})" if dims else ""), highlight=False)
    console.print(f"{passed} of {measured} measured checks passed.", highlight=False)
    if outcome.reports:
        console.print("every check's evidence and the failing requests: "
                      + ", ".join(str(p) for p in outcome.reports[:2]), highlight=False, markup=False)
    console.print(GRADED_RUN_NOTE, highlight=False)
