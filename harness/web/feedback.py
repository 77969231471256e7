"""Candidate feedback: the habits the service showed and those it missed, in plain words.

Built only from what is public: each check's title (the same words the public self-check
prints), one fixed sentence per dimension on what it looks at and how the candidate can see
it for themselves, and, when the recruiter says so, the score. Never a check's evidence (it
names held-back scenarios, phases, onsets and record values), never a reason from the grader
(same), never the seed. As a second line of defence every line is tested against the
exercise's held-back scenario and phase names and the seed, and a line that names one is
replaced by its dimension's generic words.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from grader.errors import ShiftworkError
from grader.exercise import load_exercise
from grader.report.kit import cleaner
from grader.report.model import Report
from harness.store.models import Invite, Result
from harness.store.timeline import COUNTS_BY_DEFAULT

log = logging.getLogger(__name__)

DIMENSION_WORDS = {
    "validation": "Handling messy input: every request answered, unusable records flagged instead of guessed.",
    "monitoring": "Monitoring: noticing when incoming data or the model's quality changes, and saying so on "
                  "/monitoring.",
    "degradation": "Degrading gracefully: a fallback for inputs the model has never seen, instead of a confident "
                   "guess.",
    # "Running in production", not the dimension's own name: an exercise may call a held-back scenario that
    "operations": "Running in production: starting quickly, answering fast under concurrent load, staying inside "
                  "memory and coming back after a restart.",
    "accuracy": "Predictions on ordinary traffic and after the data moved, against simple baselines.",
}
SEE_FOR_YOURSELF = {
    "validation": "Send your service records with missing, misspelt or impossible fields (your bundle's "
                  "data and the public self-check have some) and read each answer's status.",
    "monitoring": "Run the public self-check (make check) and read /monitoring as its traffic changes: does an "
                  "alarm come on, how soon, and does it stay off while nothing moves?",
    "degradation": "Send values your training data never had and check that they come back as a fallback.",
    "operations": "make check times your start-up, a restart and /predict under concurrent requests.",
    "accuracy": "Hold part of data/train.csv out of training and compare your predictions with its labels.",
}
# Where a check's own hint says more than its dimension's (checks are the same in every exercise).
CHECK_HINTS = {
    "quality_alarms": "Send batches with a field missing or under another name and read data_quality on /monitoring.",
    "performance_alarm": "Post true labels to /feedback as the public self-check does and see whether /monitoring "
                         "reports the model getting worse once the labels stop agreeing with it.",
    "slice_alarm": "Break your accuracy down by group on data you held out and ask whether /monitoring would show "
                   "one group getting worse.",
    "selective_fallback": "Look at the records your model is least sure of on data you held out: are they the ones "
                          "you answer as a fallback?",
    "shift_accuracy": "Compare your model with simple baselines (the most common answer, the last value) on the "
                      "latest part of data/train.csv.",
}
STATUS_WORDS = {
    "graded": "Your service was built, started and answered the whole replay.",
    "build_failed": "Your service did not build, so none of its habits could be measured.",
    "start_failed": "Your service built but did not start, so none of its habits could be measured.",
    "crashed": "Your service stopped answering part-way through the replay: what it answered before is below.",
    "timed_out": "The grading ran out of time before your service finished answering: what it answered is below.",
}


@dataclass(frozen=True)
class Habit:
    title: str
    dimension: str  # the scoring dimension's key (for the API; pages show `about`)
    about: str  # the dimension in plain words
    see: str  # how the candidate can see it for themselves


@dataclass
class Feedback:
    status: str  # one sentence
    shown: list[Habit] = field(default_factory=list)
    missing: list[Habit] = field(default_factory=list)
    score: float | None = None  # only when the recruiter released it with the score


@lru_cache(maxsize=16)
def _held_back(exercise: str) -> tuple[str, ...]:
    """The exercise's held-back scenario and phase names (not those its public self-check also uses)."""
    try:
        ex = load_exercise(exercise)
        names = {s.name for s in ex.held_back_scenarios()} | {p.name for s in ex.held_back_scenarios()
                                                              for p in s.phases}
        public = ex.public()
        names -= {public.name} | {p.name for p in public.phases}
    except ShiftworkError as exc:
        log.error("feedback for %s: %s", exercise, exc)
        return ()
    return tuple(sorted({n.lower() for n in names} | {n.lower().replace("-", " ") for n in names}))


def _habit(check: str, title: str, dimension: str, clean: Callable[[str], bool]) -> Habit:
    about = DIMENSION_WORDS.get(dimension, "")
    safe = title if title and clean(title) else about.split(":", 1)[0]
    return Habit(title=safe, dimension=dimension, about=about,
                 see=CHECK_HINTS.get(check) or SEE_FOR_YOURSELF.get(dimension, ""))


def build_feedback(invite: Invite, result: Result | None, report: Report | None) -> Feedback:
    """The feedback page's content for the invite's counted result (and its report, when there is one)."""
    if result is None:
        return Feedback(status="Your submission has not been graded yet.")
    status = result.status
    out = Feedback(status=STATUS_WORDS.get(status, "Your submission could not be graded in full."))
    if invite.feedback_score and status == COUNTS_BY_DEFAULT and result.score is not None:
        out.score = result.score
    if report is None:
        return out
    clean = cleaner(list(_held_back(invite.exercise)), report.seed)
    weight = {n: d.weight for n, d in report.dimensions.items()}
    for c in sorted(report.checks, key=lambda c: (-(weight.get(c.dimension, 0.0) * c.weight), c.id)):
        if c.not_measured:
            continue
        habit = _habit(c.id, c.title or c.id.replace("_", " ").capitalize(), c.dimension, clean)
        if c.role == "gate":  # a contract duty earns nothing by itself: named only when it was missed
            if not c.passed:
                out.missing.append(habit)
        elif c.passed:
            out.shown.append(habit)
        else:
            out.missing.append(habit)
    return out
