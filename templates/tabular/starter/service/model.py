"""A placeholder model: always the most frequent outcome in data/train.csv (for a numeric
target, service/fields.py TARGET == "regression": always the median).

TODO(model): replace it with a real classifier, or regressor for a numeric target
(data/data_dictionary.md describes the fields). Train it in train.py (the Docker
build runs it) and load it here; keep `load_model` able to train from data/train.csv when
the model file is missing (the local runtime does not run the Docker build) and write only
under $MODEL_DIR or /tmp (the root filesystem is read-only when graded).
"""
from __future__ import annotations

import csv
import json
import math
import os
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.fields import CLASSES, LABEL, TARGET

HERE = Path(__file__).resolve().parent.parent
DATA = HERE / "data" / "train.csv"
MODEL_FILE = "model.json"


@dataclass
class Model:
    label: str | float  # the most frequent class, or the median of a numeric target
    share: float | None  # how often that label occurs in training: our "confidence" (None for a number)

    def predict(self, values: dict[str, Any]) -> tuple[str | float, float | None]:
        # TODO(fallback): recognise unfamiliar inputs (a category value never seen in
        #   training) so the caller can answer "fallback" with a
        #   safe default (the most common outcome or the median, or the model without that input).
        return self.label, self.share


def train(path: Path = DATA) -> Model:
    if TARGET == "regression":
        return _median(path)
    counts: Counter[str] = Counter()
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as f:
            counts.update((row.get(LABEL) or "").strip().lower() for row in csv.DictReader(f))
    counts.pop("", None)
    if not counts:
        return Model(label=CLASSES[0], share=1.0 / len(CLASSES))
    label, n = counts.most_common(1)[0]
    return Model(label=label, share=n / sum(counts.values()))


def _median(path: Path) -> Model:
    """The median of the numeric target: the constant with the least absolute error."""
    values: list[float] = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                try:
                    y = float((row.get(LABEL) or "").strip())
                except ValueError:  # blank or not a number: nothing to learn from
                    continue
                if math.isfinite(y):
                    values.append(y)
    return Model(label=statistics.median(values) if values else 0.0, share=None)


def model_dirs() -> list[Path]:
    dirs = [Path(os.environ["MODEL_DIR"])] if os.environ.get("MODEL_DIR") else []
    return dirs + [HERE / "model", Path("/tmp/model")]


def save(model: Model) -> Path | None:
    for folder in model_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / MODEL_FILE).write_text(json.dumps(model.__dict__))
            return folder / MODEL_FILE
        except OSError:
            continue
    return None


def load_model() -> Model:
    for folder in model_dirs():
        if (folder / MODEL_FILE).is_file():
            try:
                return Model(**json.loads((folder / MODEL_FILE).read_text()))
            except (ValueError, TypeError):
                continue
    model = train()
    save(model)
    return model
