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

from forecast.cleaning import Cleaned, clean_record
from forecast.fields import LABEL, LAGS, SITES
from forecast.model import Forecaster, base_of, usable_target
from forecast.monitor import Reference

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent.parent
MODEL_FILE = "model.joblib"
HOLDOUT_SHARE = 0.2
TEMPERATURE_MARGIN = 0.0  # °C beyond the training range before a reading counts as unfamiliar
FORMAT = 2  # bump when the bundle's shape changes: an old cache is retrained, not unpickled wrong


@dataclass
class Bundle:
    forecaster: Forecaster
    reference: Reference
    temperature_range: dict[str, tuple[float, float]]  # site -> (min, max) seen in training
    load_range: dict[str, tuple[float, float]]  # load field -> (min, max) over every site's training rows
    interval_ratio: tuple[float, float]  # 5th and 95th percentile of actual / forecast on the holdout
    data_sha: str
    trained_rows: int
    format: int = FORMAT


def data_path() -> Path:
    return Path(os.environ.get("TRAIN_DATA", HERE / "data" / "train.csv"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _actual(text: str | None) -> float | None:
    try:
        y = float((text or "").strip())
    except ValueError:
        return None
    return y if np.isfinite(y) else None


def read_training(path: Path) -> tuple[list[Cleaned], list[float | None]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cleaned, actuals = [], []
    for i, row in enumerate(rows):
        actuals.append(_actual(row.pop(LABEL, None)))
        cleaned.append(clean_record({k: v for k, v in row.items() if k is not None}, i))
    return cleaned, actuals


def train(path: Path, seed: int = 0) -> Bundle:
    """Fit on 80 %, measure the holdout MAE, then refit on everything usable."""
    t0 = time.perf_counter()
    cleaned, actuals = read_training(path)
    # rows whose actual is missing or a meter glitch (0, ten times its lag) teach nothing
    usable = [i for i, (c, y) in enumerate(zip(cleaned, actuals)) if not c.invalid and usable_target(c.values, y)]
    order = np.random.default_rng(seed).permutation(usable)
    n_hold = int(len(order) * HOLDOUT_SHARE)
    hold, fit = order[:n_hold], order[n_hold:]
    model = Forecaster.fit([cleaned[i].values for i in fit], [actuals[i] for i in fit], seed=seed)
    y = np.array([actuals[i] for i in hold], dtype=float)
    pred = model.predict([cleaned[i].values for i in hold])
    mae = float(np.abs(pred - y).mean())
    lo, hi = np.quantile(y / pred, [0.05, 0.95])
    naive = float(np.abs(np.array([base_of(cleaned[i].values) for i in hold], dtype=float) - y).mean())
    model = Forecaster.fit([cleaned[i].values for i in order], [actuals[i] for i in order], seed=seed)
    temps: dict[str, tuple[float, float]] = {}
    for s in SITES:
        t = [c.values["temperature_c"] for c in cleaned if not c.invalid and c.values.get("site") == s
             and c.values.get("temperature_c") is not None]
        if t:
            temps[s] = (min(t), max(t))
    loads = {name: [c.values[name] for c in cleaned if not c.invalid and c.values.get(name) is not None]
             for name in LAGS}
    load_range = {name: (min(xs), max(xs)) for name, xs in loads.items() if xs}
    reference = Reference.from_training(cleaned, mae, naive, n_hold, seed=seed)
    log.info("trained on %d rows (holdout MAE %.1f MW, seasonal naive %.1f MW) in %.1fs", len(order), mae, naive,
             time.perf_counter() - t0)
    return Bundle(model, reference, temps, load_range, (float(lo), float(hi)), _sha(path), len(order))


def _candidates() -> list[Path]:
    out = [Path(os.environ["MODEL_DIR"])] if os.environ.get("MODEL_DIR") else []
    return out + [HERE / "model", Path(tempfile.gettempdir()) / "forecast-model"]


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
