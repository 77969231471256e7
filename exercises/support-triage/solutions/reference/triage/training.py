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
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from threadpoolctl import threadpool_limits

from triage.cleaning import Cleaned, clean_record
from triage.fields import LABEL
from triage.model import Classifier
from triage.monitor import Reference

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent.parent
MODEL_FILE = "model.joblib"
HOLDOUT_SHARE = 0.2
FALLBACK_QUANTILE = 0.02  # share of clean holdout we accept to send to review for low confidence


@dataclass
class Bundle:
    classifier: Classifier
    reference: Reference
    confidence_floor: float
    known_text_floor: float
    default_label: str
    data_sha: str
    trained_rows: int


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
        labels.append(label)
    return cleaned, labels


def train(path: Path, seed: int = 0) -> Bundle:
    # BLAS threads fighting over one CPU make lbfgs ~8x slower than a single thread.
    with threadpool_limits(limits=1):
        return _train(path, seed)


def _train(path: Path, seed: int) -> Bundle:
    t0 = time.perf_counter()
    cleaned, labels = read_training(path)
    usable = [i for i, (c, y) in enumerate(zip(cleaned, labels)) if y and not c.invalid]
    counts: dict[str, int] = {}
    for i in usable:
        counts[labels[i]] = counts.get(labels[i], 0) + 1
    # A label seen a handful of times is a typo in the export, not a queue.
    classes = {y for y, k in counts.items() if k >= max(5, 0.005 * len(usable))}
    usable = [i for i in usable if labels[i] in classes]
    rng = np.random.default_rng(seed)
    order = rng.permutation(usable)
    n_hold = int(len(order) * HOLDOUT_SHARE)
    holdout = np.arange(len(order)) < n_hold
    rows = [cleaned[i].values for i in order]
    y = [labels[i] for i in order]
    clf, proba = Classifier.fit(rows, y, holdout=holdout)
    classes_arr = np.array(clf.classes, dtype=object)
    holdout_acc = float(np.mean(classes_arr[proba.argmax(axis=1)] == np.array(y, dtype=object)[holdout]))
    confidence_floor = float(np.quantile(proba.max(axis=1), FALLBACK_QUANTILE))
    # known-token shares are measured with the final vocabulary, which saw the holdout texts:
    # a slight overestimate, so the floor errs low (fewer needless fallbacks).
    known = np.array([clf.featurizer.known_fraction(r) for r, h in zip(rows, holdout) if h])
    known_text_floor = min(0.5, float(np.quantile(known, 0.005)))
    reference = Reference.from_training(cleaned, holdout_acc, n_hold, seed=seed)
    default = max(counts, key=lambda y: counts[y] if y in classes else -1)
    log.info("trained on %d rows (holdout accuracy %.3f) in %.1fs", len(order), holdout_acc,
             time.perf_counter() - t0)
    return Bundle(clf, reference, confidence_floor, known_text_floor, default, _sha(path), len(order))


def _candidates() -> list[Path]:
    out = []
    if os.environ.get("MODEL_DIR"):
        out.append(Path(os.environ["MODEL_DIR"]))
    out += [HERE / "model", Path(tempfile.gettempdir()) / "triage-model"]
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
        if sha is None or bundle.data_sha == sha:
            return bundle
    if sha is None:
        raise FileNotFoundError(f"no model file and no training data at {path}")
    bundle = train(path)
    save(bundle)
    return bundle
