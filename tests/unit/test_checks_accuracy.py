"""In-distribution accuracy and the naive baselines it is anchored on."""
from __future__ import annotations

import _builders as b
import pandas as pd
import pytest

from grader.checks.base import REGISTRY
from harness.baseline import Baselines, BaselineSpec, record_text


def run(ctx):
    return REGISTRY["in_distribution_accuracy"]().run(ctx)


def test_in_distribution_accuracy_passes_for_a_right_service():
    r = run(b.standard())
    assert r.score == 1.0 and r.metrics["accuracy"] == 1.0
    assert "1.000" in r.evidence and "min(0.85, plain model)" in r.evidence


def test_in_distribution_accuracy_at_majority_scores_zero():
    r = run(b.standard(answer=b.majority_answer))  # hand-made labels are near-uniform: majority ~0.2
    assert r.score < 0.1 and not r.passed and r.debrief and r.failures


def test_anchor_is_capped_at_085():
    tr, scored = b.traffic("s", [b.PhaseSpec("stable", 1000, drift="silent")])
    # right on 80% of records (the rest rejected); plain model 0.95 -> anchor 0.85
    ans = lambda rec, t: b.oracle_answer(rec, t) if t.index % 5 else b.reject_all(rec, t)  # noqa: E731
    ctx = b.context([tr], [b.simulate(tr, scored, answer=ans)], scored, baseline=(0.2, 0.95))
    r = run(ctx)
    acc = r.metrics["accuracy"]
    assert acc == pytest.approx(0.8)
    assert r.score == pytest.approx((acc - 0.2) / (0.85 - 0.2))


def test_only_scored_stable_phases_count():
    tr, scored = b.traffic("s", [b.PhaseSpec("stable", 500, drift="silent"),
                                 b.PhaseSpec("moved", 500, shifts=["covariate"], drift="detect")])
    ans = lambda rec, t: b.oracle_answer(rec, t) if t.phase == "stable" else b.majority_answer(rec, t)  # noqa: E731
    r = run(b.context([tr], [b.simulate(tr, scored, answer=ans)], scored, baseline=(0.2, 0.7)))
    assert r.metrics["accuracy"] == 1.0


def _frame(n: int = 600) -> pd.DataFrame:
    rows = []
    for i in range(n):
        label = b.CLASSES[i % 5]
        rows.append({"id": f"t{i}", "subject": f"help {b.WORDS[label].split()[0]}",
                     "body": f"my {b.WORDS[label]} issue {i % 7}" if i % 50 else None, "queue": label})
    return pd.DataFrame(rows)


def test_baselines_fit_predict_and_per_phase_accuracy():
    frame = _frame()
    frame.loc[frame.index[:200], "queue"] = "billing"  # make billing the majority
    frame.loc[frame.index[300], "queue"] = None  # unlabelled rows are dropped
    bl = Baselines.fit(frame, "queue", BaselineSpec(inputs="text", target="classification", text=["subject", "body"]))
    assert bl.majority == "billing" and bl.train_rows == 599 and set(bl.classes) == set(b.CLASSES)
    tr, _ = b.traffic("s", [b.PhaseSpec("p1", 300, kinds=["clean", "invalid", "recoverable"]),
                            b.PhaseSpec("p2", 200)])
    preds = bl.predictions(tr)
    assert set(preds) == {"majority", "plain_model"} and len(preds["plain_model"]) == 500
    plain = bl.accuracy_per_phase(tr)
    maj = bl.accuracy_per_phase({"s": tr}, model="majority")
    assert set(plain) == {("s", "p1"), ("s", "p2")}
    assert plain[("s", "p2")] > 0.9 and maj[("s", "p2")] == pytest.approx(0.2)
    with pytest.raises(ValueError):
        bl.accuracy_per_phase(tr, model="oracle")


def test_record_text_ignores_non_strings():
    assert record_text({"subject": 5, "body": ["x"]}, ["subject", "body"]) == ""
    assert record_text({"subject": "a", "body": "b"}, ["subject", "body"]) == "a b"


def test_anchors_closer_than_the_noise_are_spread_apart_instead_of_stepping():
    """On a table whose rare class is rare the constant and the plain model tie (0.944 and 0.944): one
    record more or less right must not swing the check from 0 to 1 (a reference scored 1, 1, 0 on
    three seeds of the same traffic), nor may a constant answer earn anything."""
    from grader.target.base import anchored

    assert anchored(0.944, 0.944, 0.944) == 0.0  # the constant answer itself: nothing, as with any span
    assert anchored(0.943, 0.944, 0.944) == 0.0 and anchored(0.945, 0.944, 0.944) == pytest.approx(0.1)
    assert anchored(0.949, 0.944, 0.946) == pytest.approx(0.5) and anchored(0.954, 0.944, 0.946) == 1.0
    assert anchored(0.95, 0.9, 0.95) == 1.0 and anchored(0.925, 0.9, 0.95) == pytest.approx(0.5)  # wide: as before
