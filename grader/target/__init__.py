"""What a prediction is and how the accuracy checks judge it: one plug-in per target kind.

The record-level performance checks (in_distribution_accuracy, shift_accuracy), the
served/not-served judgement of every record-level check, and the report's accuracy
figures ask the exercise's target (exercise.toml `target`), never the exercise's name:

- classification (grader.target.classification): a row is right or wrong; accuracy; 0 at
  the best constant answer (at least the majority-class model), 1 at the plain model;
- regression (grader.target.regression): a row has an absolute error; MAE; 0 at the better
  of the best constant in hindsight and the seasonal-naive forecast, 1 at the plain model.
"""
from __future__ import annotations

from grader.exercise import Exercise
from grader.target.base import Target, Verdict, anchored
from grader.target.classification import Classification
from grader.target.regression import Regression

TARGETS: dict[str, type[Target]] = {Classification.kind: Classification, Regression.kind: Regression}

__all__ = ["Classification", "Regression", "Target", "Verdict", "anchored", "target_for", "TARGETS"]


def target_for(exercise: Exercise) -> Target:
    """The exercise's target plug-in (exercise.toml `target`, default classification)."""
    return TARGETS[exercise.target]()
