"""The public self-check shows every habit that counts, says what its phases do, and leaks nothing.

For each exercise: every check the held-back set weighs (every check of exercise.toml: the
planner refuses a held-back set that cannot measure one, harness.planning.plan_grading) has
what it needs in the public scenario, judged the way the planner and the bundle judge it
(grader.checks.base.provided / unmet on the public scenario's calibrated expectations and
its generated traffic); every phase the public scenario asks to be scored passes calibration;
the scenario's description walks through its phases in order and names only what they move;
and nothing held back appears in the public file.

The public phases' expectations come from the exercise's calibration, as `shiftwork package` reads
them (cached in .cache/calibration; the first run on a fresh checkout simulates it once).
"""
from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path

import pytest

from grader.checks import provided, unmet
from grader.exercise import DIMENSIONS, load_exercise
from grader.scenario import Scenario
from harness import selfcheck

EXERCISES = ["support-triage", "credit-default", "load-forecast"]
PUBLIC_SEED = 11  # any seed: a candidate's public traffic comes from their own


@lru_cache(maxsize=None)
def _public(exercise: str):
    """(exercise, public scenario, its traffic at PUBLIC_SEED, its calibrated expectations)."""
    from harness.data.engine import generate_scenario, load_recipe

    ex = load_exercise(exercise)
    scenario = ex.public()
    traffic = generate_scenario(load_recipe(ex.dataset), scenario, seed=PUBLIC_SEED)
    return ex, scenario, traffic, selfcheck.public_expectations(ex, scenario)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_public_scenario_measures_every_check_the_held_back_set_weighs(exercise: str) -> None:
    ex, scenario, traffic, expectations = _public(exercise)
    weighed = [c.id for c in ex.checks]
    have = provided(selfcheck._scored_from(scenario.name, expectations), {traffic.scenario: traffic}, [scenario])
    missing = unmet(weighed, have)
    assert not missing, f"{exercise}: the public self-check cannot measure " + "; ".join(
        f"{c} (needs {', '.join(sorted(n))})" for c, n in missing.items())
    # what the bundle ships: selfcheck/exercise.json lists every one of them
    assert [c.id for c in selfcheck.public_checks(ex, scenario, traffic, expectations)] == weighed
    # in_distribution_accuracy needs only labels, but its probe replays clean records of an unshifted
    # phase that calibration confirms drift-silent (grader.grade._probe_batches): without one it is not
    # measured although the bundle lists it
    shifted = {p.name: bool(p.shifts) for p in scenario.phases}
    assert [e.phase for e in expectations if e.drift == "silent" and not shifted[e.phase]], (
        f"{exercise}: no unshifted public phase passes calibration as drift-silent")


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_scored_public_phase_passes_calibration(exercise: str) -> None:
    """Each expectation the public scenario asks for is confirmed by calibration (on every calibration seed):
    nothing it asks to score is silently dropped, and the bundle carries every one of them."""
    from harness.calibration_store import cached_report

    ex, scenario, _, expectations = _public(exercise)
    report = cached_report(ex)
    assert [f for f in report.failures() if f.startswith(f"{scenario.name}/")] == []
    shipped = {e.phase: e for e in expectations}
    for phase in (p for p in scenario.phases if p.kind == "traffic"):
        for aspect in ("drift", "quality", "performance"):
            asked = getattr(phase.expect, aspect)
            got = getattr(shipped[phase.name], aspect)
            assert got == (None if asked == "unscored" else asked), (phase.name, aspect)
        if phase.expect.slices == "detect":
            assert "detect" in shipped[phase.name].slices.values(), phase.name
        elif phase.expect.slices == "silent":
            assert shipped[phase.name].slices and set(shipped[phase.name].slices.values()) == {"silent"}


def test_slice_and_attribution_truth_travel_with_the_bundle() -> None:
    """selfcheck/exercise.json round-trips per-group expectations and a drift onset's measured fields
    into the Scored the checks read, as the grader's plan carries them."""
    exp = [selfcheck.PhaseExpectation(phase="stable", drift="silent", slices={"sex=female": "silent",
                                                                              "sex=male": "silent"}),
           selfcheck.PhaseExpectation(phase="drop", performance="detect", slices={"sex=female": "detect",
                                                                                  "sex=male": "silent"}),
           selfcheck.PhaseExpectation(phase="mix", drift="detect", moved=["education"], unclear=["credit_limit"],
                                      field_rates={"education": 1.0, "credit_limit": 0.12})]
    back = [selfcheck.PhaseExpectation.model_validate_json(e.model_dump_json()) for e in exp]
    scored = selfcheck._scored_from("self-check", back)
    assert scored.slices == {("self-check", "stable", "sex", "female"): "silent",
                             ("self-check", "stable", "sex", "male"): "silent",
                             ("self-check", "drop", "sex", "female"): "detect",
                             ("self-check", "drop", "sex", "male"): "silent"}
    assert "slice_onset" in provided(scored, {}, [])
    truth = scored.attribution[("self-check", "mix")]
    assert truth.moved == {"education"} and truth.unclear == {"credit_limit"}
    assert truth.rates == (("education", 1.0), ("credit_limit", 0.12)) and list(scored.attribution) == [
        ("self-check", "mix")]


# -- the description says what each phase does ------------------------------------------------

# Words one of which a phase's part of the description must use, by shift kind.
KIND_WORDS = {
    "covariate": ("mix", "share"),
    "new_category": ("never seen",),
    "missing_burst": ("empty", "missing"),
    "unit_change": ("unit", "MWh", "kW", "cents", "instead of"),
    "concept_drift": ("default", "handled by", "outcomes", "labelled"),
    "rename_field": ("renamed", "now sent as"),
    "label_prior": ("share of", "more often"),
}


def _anchors(phase) -> tuple[set[str], list[str]]:
    """(fields and values the phase's words must name, kind words of which each shift needs one)."""
    if phase.kind != "traffic":
        return {phase.kind}, []
    if not phase.shifts:
        return ({"mess"} if phase.mess > 1 else {"stable"}), []
    names: set[str] = set()
    kinds: list[str] = []
    for s in phase.shifts:
        kinds.append(s.kind)
        d = s.model_dump()
        # a concept drift is told by what outcomes become (and for whom), not what they were
        names |= {d[k] for k in ("field", "value", "to_label", "to") if isinstance(d.get(k), str)}
        names |= set(d.get("fields") or [])
        names |= {f"{k}" for k in (d.get("where") or {})} | {str(v) for v in (d.get("where") or {}).values()}
    return names, kinds


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text))


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_public_description_walks_through_its_phases_in_order(exercise: str) -> None:
    from harness.data.engine import load_recipe

    ex = load_exercise(exercise)
    scenario: Scenario = ex.public()
    head, sep, body = scenario.description.partition("in order:")
    assert sep, f"{exercise}: the description lists its phases after 'in order:' ({scenario.description!r})"
    parts = [p.strip() for p in body.strip().rstrip(".").split(";")]
    assert len(parts) == len(scenario.phases), (
        f"{exercise}: {len(parts)} parts of the description for {len(scenario.phases)} phases: {parts}")
    recipe = load_recipe(ex.dataset)
    fields = {f.name for f in recipe.fields}
    values = {f.name: {str(v) for v in f.categories if len(str(v)) > 3} for f in recipe.categorical()}
    for phase, text in zip(scenario.phases, parts):
        names, kinds = _anchors(phase)
        words = _words(text)
        lower = text.lower()
        assert all(n in words or n.lower() in lower for n in names), (phase.name, names, text)
        for kind in kinds:
            assert kind in KIND_WORDS, f"say which words describe a {kind} shift in KIND_WORDS"
            assert any(w.lower() in lower for w in KIND_WORDS[kind]), (phase.name, kind, text)
        # it names no field the phase leaves alone, and no value of one (e.g. a site or a tier)
        assert not (words & fields) - names, (phase.name, sorted((words & fields) - names), text)
        others = set().union(*(v for f, v in values.items() if f not in names)) - names
        assert not words & others, (phase.name, sorted(words & others), text)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_public_file_names_nothing_held_back(exercise: str) -> None:
    ex = load_exercise(exercise)
    text = (ex.root / ex.public_scenario).read_text()
    for name in ex.scenarios:
        held = tomllib.loads((ex.root / "scenarios" / name).read_text())
        stem = name.removesuffix(".toml")
        if stem not in DIMENSIONS:
            assert not re.search(rf"\b{re.escape(stem)}\b", text), (exercise, stem)
            assert not re.search(rf"\b{re.escape(held['name'])}\b", text), (exercise, held["name"])
        assert f"seed_offset = {held.get('seed_offset')}\n" not in text, (exercise, name)
    heldout = Path(ex.root.parent.parent / "datasets" / ex.dataset / "heldout.toml")
    if heldout.is_file():
        for value in tomllib.loads(heldout.read_text()).get("categories", {}):
            assert value not in text, (exercise, value)
