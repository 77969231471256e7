"""The data engine: determinism, ground truth that matches the records, phase truth, shifts."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from harness.data.kinds import data_dictionary
from harness.data.engine import (
    generate_scenario, generate_training, load_recipe, reference_clean, sample_clean,
)
from grader.errors import ConfigError, UsageError
from grader.exercise import load_exercise
from grader.scenario import Scenario
from tests.unit.test_data_mess import parse_number, parse_time, repair_text

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("support-triage")


@pytest.fixture(scope="module")
def exercise():
    return load_exercise("support-triage")


@pytest.fixture(scope="module")
def scenarios(exercise):
    return {s.name: s for s in exercise.held_back_scenarios()}


@pytest.fixture(scope="module")
def traffic(recipe, scenarios):
    return {name: generate_scenario(recipe, s, 11) for name, s in scenarios.items()}


def test_same_seed_same_bytes_and_seeds_differ(recipe, scenarios):
    a, b = generate_training(recipe, 3), generate_training(recipe, 3)
    assert a.csv_text() == b.csv_text()
    assert generate_training(recipe, 4).csv_text() != a.csv_text()
    sc = scenarios["product-launch"]
    j1 = generate_scenario(recipe, sc, 3).model_dump_json()
    assert j1 == generate_scenario(recipe, sc, 3).model_dump_json()
    assert j1 != generate_scenario(recipe, sc, 4).model_dump_json()


def test_training_shape_and_mild_drift(recipe):
    td = generate_training(recipe, 7)
    assert list(td.frame.columns) == recipe.columns and len(td.frame) == 12000
    ts = td.clean["created_at"]
    assert (ts.max() - ts.min()).days >= 90
    chat = td.clean["channel"].eq("chat").groupby(ts.dt.month).mean()
    assert 0.01 < chat.iloc[-1] - chat.iloc[0] < 0.08  # chat rises a few points, not more
    noise = sum(any(i.code == "label_noise" for i in t.injections) for t in td.truths) / len(td.truths)
    assert 0.015 < noise < 0.045
    flipped = [t for t in td.truths if any(i.code == "label_noise" for i in t.injections)]
    wire = dict(zip(td.frame["id"], td.frame["queue"]))
    assert all(wire[t.id] != t.label for t in flipped)


def _violates_a_rule(recipe, rec) -> bool:
    required = recipe.text.required_any
    if all(not (isinstance(rec.get(f), str) and rec[f].strip()) and not _non_string(rec.get(f)) for f in required):
        return True
    if any(_non_string(rec.get(f.name)) for f in recipe.text_fields()):
        return True
    for f in recipe.numeric():
        v = rec.get(f.name)
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        try:
            x = parse_number(v)
        except ValueError:
            return True
        if not f.valid[0] <= x <= f.valid[1]:
            return True
    return False


def _non_string(v) -> bool:
    return v is not None and not isinstance(v, str)


def _is_clean(recipe, rec) -> bool:
    if set(rec) != set(recipe.field_names):
        return False
    for f in recipe.fields:
        v = rec[f.name]
        if f.kind == "timestamp" and not (isinstance(v, str) and ISO.fullmatch(v)):
            return False
        if f.kind == "categorical" and v not in f.categories:
            return False
        if f.kind == "numeric" and not (isinstance(v, (int, float)) and not isinstance(v, bool)
                                        and f.valid[0] <= v <= f.valid[1]):
            return False
        if f.kind == "text" and not (isinstance(v, str) and v.strip() and repair_text(v) == v):
            return False
    return True


def _repair(recipe, rec) -> dict:
    out = {}
    for f in recipe.fields:
        v = rec.get(f.name)
        if v is None or (isinstance(v, str) and not v.strip()):
            out[f.name] = None
        elif f.kind == "numeric":
            out[f.name] = parse_number(v)
        elif f.kind == "categorical":
            out[f.name] = v.strip().lower()
        elif f.kind == "timestamp":
            out[f.name] = parse_time(v)
        elif f.kind == "text":
            out[f.name] = repair_text(v)
        else:
            out[f.name] = v
    return out


def test_record_kinds_match_the_records(recipe, traffic):
    seen = Counter()
    for st in traffic.values():
        for phase in st.phases:
            for rec, t in zip(phase.records, phase.truths):
                assert rec[recipe.id_field] == t.id
                seen[t.kind] += 1
                if t.kind == "invalid":
                    assert _violates_a_rule(recipe, rec), (rec, t)
                elif t.kind == "clean":
                    assert _is_clean(recipe, rec), (rec, t)
                else:
                    assert not _violates_a_rule(recipe, rec), (rec, t)
                    fixed = _repair(recipe, rec)
                    missing = {i.field for i in t.injections if i.code == "missing"}
                    assert {k for k, v in fixed.items() if v is None} <= missing
                    for f in recipe.categorical():
                        if fixed[f.name] is not None and fixed[f.name] not in f.categories:
                            assert t.kind == "unfamiliar"
                    if t.kind == "recoverable":
                        assert not _is_clean(recipe, rec)
    assert set(seen) == {"clean", "recoverable", "invalid", "unfamiliar"}


def test_mess_rates_in_normal_traffic(traffic):
    kinds = Counter(t.kind for st in traffic.values() for p in st.phases if p.truth.name == "stable" for t in p.truths)
    n = sum(kinds.values())
    assert 0.025 <= kinds["invalid"] / n <= 0.05
    assert 0.15 <= kinds["recoverable"] / n <= 0.25
    dups = [t for st in traffic.values() for p in st.phases for t in p.truths if t.duplicate_of]
    assert dups
    ids = {t.id: t for st in traffic.values() for p in st.phases for t in p.truths}
    recs = {r["id"]: r for st in traffic.values() for p in st.phases for r in p.records}
    for d in dups[:50]:
        a, b = dict(recs[d.id]), dict(recs[d.duplicate_of])
        a.pop("id"), b.pop("id")
        assert a == b and ids[d.duplicate_of].label == d.label


def test_phase_truth(traffic, recipe):
    for st in traffic.values():
        stable = st.phases[0].truth
        assert stable.onset_time is None and stable.expect.drift == "silent" and stable.start == 0
        for a, b in zip(st.phases, st.phases[1:]):
            assert a.truth.end == b.truth.start
    launch = traffic["product-launch"].phases[1]
    assert launch.truth.drift_fields == ["product"] and launch.truth.expect.drift == "detect"
    new = [t for t in launch.truths if any(i.code == "new_category" for i in t.injections)]
    assert 0.2 < len(new) / len(launch.truths) < 0.4
    assert all(t.kind in ("unfamiliar", "invalid") for t in new)
    outage = traffic["outage"].phases[1].truth
    assert set(outage.quality_fields) == {"account_age_days", "prior_tickets", "customer_tier"}
    renamed = traffic["renamed-field"].phases[1]
    assert set(renamed.truth.quality_fields) == {"order_value", "order_amount"}
    assert not any("order_value" in r for r in renamed.records)
    assert sum("order_amount" in r for r in renamed.records) > 0.9 * len(renamed.records)
    policy = traffic["policy-change"].phases[1]
    assert policy.truth.expect.performance == "detect" and policy.truth.expect.drift == "silent"
    moved = [t for t in policy.truths if t.original_label]
    assert moved and all(t.original_label == "refunds" and t.label == "billing" for t in moved)
    assert not any(t.label == "refunds" for t in policy.truths)
    cents = traffic["unit-change"].phases[1]
    assert cents.truth.drift_fields == ["order_value"]
    ops = traffic["operations"]
    assert [p.truth.kind for p in ops.phases] == ["traffic", "load", "restart"]
    train_end = recipe.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    for st in traffic.values():
        for p in st.phases:
            if not p.truth.shifts:
                assert p.truth.onset_time is None
                continue
            stamps = [r["created_at"] for r in p.records if isinstance(r.get("created_at"), str)
                      and ISO.fullmatch(r["created_at"])]
            # the onset is the phase's first record: no record of the phase is earlier
            assert train_end <= p.truth.onset_time <= min(stamps)


def test_sample_clean_applies_shifts(recipe, scenarios):
    ref = reference_clean(recipe, 1, n=2000)
    assert len(ref) == 2000 and ref.notna().all().all()
    cents = sample_clean(recipe, scenarios["unit-change"], "cents", 1000, 1)
    assert cents["order_value"].median() > 50 * ref["order_value"].median()
    out = sample_clean(recipe, scenarios["outage"], "crm-outage", 1000, 1)
    assert 0.5 < out["account_age_days"].isna().mean() < 0.7 and out["channel"].notna().all()
    ren = sample_clean(recipe, scenarios["renamed-field"], "renamed", 100, 1)
    assert "order_amount" in ren.columns and "order_value" not in ren.columns
    stable = sample_clean(recipe, scenarios["channel-mix"], "stable", 500, 2)
    assert stable["created_at"].min() >= recipe.end
    shifted = sample_clean(recipe, scenarios["channel-mix"], "chat-shift", 2000, 2)
    assert 0.5 < shifted["channel"].eq("chat").mean() < 0.7
    with pytest.raises(ConfigError):
        sample_clean(recipe, scenarios["outage"], "nope", 10, 1)


def test_public_self_check_uses_nothing_held_back(recipe, exercise, scenarios):
    public = exercise.public()
    assert public.public and public.seed_offset not in {s.seed_offset for s in scenarios.values()}
    held = {s.model_dump_json() for sc in scenarios.values() for p in sc.phases for s in p.shifts}
    assert not any(s.model_dump_json() in held for p in public.phases for s in p.shifts)
    st = generate_scenario(recipe, public, 11)
    words = {w for cat in recipe.heldout_categories.values() for lab in cat.labels.values() for w in lab.body}
    for rec in (r for p in st.phases for r in p.records):
        assert str(rec.get("product", "")).strip().lower() not in recipe.heldout_categories
        assert not any(w in str(rec.get("body")) for w in words)


def test_data_dictionary_hides_held_back_material(recipe, scenarios):
    text = data_dictionary(recipe)
    for field in recipe.field_names + recipe.classes:
        assert field in text
    assert "20,000" in text and "50,000" in text
    for secret in list(recipe.heldout_categories) + list(scenarios) + ["cents", "order_amount"]:
        assert secret not in text


def test_bad_recipes_and_shifts_fail_cleanly(recipe):
    with pytest.raises(UsageError):
        load_recipe("no-such-dataset")
    bad = Scenario.model_validate({"name": "x", "phases": [
        {"name": "a", "records": 10, "shifts": [{"kind": "unit_change", "field": "nope", "factor": 2}]}]})
    with pytest.raises(ConfigError):
        generate_scenario(recipe, bad, 1)
    unknown = Scenario.model_validate({"name": "x", "phases": [
        {"name": "a", "records": 10, "shifts": [{"kind": "new_category", "field": "product", "value": "zz", "share": .5}]}]})
    with pytest.raises(ConfigError):
        generate_scenario(recipe, unknown, 1)


def test_second_recipe_uses_the_same_engine():
    r = load_recipe("tiny-sensors")
    td = generate_training(r, 2)
    assert list(td.frame.columns) == ["id", "reading_at", "site", "sensor_type", "temperature_c",
                                      "humidity_pct", "note", "status"]
    assert set(td.frame["status"]) == {"ok", "fault"}
    sc = Scenario.model_validate({"name": "t", "phases": [
        {"name": "a", "records": 300},
        {"name": "b", "records": 300, "shifts": [
            {"kind": "new_category", "field": "site", "value": "west", "share": 0.3},
            {"kind": "rename_field", "field": "humidity_pct", "to": "humidity"},
            {"kind": "label_prior", "prior": {"ok": 0.5, "fault": 0.5}}]}]})
    st = generate_scenario(r, sc, 2)
    b = st.phases[1]
    assert {t.kind for t in b.truths} >= {"unfamiliar"}
    assert "sensor_type" in b.truth.drift_fields and "site" in b.truth.drift_fields
    assert not any("humidity_pct" in rec for rec in b.records)
    labels = Counter(t.label for t in b.truths)
    assert labels["fault"] > 0.35 * len(b.truths)
    assert np.isfinite(sample_clean(r, sc, "b", 100, 1)["temperature_c"]).all()
