"""Data engine benchmarks: generation rate (records/s), and how hard the data is for a plain model.

Run: `make bench`, `pytest -q -s benchmarks/bench_data.py`, or `python benchmarks/bench_data.py`.
Figures are printed, never asserted (the machine may be shared).
"""
from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pandas as pd

from harness.data.engine import generate_scenario, generate_training, load_recipe
from grader.exercise import load_exercise

SEED = 7


def generation_rate(seed: int = SEED) -> dict[str, float]:
    recipe = load_recipe("support-triage")
    scenarios = load_exercise("support-triage").held_back_scenarios()
    generate_scenario(recipe, scenarios[0], seed)  # warm caches and imports
    out: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    train = generate_training(recipe, seed)
    out["training records/s (cpu)"] = len(train.frame) / (time.process_time() - cpu)
    out["training records/s (wall)"] = len(train.frame) / (time.perf_counter() - wall)
    wall, cpu = time.perf_counter(), time.process_time()
    n = sum(len(p.records) for s in scenarios for p in generate_scenario(recipe, s, seed).phases)
    out["scenario records/s (cpu)"] = n / (time.process_time() - cpu)
    out["scenario records/s (wall)"] = n / (time.perf_counter() - wall)
    out["held-back records"] = n
    return out


def _text(frame: pd.DataFrame) -> pd.Series:
    as_str = lambda s: s.map(lambda v: v if isinstance(v, str) else "")  # noqa: E731
    return as_str(frame["subject"]) + " " + as_str(frame["body"])


def baseline_table(seed: int = SEED) -> list[tuple[str, str, int, float]]:
    """Plain TF-IDF(subject+body) + LogisticRegression: time split of training, then each held-back phase."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    recipe = load_recipe("support-triage")
    ex = load_exercise("support-triage")
    train = generate_training(recipe, seed)
    frame = train.frame
    cut = int(len(frame) * 0.8)  # rows are in time order: the last 20% is the newest
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    model.fit(_text(frame.iloc[:cut]), frame["queue"].iloc[:cut])
    valid = [i for i in range(cut, len(frame)) if train.truths[i].kind != "invalid"]
    truth = np.array([train.truths[i].label for i in valid])
    rows = [("training", "last 20% (time split)", len(valid),
             float(np.mean(model.predict(_text(frame.iloc[valid])) == truth)))]
    for scenario in ex.held_back_scenarios() + [ex.public()]:
        st = generate_scenario(recipe, scenario, seed)
        for phase in st.phases:
            keep = [(r, t) for r, t in zip(phase.records, phase.truths) if t.kind != "invalid"]
            if not keep:
                continue
            df = pd.DataFrame([r for r, _ in keep])
            y = np.array([t.label for _, t in keep])
            rows.append((scenario.name, phase.truth.name, len(keep), float(np.mean(model.predict(_text(df)) == y))))
            unfamiliar = [(r, t) for r, t in keep if t.kind == "unfamiliar"]
            if unfamiliar:
                df = pd.DataFrame([r for r, _ in unfamiliar])
                y = np.array([t.label for _, t in unfamiliar])
                rows.append((scenario.name, phase.truth.name + " (unfamiliar only)", len(unfamiliar),
                             float(np.mean(model.predict(_text(df)) == y))))
    return rows


def _print_rate(rates: dict[str, float]) -> None:
    for k, v in rates.items():
        print(f"{k:28s} {v:>10,.0f}")


def _print_table(rows: list[tuple[str, str, int, float]]) -> None:
    print(f"{'scenario':16s} {'phase':36s} {'n':>6s} {'accuracy':>9s}")
    for sc, ph, n, acc in rows:
        print(f"{sc:16s} {ph:36s} {n:>6d} {acc:>9.3f}")


def test_generation_rate(capsys):
    rates = generation_rate()
    with capsys.disabled():
        print()
        _print_rate(rates)
    assert rates["held-back records"] > 0


def test_plain_model_baseline(capsys):
    rows = baseline_table()
    with capsys.disabled():
        print()
        _print_table(rows)
    assert rows


if __name__ == "__main__":
    _print_rate(generation_rate())
    _print_table(baseline_table())
