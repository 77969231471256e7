"""The calibrated reference detector on synthetic frames with known shifts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from grader.detector import ReferenceDetector, holm

NUMERIC = ["amount", "count", "score"]
CATEGORICAL = ["channel", "tier"]


def frame(seed: int, n: int, *, shift_sd: float = 0.0, mix: list[float] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": rng.lognormal(3.0, 1.0, n),
        "count": rng.poisson(4, n).astype(float),
        "score": rng.normal(0.0 + shift_sd, 1.0, n),
        "channel": rng.choice(["email", "chat", "phone", "web"], n, p=mix or [0.4, 0.3, 0.2, 0.1]),
        "tier": rng.choice(["free", "paid"], n),
        "body": ["some text"] * n,
    })


@pytest.fixture(scope="module")
def detector() -> ReferenceDetector:
    return ReferenceDetector(frame(0, 5000), NUMERIC, CATEGORICAL, alpha=0.01, missing_only=["body"])


def test_silent_on_same_distribution(detector: ReferenceDetector) -> None:
    alarms = 0
    for seed in range(1, 101):
        v = detector.check(frame(seed, 500))
        alarms += v.drift or v.quality
    assert alarms <= 3, f"{alarms} false alarms in 100 clean windows"


def test_detects_one_sd_numeric_shift(detector: ReferenceDetector) -> None:
    for seed in range(1, 11):
        v = detector.check(frame(seed, 500, shift_sd=1.0))
        assert v.drift_fields == ["score"]
        assert not v.quality


def test_detects_category_mix_shift(detector: ReferenceDetector) -> None:
    v = detector.check(frame(3, 500, mix=[0.1, 0.2, 0.3, 0.4]))
    assert v.drift_fields == ["channel"]
    assert not v.quality


def test_unseen_category_is_drift_not_quality(detector: ReferenceDetector) -> None:
    w = frame(4, 500)
    w.loc[:99, "channel"] = "fax"
    v = detector.check(w)
    assert v.drift_fields == ["channel"]
    assert v.unseen == {"channel": ["fax"]}
    assert not v.quality


def test_missing_burst_is_quality_not_drift(detector: ReferenceDetector) -> None:
    w = frame(5, 500)
    w.loc[:199, "amount"] = np.nan
    w.loc[:199, "tier"] = None
    v = detector.check(w)
    assert v.quality_fields == ["amount", "tier"]
    assert not v.drift
    missing = {t.field: t for t in v.tests if t.aspect == "missing"}
    assert missing["amount"].flagged and missing["amount"].effect == pytest.approx(0.4)


def test_all_nan_numeric_column_is_quality_only(detector: ReferenceDetector) -> None:
    w = frame(6, 500)
    w["score"] = np.nan
    v = detector.check(w)
    assert v.quality_fields == ["score"] and not v.drift


def test_renamed_column_is_quality(detector: ReferenceDetector) -> None:
    w = frame(6, 500).rename(columns={"channel": "source_channel"})
    v = detector.check(w)
    assert v.quality_fields == ["channel", "source_channel"]
    assert not v.drift
    schema = [t for t in v.tests if t.aspect == "schema"]
    assert {t.field for t in schema} == {"channel", "source_channel"}


def test_unparseable_numbers_are_quality(detector: ReferenceDetector) -> None:
    w = frame(7, 500)
    w["count"] = w["count"].astype(object)
    w.loc[:99, "count"] = "lots"
    v = detector.check(w)
    assert "count" in v.quality_fields


def test_small_effect_is_gated_even_when_significant() -> None:
    # With huge samples a 0.03 sd shift is "significant" but below the W1 gate.
    ref = frame(0, 20000)
    d = ReferenceDetector(ref, NUMERIC, CATEGORICAL)
    v = d.check(frame(1, 20000, shift_sd=0.03))
    score = next(t for t in v.tests if t.field == "score" and t.aspect == "distribution")
    assert score.effect < 0.1 and not score.flagged


def test_holm_step_down() -> None:
    assert holm([0.001, 0.004, 0.03, 0.5], alpha=0.01) == [True, False, False, False]
    assert holm([0.001, 0.0049, 0.5], alpha=0.01) == [True, True, False]
    assert holm([], alpha=0.01) == []


def test_holm_is_applied_across_the_window(detector: ReferenceDetector) -> None:
    # Windows where the shifted column passes alpha alone, clears the effect gate, yet
    # fails alpha / m: Holm must keep them unflagged.
    between = 0
    for seed in range(1, 40):
        v = detector.check(frame(seed, 100, shift_sd=0.4))
        family = [t for t in v.tests if t.aspect in ("distribution", "missing")]
        m = len(family)
        assert m == 2 * (len(NUMERIC) + len(CATEGORICAL)) + 1
        score = next(t for t in family if t.field == "score" and t.aspect == "distribution")
        if 0.01 / m < score.p <= 0.01 and score.effect >= 0.1:
            between += 1
            assert not score.flagged
        if score.p <= 0.01 / m and score.effect >= 0.1:
            assert score.flagged
    assert between >= 3, "the shift should land between alpha/m and alpha in several windows"


def test_reference_must_have_monitored_columns() -> None:
    with pytest.raises(ValueError, match="lacks"):
        ReferenceDetector(frame(0, 100), ["nope"], [])


def test_fast_statistics_match_scipy() -> None:
    from scipy import stats

    from grader.detector import chi2_p, ks_and_w1

    rng = np.random.default_rng(11)
    ref = np.sort(rng.lognormal(3, 1, 3000))
    for shift in (0.0, 0.1, 0.5):
        win = rng.lognormal(3 + shift, 1, 400)
        win[:50] = np.round(win[:50])  # ties
        p, w1 = ks_and_w1(ref, win)
        assert p == pytest.approx(stats.ks_2samp(ref, win, method="asymp").pvalue, rel=1e-6, abs=1e-12)
        assert w1 == pytest.approx(stats.wasserstein_distance(ref, win), rel=1e-9)
    table = np.array([[400.0, 300, 200, 100, 0], [40, 35, 15, 10, 7]])
    expected = stats.chi2_contingency(table[:, :4], correction=False).pvalue
    assert chi2_p(table[:, :4]) == pytest.approx(expected, rel=1e-9)
    assert chi2_p(table) == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9)
    assert chi2_p(np.array([[10.0], [3.0]])) == 1.0
