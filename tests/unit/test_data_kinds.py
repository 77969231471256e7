"""Data-kind plug-ins: support-triage's bytes did not move, the wire id is `id` for every recipe."""
from __future__ import annotations

import hashlib
import json

import pytest

from harness.data.engine import generate_scenario, generate_training, load_recipe, reference_clean, sample_clean
from harness.data.kinds import kind_for
from harness.data.recipe import Recipe
from grader.exercise import load_exercise

# Computed from the code BEFORE the data-kind plug-ins existed (seed 7): the text kind must
# keep producing exactly these bytes, so support-triage's grades and bundles do not move.
SUPPORT_TRIAGE_SHA256 = {
    "training_csv": "1aa56213f705efd1cd68d594f677b15aee8986c3e42382fe3189db5a713bdb3b",
    "training_truths": "436855ef6ba48cf39d8bd3c3cf1b28185299749ccd050088e0bf03af2a6d7f86",
    "training_clean": "b3b6f1972d8e51f61d5eb4ba3fe079140f6bd6d6ed04dc672226effb08dd6de2",
    "scenario:stable-messy": "58081dcd869122ff7553267b43cd23e4449243839c59ae42b59ddc4c1bdf34d0",
    "scenario:product-launch": "454e94c624c06501da4744aa5fa416a450f66d756d49fb21865a1b6e6ddb75f7",
    "scenario:channel-mix": "fc1104ed0ffdcac685a073a461eddb9b20c194b9d61adbdc4a30ecd561b45892",
    "scenario:unit-change": "5bfe8e164d04e5f020b7cbee68a910b60be2f7c1ca0e90cdd104d56f5bb40464",
    "scenario:outage": "d0b72b4996bfe79cd4f47411c35927033cc194e0ad05e639f343312f33d8819d",
    "scenario:renamed-field": "17ac51fda6f892a7c0dbff8f562e7caf4247896f2f6c465519d924e2c1cfea2f",
    "scenario:policy-change": "870233f6c75d57bbb405676c2a035e3cadb69c2645936ee12cf0ac31e5ad1fa6",
    "scenario:operations": "386a27a0bee3422aed6c65629056b625c1fe90f8204f3d3df85da902fe9e373f",
    "scenario:self-check": "f00c0180c7d623ba8849e2073b3b02dc4f2e0a5b107e1d8c9cf576f979982e2e",
    "reference_clean": "32214277d13aed2866f53cbf5d3a8b8d61e301413fe71f9a859278d64c8c54ca",
    "sample_clean": "098d0363c47e2254f680123a54572430a5c929b8f64c20b78cfe73830f44a5a5",
    "baseline_predictions": "588ac8c441a23ab499bd10a579ad095855cc15d36a8425a9efe0d29a84a1ae0b",
}


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_support_triage_bytes_and_baseline_predictions_unchanged():
    from harness.baseline import Baselines

    r, ex = load_recipe("support-triage"), load_exercise("support-triage")
    got = {}
    td = generate_training(r, 7)
    got["training_csv"] = _h(td.csv_text())
    got["training_truths"] = _h(json.dumps([t.model_dump() for t in td.truths]))
    got["training_clean"] = _h(td.clean.to_csv(index=False))
    for s in ex.held_back_scenarios() + [ex.public()]:
        # (the phase expectations gained an optional `slices` since the hashes were taken: left out)
        got["scenario:" + s.name] = _h(generate_scenario(r, s, 7).model_dump_json(
            exclude={"phases": {"__all__": {"truth": {"expect": {"slices"}}}}}))
    got["reference_clean"] = _h(reference_clean(r, 7, n=2000).to_csv(index=False))
    s = ex.held_back_scenarios()[1]
    got["sample_clean"] = _h(sample_clean(r, s, s.phases[1].name, 500, 3).to_csv(index=False))
    # the text plug-in's spec gives the plain model it always was
    for spec in (kind_for(r).baseline_spec(r),):
        bl = Baselines.fit(td.frame, "queue", spec)
        traffic = {s.name: generate_scenario(r, s, 7) for s in ex.held_back_scenarios()[:2]}
        got["baseline_predictions"] = _h(json.dumps(bl.predictions(traffic), sort_keys=True))
        assert got == SUPPORT_TRIAGE_SHA256


@pytest.mark.parametrize("dataset", ["tiny-sensors", "credit-default", "support-triage"])
def test_wire_id_is_id(dataset):
    r = load_recipe(dataset)
    assert r.id_field == "id"
    td = generate_training(r, 1) if dataset != "support-triage" else None
    if td is not None:
        assert td.frame.columns[0] == "id"
    sc = load_exercise(dataset).public() if dataset != "tiny-sensors" else _tiny_scenario()
    tr = generate_scenario(r, sc, 1)
    for p in tr.phases:
        for rec, t in zip(p.records, p.truths):
            assert rec["id"] == t.id


def _tiny_scenario():
    from grader.scenario import Scenario

    return Scenario.model_validate({"name": "t", "phases": [{"name": "a", "records": 200}]})


def test_a_recipe_whose_id_is_not_id_is_refused():
    raw = load_recipe("tiny-sensors").model_dump(exclude={"root"})
    raw["fields"][0]["name"] = "reading_id"
    with pytest.raises(ValueError, match="wire id is always"):
        Recipe.model_validate(raw)


def test_kinds_are_chosen_by_the_recipe():
    assert kind_for(load_recipe("support-triage")).name == "text"
    assert kind_for(load_recipe("tiny-sensors")).name == "text"
    assert kind_for(load_recipe("credit-default")).name == "tabular"
    assert kind_for(load_recipe("credit-default")).baseline_spec(load_recipe("credit-default")).kind == "tabular"
