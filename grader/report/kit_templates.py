"""Interview question templates: the TOML an exercise author edits, validated when it loads.

exercises/<id>/interview.toml (and the generic interview_default.toml beside this module) is a
list of [[questions]]; docs/interview.md shows one. A bad file fails at load with one line
naming the file and the field, like a bad scenario file.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grader.checks import REGISTRY
from grader.errors import ConfigError
from grader.report.kit_quote import CONSTANTS, PLACEHOLDERS

Probe = Literal["changing-data", "ambiguity", "monitoring", "design", "scaling-failures"]
Constraint = Literal["late-labels", "p95-halved", "traffic-10x", "cost-cap", "protected-group"]
CONSTRAINT_TITLES: dict[str, str] = {
    "late-labels": "labels arrive a week late",
    "p95-halved": "the p95 latency budget is halved",
    "traffic-10x": "traffic grows ten-fold",
    "cost-cap": "a cost cap per 1,000 predictions",
    "protected-group": "a new protected-group requirement",
}
Status = Literal["graded", "build_failed", "start_failed", "crashed", "timed_out"]
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")  # other braces (JSON in a question) stay as written


def _known(text: str) -> str:
    unknown = [n for n in PLACEHOLDER.findall(text) if n not in PLACEHOLDERS]
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}} (docs/interview.md lists the placeholders)")
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class When(_Strict):
    """The evidence a question needs: "always", one check's result, or how the grading ended."""

    always: bool = False
    check: str | None = None
    result: Literal["passed", "failed", "measured"] = "measured"
    status: list[Status] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _always(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data != "always":
                raise ValueError(f'write "always" or a table such as {{ check = "latency_p95", result = "failed" }}, '
                                 f"not {data!r}")
            return {"always": True}
        return data

    @model_validator(mode="after")
    def _one_condition(self) -> "When":
        if self.always + (self.check is not None) + (self.status is not None) != 1:
            raise ValueError('name one condition: "always", a check (result "passed", "failed" or "measured"), '
                             "or a status")
        if self.check is not None and self.check not in REGISTRY:
            raise ValueError(f"unknown check {self.check!r}")
        return self

    def describe(self) -> str:
        if self.always:
            return "always"
        return f"status {', '.join(self.status)}" if self.status else f"{self.check} {self.result}"


class Anchors(_Strict):
    """What an answer scored 1 (weak) to 4 (strong) contains."""

    weak: str = Field(min_length=1)
    fair: str = Field(min_length=1)
    good: str = Field(min_length=1)
    strong: str = Field(min_length=1)

    _placeholders = field_validator("weak", "fair", "good", "strong")(_known)


class FollowUpSpec(_Strict):
    constraint: Constraint
    ask: str = Field(min_length=1)
    strong: str = Field(min_length=1, description="what a strong adaptation says")

    _placeholders = field_validator("ask", "strong")(_known)


class Template(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1, max_length=80)
    probes: list[Probe] = Field(min_length=1)
    when: When
    question: str = Field(min_length=1)
    anchors: Anchors
    follow_up: FollowUpSpec

    @field_validator("question")
    @classmethod
    def _quotes_the_run(cls, text: str) -> str:
        _known(text)
        if not [n for n in PLACEHOLDER.findall(text) if n not in CONSTANTS]:
            raise ValueError("a question must quote this run's evidence: use at least one placeholder that is not "
                             "an exercise setting")
        return text


class TemplateFile(_Strict):
    questions: list[Template] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "TemplateFile":
        seen: set[str] = set()
        for t in self.questions:
            if t.id in seen:
                raise ValueError(f"question id {t.id!r} is used twice")
            seen.add(t.id)
        return self


def load_templates(path: Path) -> TemplateFile:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"interview templates not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return TemplateFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        msg = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: {where}: {msg}") from exc
