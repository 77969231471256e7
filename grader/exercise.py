"""exercise.toml: what an exercise is, how it is weighted, and its budgets and limits."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from grader.errors import ConfigError, UsageError
from grader.scenario import Scenario, load_scenario

Dimension = Literal["validation", "monitoring", "degradation", "operations", "accuracy"]
DIMENSIONS: tuple[str, ...] = ("validation", "monitoring", "degradation", "operations", "accuracy")
TargetKind = Literal["classification", "regression"]
# the performance metric each target kind can be graded on (the first is its default)
METRICS: dict[str, tuple[str, ...]] = {"classification": ("accuracy",), "regression": ("mae",)}


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    startup_s: float = 60.0
    p95_ms: float = 500.0
    request_timeout_s: float = 10.0
    max_response_bytes: int = 5_000_000
    grading_timeout_s: float = 900.0


class Limits(BaseModel):
    """Container limits (docker runtime). The local runtime can only measure memory."""

    model_config = ConfigDict(extra="forbid")
    memory_mb: int = 1024
    cpus: float = 1.0
    pids: int = 128
    tmpfs_mb: int = 64
    nofile: int = 1024
    build_timeout_s: float = 600.0
    build_memory_mb: int = 2048
    context_mb: int = 200
    context_files: int = 5000
    image_mb: int = 3000


class CheckSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    weight: float = Field(default=1.0, gt=0)


class Exercise(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    version: str
    title: str
    dataset: str = Field(description="Folder name under datasets/")
    label: str = Field(description="Name of the target field")
    weights: dict[Dimension, float]
    budgets: Budgets = Field(default_factory=Budgets)
    limits: Limits = Field(default_factory=Limits)
    scenarios: list[str] = Field(min_length=1, description="Held-back scenario files, relative to scenarios/")
    public_scenario: str = Field(description="Public self-check scenario, relative to the exercise folder")
    checks: list[CheckSpec] = Field(min_length=1)
    # raw categorical fields whose groups' performance is watched (e.g. a protected attribute)
    slices: list[str] = Field(default_factory=list)
    # what a prediction is (a class label, or a number) and the metric the accuracy checks report
    target: TargetKind = "classification"
    metric: str = Field(default="", validate_default=True,
                        description="accuracy (classification) or mae (regression); empty: the target's default")
    root: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _weights_cover_dimensions(self) -> "Exercise":
        missing = [d for d in DIMENSIONS if d not in self.weights]
        if missing:
            raise ValueError(f"weights missing for {', '.join(missing)}")
        total = sum(self.weights.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights must add up to 1, not {total:g}")
        return self

    @field_validator("metric")
    @classmethod
    def _metric_fits_target(cls, v: str, info: ValidationInfo) -> str:
        target = info.data.get("target")
        if target is None:  # the target itself failed validation: that error is the one to show
            return v
        allowed = METRICS[target]
        if not v:
            return allowed[0]
        if v not in allowed:
            raise ValueError(f"{v!r} does not fit target {target!r} (use {', '.join(allowed)})")
        return v

    def held_back_scenarios(self) -> list[Scenario]:
        return [load_scenario(self.root / "scenarios" / name) for name in self.scenarios]

    def public(self) -> Scenario:
        return load_scenario(self.root / self.public_scenario)


def repo_root() -> Path:
    """Where exercises/ and datasets/ live: $SHIFTWORK_HOME, else the source checkout."""
    env = os.environ.get("SHIFTWORK_HOME")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent


def exercises_dir(root: Path | None = None) -> Path:
    return (root or repo_root()) / "exercises"


def datasets_dir(root: Path | None = None) -> Path:
    return (root or repo_root()) / "datasets"


def list_exercises(root: Path | None = None) -> list[str]:
    base = exercises_dir(root)
    return sorted(p.name for p in base.iterdir() if (p / "exercise.toml").is_file()) if base.is_dir() else []


def load_exercise(exercise_id: str, root: Path | None = None) -> Exercise:
    folder = exercises_dir(root) / exercise_id
    path = folder / "exercise.toml"
    if not path.is_file():
        known = ", ".join(list_exercises(root)) or "none"
        raise UsageError(f"unknown exercise {exercise_id!r} (known: {known})")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        ex = Exercise.model_validate({**raw, "root": folder})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
    return ex
