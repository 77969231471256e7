"""What /monitoring reports: the service's current view over a recent window.

TODO(monitoring): everything. The grader reads /monitoring after every batch and checks:
- drift: raised within a few batches of a real shift in the inputs, silent on stable
  traffic, naming the raw fields that moved;
- data_quality: raised when fields go missing far more than usual (an upstream outage), or
  the schema changes, naming the raw fields;
- performance: raised when accuracy on recent labelled records (from /feedback) is
  clearly below what the model achieves on held-out data (never on its own training rows);
  `value` is that accuracy. For a numeric target (service/fields.py TARGET == "regression")
  the metric is "mae", the mean absolute error, and the alarm is about it rising;
- performance.slices: the same per group of each field in service/fields.py GROUPS, one entry
  per group: {"field": ..., "value": ..., "metric": "accuracy", "metric_value": 0.64,
  "degraded": true}. One group's accuracy can drop while the overall number stays flat.
An alarm that is always on scores as badly as one that never fires; small windows are
noisy, so use tests whose false-alarm rate you know (and correct for testing many fields,
and many groups).
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any

from service.fields import GROUPS, TARGET
from service.validation import Checked

WINDOW = 500  # records
METRIC = "mae" if TARGET == "regression" else "accuracy"


def _outcome(predicted: Any, label: str) -> bool | float | None:
    """Was the prediction right? For a numeric target, how far off was it (None: the label is no number)?"""
    if METRIC == "accuracy":
        return predicted == label
    try:
        error = abs(predicted - float(label))
    except ValueError:
        return None
    return error if math.isfinite(error) else None


class Monitor:
    def __init__(self) -> None:
        self.recent: deque[Checked] = deque(maxlen=WINDOW)
        self.predictions: dict[str, tuple[Any, Any]] = {}  # id -> (prediction, group), to join late labels
        # was the prediction right? For a numeric target: how far off was it (absolute error)?
        self.labelled: deque[bool | float] = deque(maxlen=300)

    def observe(self, checked: list[Checked], predictions: list[Any]) -> None:
        for c, p in zip(checked, predictions):
            self.recent.append(c)
            if p is not None:
                group = tuple(c.values.get(g) for g in GROUPS)
                self.predictions[c.id] = (p, group)  # TODO: bound this memory

    def feedback(self, labels: list[tuple[str, str]]) -> int:
        for rid, label in labels:
            if rid in self.predictions:
                predicted, _group = self.predictions.pop(rid)
                outcome = _outcome(predicted, label)
                if outcome is not None:
                    self.labelled.append(outcome)  # TODO(slices): per group as well
        return len(labels)

    def view(self) -> dict[str, Any]:
        value = sum(self.labelled) / len(self.labelled) if self.labelled else None  # accuracy, or MAE
        return {
            "drift": {"detected": False, "features": []},  # TODO
            "data_quality": {"detected": False, "features": []},  # TODO
            "performance": {"degraded": False, "metric": METRIC, "value": value,  # TODO
                            "slices": []},  # TODO(slices): one entry per group of each GROUPS field
        }
