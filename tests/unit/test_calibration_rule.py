"""Calibration across seeds: a verdict holds only if it holds on every calibration seed.

The rule itself (harness.calibration module docstring) on synthetic per-seed counts: pooled
rate at the 0.95 / 0.05 bar AND no seed significantly off it (exact binomial, alpha 0.01).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.truth import PhaseExpect
from harness.calibration import (
    CalibrationReport, _Counts, _pool, calibration_seeds, seed_floor, seed_holds, slice_verdicts, verdict,
)

SEEDS = calibration_seeds(7, 8)


def counts(phase: str, hits: int, windows: int = 40, *, quality: int = 0, perf: int | None = 0,
           groups: dict[str, int] | None = None, moved: dict[str, int] | None = None) -> _Counts:
    return _Counts(scenario="s", phase=phase, window=500, windows=windows, drift=hits, quality=quality,
                   performance=perf, fields=dict(moved or {}), moved=dict(moved or {}), groups=dict(groups or {}),
                   accuracy=[0.8], evidently=None)


def test_calibration_seeds_are_fixed_distinct_and_start_with_the_given_seed() -> None:
    assert SEEDS == calibration_seeds(7, 8) and SEEDS[0] == 7 and len(set(SEEDS)) == 8
    assert all(0 <= s < 2 ** 32 for s in SEEDS)
    assert calibration_seeds(8, 8) != SEEDS and calibration_seeds(7, 3) == SEEDS[:3]


def test_a_seed_is_judged_by_its_binomial_noise() -> None:
    # at 40 windows a seed may miss 6 (a true 0.95 seed misses more in 0.3 % of draws), not 7
    assert seed_holds("detect", 34, 40) and not seed_holds("detect", 33, 40)
    assert seed_holds("silent", 6, 40) and not seed_holds("silent", 7, 40)
    assert seed_floor("detect", 40) == 0.85 and seed_floor("silent", 40) == 0.15
    assert seed_holds("unscored", 0, 40)


def test_a_phase_that_holds_pooled_but_not_on_one_seed_fails() -> None:
    ok = [(40, 40)] * 7
    # pooled 313/320 = 0.978 >= 0.95, but one seed found the shift in 33 of 40 windows only
    assert verdict("detect", 313 / 320, ok + [(33, 40)]) == "FAIL"
    assert verdict("detect", 314 / 320, ok + [(34, 40)]) == "must detect"
    # silent mirrors it: pooled 7/320 = 0.02, one seed alarmed in 7 of 40
    assert verdict("silent", 7 / 320, [(0, 40)] * 7 + [(7, 40)]) == "FAIL"
    assert verdict("silent", 6 / 320, [(0, 40)] * 7 + [(6, 40)]) == "must stay silent"
    # the pooled bar is not loosened by the per-seed tolerance: every seed fine, pooled 0.94
    assert verdict("detect", 0.94, [(38, 40)] * 4 + [(37, 40)] * 4) == "FAIL"
    # without per-seed counts (a report from before) the pooled rate alone decides, as before
    assert verdict("detect", 0.95) == "must detect" and verdict("silent", 0.1) == "FAIL"


def test_pooling_keeps_each_seed_and_fails_the_phase_on_its_worst_seed() -> None:
    expect = PhaseExpect(drift="detect", performance="silent")
    good = [counts("shift", 40, perf=1, moved={"amount": 40, "age": 20}) for _ in SEEDS[1:]]
    weak = counts("shift", 33, perf=0, moved={"amount": 33})
    p = _pool([weak, *good], SEEDS, expect)
    assert p.windows == 320 and p.drift_rate == pytest.approx(313 / 320)
    assert [s.seed for s in p.seeds] == list(SEEDS) and p.seeds[0].drift_rate == pytest.approx(33 / 40)
    assert p.verdicts["drift"] == "FAIL" and p.worst_seed("drift") == (7, pytest.approx(33 / 40))
    assert p.verdicts["performance"] == "must stay silent"  # 7 of 320 pooled, no seed above 1 of 40
    assert p.failures() == ["s/shift: drift expected detect, reference rate 0.98 (pooled over 8 seeds; "
                            "off on seed 7 0.82)"]
    # per-field rates (drift attribution) are pooled over the seeds' windows
    assert p.drift_field_rates == {"age": pytest.approx(140 / 320), "amount": pytest.approx(313 / 320)}
    strong = _pool([counts("shift", 40) for _ in SEEDS], SEEDS, expect)
    assert strong.verdicts["drift"] == "must detect" and strong.failures() == []


def test_slice_groups_follow_the_same_rule() -> None:
    seeds = [(40, 40)] * 7 + [(30, 40)]
    assert slice_verdicts("detect", {"sex=female": 310 / 320, "sex=male": 0.0},
                          {"sex=female": seeds, "sex=male": [(0, 40)] * 8}) == {
        "sex=female": "reported", "sex=male": "must stay silent"}
    assert slice_verdicts("silent", {"sex=female": 7 / 320}, {"sex=female": [(0, 40)] * 7 + [(7, 40)]}) == {
        "sex=female": "FAIL"}
    expect = PhaseExpect(slices="detect")
    p = _pool([counts("drop", 0, groups={"sex=female": 40, "sex=male": 0}) for _ in SEEDS[1:]]
              + [counts("drop", 0, groups={"sex=female": 30, "sex=male": 0})], [*SEEDS[1:], SEEDS[0]], expect)
    assert p.slice_verdicts == {"sex=female": "reported", "sex=male": "must stay silent"}
    assert any("no group's rate reaches 0.95 on every seed" in f for f in p.failures())


def test_scored_phases_drop_a_phase_that_fails_on_one_seed(tmp_path: Path) -> None:
    from grader.exercise import load_exercise
    from harness.calibration import cache_key
    from harness.calibration_store import scored_phases

    ROOT = Path(__file__).resolve().parents[2]
    ex = load_exercise("support-triage", root=ROOT)
    expect = PhaseExpect(drift="detect", quality="silent")
    phases = [
        _pool([counts("everywhere", 40) for _ in SEEDS], SEEDS, expect),
        _pool([counts("seed-dependent", 33)] + [counts("seed-dependent", 40) for _ in SEEDS[1:]], SEEDS, expect),
    ]
    key = cache_key(ex, windows=40, seed=7)
    report = CalibrationReport(exercise=ex.id, key=key, windows=40, seed=7, reference="test", stable_accuracy=0.8,
                               seconds=0.0, phases=phases, seeds=list(SEEDS), seed_stable=[0.8] * 8)
    (tmp_path / f"support-triage-w40-s7-{key}.json").write_text(report.model_dump_json())
    scored = scored_phases(ex, cache_dir=tmp_path)  # read from the cache, not simulated
    assert scored.drift == {("s", "everywhere"): "detect"}
    assert scored.quality == {("s", "everywhere"): "silent", ("s", "seed-dependent"): "silent"}
    assert report.failures() == ["s/seed-dependent: drift expected detect, reference rate 0.98 (pooled over 8 "
                                 "seeds; off on seed 7 0.82)"]
