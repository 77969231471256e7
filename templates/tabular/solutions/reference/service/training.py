"""Train from data/train.csv and cache the result; load it back at start-up.

The image trains at build time (`python train.py`); a runtime that skips the build step
finds no model file and trains here at start-up, caching under $MODEL_DIR or /tmp so a
restart is fast. A cached model is only reused when it was trained on the same bytes.
"""
from __future__ import annotations

import csv
import hashlib
import logging
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np

from service.cleaning import Cleaned, clean_record
from service.fields import CLASSES, LABEL
from service.model import Classifier
from service.monitor import Reference, group_keys

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent.parent
MODEL_FILE = "model.joblib"
HOLDOUT_SHARE = 0.2
# Share of the holdout whose top-class probability is lowest: those get `fallback` ("the model is
# unsure here"), a person reviews them. On the holdout they are wrong about twice as often.
FALLBACK_QUANTILE = 0.05
FORMAT = 2  # bump when the bundle's shape changes: an old cache is retrained, not unpickled wrong


@dataclass
class Bundle:
    classifier: Classifier
    reference: Reference
    default_label: str  # the most common outcome: the safe answer when nothing else is
    confidence_floor: float  # below it an answer is served as `fallback` (low confidence)
    data_sha: str
    trained_rows: int
    format: int = FORMAT


def data_path() -> Path:
    return Path(os.environ.get("TRAIN_DATA", HERE / "data" / "train.csv"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def read_training(path: Path) -> tuple[list[Cleaned], list[str | None]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cleaned, labels = [], []
    for i, row in enumerate(rows):
        label = (row.pop(LABEL, "") or "").strip().lower() or None
        cleaned.append(clean_record({k: v for k, v in row.items() if k is not None}, i))
        labels.append(label if label in CLASSES else None)
    return cleaned, labels


def train(path: Path, seed: int = 0) -> Bundle:
    """Fit on 80 %, measure the holdout (overall and per group), then refit on everything."""
    t0 = time.perf_counter()
    cleaned, labels = read_training(path)
    usable = [i for i, (c, y) in enumerate(zip(cleaned, labels)) if y and not c.invalid]
    rng = np.random.default_rng(seed)
    order = rng.permutation(usable)
    n_hold = int(len(order) * HOLDOUT_SHARE)
    hold, fit = order[:n_hold], order[n_hold:]
    clf = Classifier.fit([cleaned[i].values for i in fit], [labels[i] for i in fit], seed=seed)
    proba = clf.predict_proba([cleaned[i].values for i in hold])
    pred = np.array(clf.classes, dtype=object)[proba.argmax(axis=1)]
    right = pred == np.array([labels[i] for i in hold], dtype=object)
    groups: dict[tuple[str, str], tuple[int, int]] = {}  # (field, value) -> (right, n) on the holdout
    for ok, i in zip(right, hold):
        for g in group_keys(cleaned[i]):
            k, n = groups.get(g, (0, 0))
            groups[g] = (k + int(ok), n + 1)
    holdout_acc = float(right.mean())
    confidence_floor = float(np.quantile(proba.max(axis=1), FALLBACK_QUANTILE))
    clf = Classifier.fit([cleaned[i].values for i in order], [labels[i] for i in order], seed=seed)
    reference = Reference.from_training(cleaned, holdout_acc, n_hold, groups, seed=seed)
    default = Counter(labels[i] for i in order).most_common(1)[0][0]
    log.info("trained on %d rows (holdout accuracy %.3f; %s) in %.1fs", len(order), holdout_acc,
             ", ".join(f"{f}={v} {k / n:.3f} of {n}" for (f, v), (k, n) in sorted(groups.items())),
             time.perf_counter() - t0)
    return Bundle(clf, reference, default, confidence_floor, _sha(path), len(order))


def _candidates() -> list[Path]:
    out = []
    if os.environ.get("MODEL_DIR"):
        out.append(Path(os.environ["MODEL_DIR"]))
    out += [HERE / "model", Path(tempfile.gettempdir()) / "service-model"]
    return out


def save(bundle: Bundle) -> Path | None:
    for folder in _candidates():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{MODEL_FILE}.{os.getpid()}"
            joblib.dump(bundle, tmp)
            tmp.replace(folder / MODEL_FILE)
            return folder / MODEL_FILE
        except OSError as exc:  # read-only filesystem: try the next place
            log.info("cannot cache the model in %s: %s", folder, exc)
    return None


def load_or_train() -> Bundle:
    path = data_path()
    sha = _sha(path) if path.is_file() else None
    for folder in _candidates():
        f = folder / MODEL_FILE
        if not f.is_file():
            continue
        try:
            bundle = joblib.load(f)
        except Exception as exc:  # a half-written or foreign file: retrain rather than die
            log.warning("ignoring unreadable model %s: %s", f, exc)
            continue
        if getattr(bundle, "format", None) == FORMAT and (sha is None or bundle.data_sha == sha):
            return bundle
    if sha is None:
        raise FileNotFoundError(f"no model file and no training data at {path}")
    bundle = train(path)
    save(bundle)
    return bundle
