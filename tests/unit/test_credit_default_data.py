"""credit-default: the real table keeps its structure, the mess and shifts do what they say."""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from harness.baseline import Baselines
from harness.data.engine import generate_scenario, generate_training, load_recipe, sample_clean
from harness.data.kinds import kind_for
from harness.data.sampler import world_for
from harness.data.table import LABEL, age_at, pool
from grader.exercise import load_exercise
from grader.scenario import ConceptDrift, UnitChange


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("credit-default")


@pytest.fixture(scope="module")
def train(recipe):
    return generate_training(recipe, 7)


@pytest.fixture(scope="module")
def scenarios():
    return {s.name: s for s in load_exercise("credit-default").held_back_scenarios()}


def _rate(train, code: str) -> float:
    return sum(any(i.code == code for i in t.injections) for t in train.truths) / len(train.truths)


def test_table_keeps_the_real_default_rate_per_group(recipe, train):
    source = pd.concat([pool(recipe, "train"), pool(recipe, "heldout")])
    assert len(source) == 30000  # every UCI row, split once into two pools
    clean = train.clean
    for field in ("education", "sex", "marital_status"):
        real = source.groupby(field)[LABEL].apply(lambda s: (s == "default").mean())
        ours = clean.groupby(field)["outcome"].apply(lambda s: (s == "default").mean())
        counts = clean[field].value_counts()
        for value, rate in real.items():
            if counts.get(value, 0) >= 500:
                assert abs(ours[value] - rate) < 0.03, (field, value, ours[value], rate)
    # P(y|x) for the strongest predictor stays real too: two months late defaults far more often
    late = clean["repayment_status"] >= 2
    assert (clean.loc[late, "outcome"] == "default").mean() > 0.6 > 0.2 > (clean.loc[~late, "outcome"] == "default").mean() - 0.0


def test_pools_are_disjoint_and_fixed(recipe):
    a, b = pool(recipe, "train"), pool(recipe, "heldout")
    assert 0.3 < len(b) / (len(a) + len(b)) < 0.37


def test_dates_of_birth_give_the_real_ages(recipe, train):
    ages = age_at(train.clean["date_of_birth"], train.clean["applied_at"])
    assert ages.min() >= 20 and ages.max() < 81  # UCI ages are 21..79
    assert abs(ages.mean() - 36.0) < 1.0


def test_wire_formats_and_mess_rates(recipe, train):
    frame = train.frame
    assert list(frame.columns)[0] == "id" and frame["id"].is_unique
    assert frame["date_of_birth"].dropna().map(lambda s: isinstance(s, str)).all()
    spec = recipe.mess
    for code, rate in (("date_format", spec.date_format), ("undocumented_code", spec.undocumented_code),
                       ("monthly_amount", spec.monthly_amount), ("numeric_string", spec.numeric_string),
                       ("missing", spec.missing), ("category_variant", spec.category_variant)):
        assert 0.6 * rate < _rate(train, code) < 1.3 * rate, code
    values = [v for c in ("credit_limit", "annual_income", "bill_amount") for v in frame[c] if isinstance(v, str)]
    assert any(re.fullmatch(r"NT\$ [\d,]+", v) for v in values)
    assert any(re.fullmatch(r"-?\d{1,3}(\.\d{3})+,00", v) for v in values)  # 52.000,00
    assert any(v.endswith("/month") or "per month" in v or "monthly" in v for v in frame["annual_income"] if isinstance(v, str))
    assert set(frame["education"].dropna()) & {"0", "5", "6"}
    dups = [t for t in train.truths if t.duplicate_of]
    assert 0.005 < len(dups) / len(train.truths) < 0.03


def test_impossible_ages_are_invalid(recipe, train):
    bad = [t for t in train.truths if any(i.field == "date_of_birth" and i.code == "out_of_range" for i in t.injections)]
    assert bad and all(t.kind == "invalid" for t in bad)
    by_id = dict(zip(train.frame["id"], train.frame["date_of_birth"]))
    when = dict(zip(train.frame["id"], train.frame["applied_at"]))
    for t in bad[:50]:
        born = datetime.strptime(by_id[t.id], "%Y-%m-%d")
        at = datetime.strptime(str(when[t.id])[:10], "%Y-%m-%d") if re.match(r"\d{4}-", str(when[t.id])) else datetime(2025, 7, 1)
        age = (at - born).days / 365.2425
        assert age < 18 or age > 100


def _twin_samples(recipe, shift):
    """The same draws with and without one shift (same seed): what the shift alone changes."""
    kind = kind_for(recipe)
    t0, t1 = recipe.end, recipe.end + pd.Timedelta(days=30)
    plain = kind.sample(recipe, world_for(recipe, []), 4000, np.random.default_rng(5), t0, t1, pool="heldout")
    moved = kind.sample(recipe, world_for(recipe, [shift]), 4000, np.random.default_rng(5), t0, t1, pool="heldout")
    return plain.frame, moved.frame


def test_unit_change_sends_income_per_month(recipe):
    plain, moved = _twin_samples(recipe, UnitChange(kind="unit_change", field="annual_income", factor=1 / 12))
    ratio = moved["annual_income"] / plain["annual_income"]
    # exactly a twelfth, to the dollar (an int field is rounded after the unit change)
    assert np.array_equal(moved["annual_income"], np.rint(plain["annual_income"] / 12))
    assert ratio.median() == pytest.approx(1 / 12, rel=0.05)
    assert (moved["credit_limit"] == plain["credit_limit"]).all()


def test_group_drift_changes_only_that_groups_default_rate(recipe):
    plain, moved = _twin_samples(recipe, ConceptDrift(kind="concept_drift", from_label="no_default",
                                                      to_label="default", share=0.3, where={"sex": "male"}))
    women = plain["sex"] == "female"
    assert (plain.loc[women, "outcome"] == moved.loc[women, "outcome"]).all()
    rate = lambda f, m: (f.loc[m, "outcome"] == "default").mean()  # noqa: E731
    assert rate(moved, ~women) - rate(plain, ~women) > 0.15
    assert (plain.drop(columns="outcome").equals(moved.drop(columns="outcome")))


def test_scenarios_generate_deterministically_with_wire_id(recipe, scenarios):
    sc = scenarios["new-employment"]
    a = generate_scenario(recipe, sc, 3)
    assert a.model_dump_json() == generate_scenario(recipe, sc, 3).model_dump_json()
    assert a.model_dump_json() != generate_scenario(recipe, sc, 4).model_dump_json()
    recs = [r for p in a.phases for r in p.records]
    truths = [t for p in a.phases for t in p.truths]
    assert all(r["id"] == t.id for r, t in zip(recs, truths))
    launch = a.phases[1]
    share = sum(r.get("employment_type") == "gig_worker" for r in launch.records) / len(launch.records)
    assert 0.2 < share < 0.4
    assert Counter(t.kind for t in launch.truths)["unfamiliar"] > 200


def test_income_monthly_phase_is_a_twelfth(recipe, scenarios):
    sc = scenarios["income-monthly"]
    stable = sample_clean(recipe, sc, "stable", 3000, 1)["annual_income"].median()
    monthly = sample_clean(recipe, sc, "monthly", 3000, 1)["annual_income"].median()
    assert monthly / stable == pytest.approx(1 / 12, rel=0.1)


def test_tabular_baseline_beats_the_majority(recipe, train):
    bl = Baselines.fit(train.frame, "outcome", kind_for(recipe).baseline_spec(recipe))
    assert bl.majority == "no_default"
    held = sample_clean(recipe, load_exercise("credit-default").public(), "stable", 3000, 2)
    preds = np.array(bl.predict(held.drop(columns="outcome").to_dict("records")))
    acc = (preds == held["outcome"].to_numpy()).mean()
    majority = (held["outcome"] == "no_default").mean()
    assert acc > majority + 0.005
    # messy wire records never break it
    assert len(bl.predict(train.frame.drop(columns="outcome").head(200).to_dict("records"))) == 200


def test_dictionary_states_source_and_hides_heldout(recipe):
    from harness.data.kinds import data_dictionary

    text = data_dictionary(recipe)
    assert "CC BY 4.0" in text and "Yeh" in text and "`sex`" in text
    assert "gig" not in text
    assert "ticket" not in text.lower()


def test_data_command_same_seed_same_bytes(tmp_path):
    from harness.datacmd import write_data

    console = Console(file=open("/dev/null", "w"))
    for name in ("a", "b"):
        write_data("credit-default", seed=7, out=tmp_path / name, candidate=None, heldout=False, console=console)
    for f in ("train.csv", "data_dictionary.md"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
