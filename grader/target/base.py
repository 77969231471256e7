"""The target plug-in interface and what it hands back to a check."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the checks import the targets: only names here, at type-checking time
    from grader.checks.base import CheckContext
    from grader.checks.records import Outcome


@dataclass
class Verdict:
    """What a target makes of a check's rows: a score with its evidence, or why it cannot say."""

    score: float = 0.0
    evidence: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    debrief: str = ""  # one question for the interviewer, asked when the check fails
    not_measured: str | None = None


# The narrowest span a score is spread over. Narrower, the two anchors cannot be told apart on the
# records measured (on a table whose rare class is rare, a plain model is no better than a constant):
# a step at `high` made one record more or less right the whole check, and a reference's accuracy check
# swung 0 <-> 1 across seeds of the same traffic.
MIN_SPAN = 0.01


def anchored(value: float, low: float, high: float) -> float:
    """0 at `low`, 1 at `high` (higher is better); a span narrower than MIN_SPAN is widened to it above
    `low`: what scores 0 stays 0 (a constant answer earns nothing), and full credit asks for a margin the
    records can show."""
    high = max(high, low + MIN_SPAN)
    return max(0.0, min(1.0, (value - low) / (high - low)))


class Target(abc.ABC):
    kind: ClassVar[str]  # exercise.toml `target`
    metric: ClassVar[str]  # its key in check metrics and report.json: "accuracy", "mae"
    metric_name: ClassVar[str]  # how a person reads it: "accuracy", "MAE"
    # what a falling performance means, for debrief questions ("accuracy had dropped")
    worse: ClassVar[str]

    def usable(self, prediction: Any) -> bool:
        """A prediction that can be scored: what "served" means beyond the status."""
        return prediction is not None

    def unusable(self, prediction: Any) -> str:
        """Why an answered prediction cannot be scored, in a few words for evidence."""
        return "no prediction"

    @abc.abstractmethod
    def error(self, prediction: Any, label: str | float) -> float:
        """The row's loss for a usable prediction: 0 when right."""

    @abc.abstractmethod
    def in_distribution(self, ctx: CheckContext, rows: list[Outcome], source: str) -> Verdict:
        """Score ordinary clean traffic (`source` says where the rows come from)."""

    @abc.abstractmethod
    def under_shift(self, ctx: CheckContext, rows: list[Outcome], phases: int) -> Verdict:
        """Score usable records of `phases` shifted phases against the naive baselines."""

    def title(self, title: str) -> str:
        """A check's title in this target's words (classification keeps "Accuracy ...")."""
        return title

    def null_service(self, dimension: str, text: str) -> str:
        """What a do-nothing service scores in `dimension`, in this target's words (`text`: the default)."""
        return text

    def report_value(self, value: float | None) -> float | None:
        """The figure report.json's `accuracy` block carries for this target's metric."""
        return None if value is None else max(0.0, float(value))
