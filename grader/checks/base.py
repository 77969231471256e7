"""Check plugin base, the registry, and what every check gets to look at."""
from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from grader.truth import PhaseTruth, RecordTruth, ScenarioTraffic
from grader.exercise import Dimension, Exercise
from grader.scenario import Scenario
from grader.transcript import Transcript


class CheckResult(BaseModel):
    id: str
    dimension: Dimension
    score: float = Field(ge=0.0, le=1.0)
    passed: bool
    evidence: str  # what was sent, what came back, what was expected — for a person
    weight: float = 1.0
    not_measured: str | None = None  # set when the check could not be measured (scores 0)
    failures: list[str] = Field(default_factory=list)  # concrete failing requests, capped
    debrief: list[str] = Field(default_factory=list)  # questions for the interviewer when it failed
    title: str = ""  # human name of the check (from the class)
    metrics: dict[str, float | None] = Field(default_factory=dict)  # raw figures for machines and plots
    # "measure": a habit, averaged into its dimension by weight; "gate": a contract duty
    # (no 5xx, 4xx on malformed bodies) that multiplies the dimension and earns nothing alone
    role: Literal["measure", "gate"] = "measure"
    gate_floor: float | None = None  # for a gate: the factor it applies when it scores 0


@dataclass(frozen=True)
class FieldTruth:
    """Which fields a drift onset really moves, as the calibrated reference detector measured them.

    A shift moves more than the field it was injected into (more high-school applicants also
    means lower credit limits), so naming a field the reference finds moved in >= 95 % of
    windows is right, naming one it finds in <= 5 % is wrong, and anything between is neither.
    """

    moved: frozenset[str]  # must be named (lower case)
    unclear: frozenset[str] = frozenset()  # naming them neither earns nor costs
    rates: tuple[tuple[str, float], ...] = ()  # (field, share of windows flagged), for evidence


@dataclass
class Scored:
    """Which phases passed calibration and may be scored for each expectation."""

    drift: dict[tuple[str, str], str] = field(default_factory=dict)  # (scenario, phase) -> detect|silent
    quality: dict[tuple[str, str], str] = field(default_factory=dict)
    performance: dict[tuple[str, str], str] = field(default_factory=dict)
    # (scenario, phase, slice field, group value) -> detect|silent: one group's performance
    slices: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    # (scenario, phase) -> the fields a scored drift onset really moves (calibration)
    attribution: dict[tuple[str, str], FieldTruth] = field(default_factory=dict)

    def only(self, scenarios: set[str]) -> "Scored":
        """The same verdicts, for the named scenarios only."""
        return Scored(**{f.name: {k: v for k, v in getattr(self, f.name).items() if k[0] in scenarios}
                         for f in dataclasses.fields(self)})


@dataclass
class CheckContext:
    exercise: Exercise
    transcript: Transcript
    traffic: dict[str, ScenarioTraffic]  # scenario name -> held-back traffic with truth
    scored: Scored
    classes: list[str]  # label classes seen in training
    baseline_accuracy: dict[str, float] = field(default_factory=dict)  # "majority", "plain_model" per phase group
    # model name -> record id -> prediction; lets checks compare a candidate with the naive
    # baselines on exactly the records it was scored on. Classification: "majority", "plain_model"
    # (labels); regression: "seasonal_naive", "plain_model" (numbers) — see grader.target
    baseline_predictions: dict[str, dict[str, str | float]] = field(default_factory=dict)
    baseline_name: str = "a plain model"  # the plain baseline in words, for evidence (from the data kind)
    # the documented raw input fields: what "naming every field" means (empty: the fields the traffic carried)
    fields: list[str] = field(default_factory=list)
    scenarios: dict[str, Scenario] = field(default_factory=dict)  # window, label_delay, batch_size
    seed: int | None = None
    # per-context memo for derived views (e.g. the record join); never part of the grading input
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    def scenario_params(self, scenario: str) -> tuple[int, int, int]:
        """(window, label_delay, batch_size) of a scenario; model defaults when it is not known."""
        sc = self.scenarios.get(scenario)
        if sc is not None:
            return sc.window, sc.label_delay, sc.batch_size
        defaults = Scenario.model_fields
        batch = next((r.batch_size for r in self.transcript.runs if r.scenario == scenario),
                     defaults["batch_size"].default)
        return defaults["window"].default, defaults["label_delay"].default, batch

    def truths(self, scenario: str) -> dict[str, RecordTruth]:
        return {t.id: t for t in self.traffic[scenario].all_truths()}

    def phases(self, scenario: str) -> list[PhaseTruth]:
        return [p.truth for p in self.traffic[scenario].phases]


class Check(abc.ABC):
    """One grading check. Subclasses set `id`, `dimension`, `title` and implement `run`."""

    id: ClassVar[str]
    dimension: ClassVar[Dimension]
    title: ClassVar[str]
    pass_mark: ClassVar[float] = 0.8
    # None: a measure. A number: a gate whose factor on the dimension is floor + (1 - floor) x score.
    gate_floor: ClassVar[float | None] = None
    # What the scenario set must contain for this check to be measurable (see NEEDS, provided()).
    needs: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def run(self, ctx: CheckContext) -> CheckResult: ...

    def result(self, score: float, evidence: str, **kw: object) -> CheckResult:
        score = max(0.0, min(1.0, float(score)))
        kw.setdefault("title", getattr(self, "title", ""))
        kw.setdefault("passed", score >= self.pass_mark)
        kw.update(self._role())
        return CheckResult(id=self.id, dimension=self.dimension, score=score,
                           evidence=evidence, **kw)  # type: ignore[arg-type]

    def not_measured(self, reason: str, **kw: object) -> CheckResult:
        kw.setdefault("title", getattr(self, "title", ""))
        kw.update(self._role())
        return CheckResult(id=self.id, dimension=self.dimension, score=0.0, passed=False,
                           evidence=f"not measured: {reason}", not_measured=reason, **kw)  # type: ignore[arg-type]


    def _role(self) -> dict[str, object]:
        if self.gate_floor is None:
            return {"role": "measure"}
        return {"role": "gate", "gate_floor": self.gate_floor}


# What a scenario set can offer a check, like scikit-learn's estimator tags.
NEEDS = frozenset({
    "traffic", "invalid", "recoverable", "unfamiliar", "usable", "labels", "shifted",
    "drift_onset", "drift_stable", "quality_onset", "performance_onset", "slice_onset", "load", "restart",
})


def provided(scored: Scored, traffic: dict[str, ScenarioTraffic], scenarios: list[Scenario]) -> set[str]:
    """The needs a planned scenario set meets: calibrated onsets, record kinds, load and restart phases."""
    kinds = {t.kind for tr in traffic.values() for t in tr.all_truths()}
    out = {"traffic"} if traffic else set()
    out |= {k for k in ("invalid", "recoverable", "unfamiliar") if k in kinds}
    if kinds & {"clean", "recoverable", "unfamiliar"}:
        out.add("usable")
    if any(t.label is not None for tr in traffic.values() for t in tr.all_truths()):
        out.add("labels")
    if any(p.shifts for sc in scenarios for p in sc.phases if p.kind == "traffic"):
        out.add("shifted")
    for aspect in ("drift", "quality", "performance"):
        if "detect" in getattr(scored, aspect).values():
            out.add(f"{aspect}_onset")
    if "silent" in scored.drift.values():
        out.add("drift_stable")
    if "detect" in scored.slices.values():
        out.add("slice_onset")
    phase_kinds = {p.kind for s in scenarios for p in s.phases}
    out |= {k for k in ("load", "restart") if k in phase_kinds}
    if len(scenarios) > 1:
        out.add("restart")  # replay restarts the service between scenarios
    return out


REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    if cls.id in REGISTRY:
        raise RuntimeError(f"duplicate check id {cls.id}")
    if not cls.needs <= NEEDS:
        raise RuntimeError(f"check {cls.id} needs unknown {sorted(cls.needs - NEEDS)}")
    REGISTRY[cls.id] = cls
    return cls
