"""The interview kit of each exercise's shipped solutions, graded in docker at seed 7: the session's shared
gradings (the same reports tests/integration/test_scores_unchanged.py compares), so no grading of its own.

For the reference, accuracy-only and robust-demo solutions of every exercise the kit's questions differ,
each quotes evidence from its own run, nothing held back is quoted, and a kit rebuilt from the run's
transcript is the same bytes.
"""
from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from _gradings import EXERCISE, Gradings
from _held_back import found, held_back, strings
from _session import shared_tmp

EXERCISES = ("support-triage", "credit-default", "load-forecast")
SOLUTIONS = ("reference", "accuracy-only", "robust-demo")
# Two solutions may by chance time the same start-up to a tenth of a second: one identical question
# (the restart question quotes timings only) is not a kit that ignores its run.
SHARED_AT_MOST = 1


@pytest.fixture(scope="module")
def graded(gradings: Gradings) -> dict[tuple[str, str], Any]:
    return {(ex, name): gradings.solution(name, runtime="docker", exercise=ex) for ex in EXERCISES
            for name in SOLUTIONS}


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES)
def test_each_solution_gets_its_own_kit_quoting_its_run(exercise: str, graded: dict) -> None:
    kits = {name: graded[(exercise, name)].interview_kit for name in SOLUTIONS}
    for name, kit in kits.items():
        assert kit is not None, name
        assert 6 <= len(kit.questions) <= 10, (name, [q.id for q in kit.questions])
        assert kit.templates[0] == f"exercises/{exercise}/interview.toml"
        assert set(kit.probes) == {"changing-data", "ambiguity", "monitoring", "design", "scaling-failures"}
        for q in kit.questions:
            assert q.evidence and all(e.value in q.text for e in q.evidence), (name, q.id)
    texts = {name: {q.text for q in kit.questions} for name, kit in kits.items()}
    for a, b in itertools.combinations(SOLUTIONS, 2):
        assert len(texts[a] & texts[b]) <= SHARED_AT_MOST, (a, b, texts[a] & texts[b])
    # the reference is asked about what went right, the demos about what they missed
    ref, demo = ({q.based_on for q in kits[n].questions} for n in ("reference", "robust-demo"))
    assert "drift_alarm_delay passed" in ref and "drift_alarm_delay failed" in demo


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES)
def test_no_kit_quotes_a_held_back_name_or_the_seed(exercise: str, graded: dict) -> None:
    terms = held_back(exercise)
    for name in SOLUTIONS:
        report = graded[(exercise, name)]
        texts = strings(report.interview_kit.model_dump())
        # seed 7 is a digit any text has; the word "seed" is what a quoted seed would come with
        leaks = found(texts, terms) + [s for s in texts if re.search(r"\bseed\b", s, re.I)]
        assert report.seed is not None and not leaks, (name, leaks)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_kit_rebuilt_from_the_transcript_is_the_same_bytes(exercise: str, graded: dict, gradings: Gradings,
                                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    from grader.checks.base import CheckContext
    from grader.report import build_report
    from grader.report.render import render_kit_html, render_kit_markdown
    from grader.scoring import run_checks
    from grader.transcript import Transcript

    plan = gradings.plan_for(exercise)
    rebuilt = 0
    for name in SOLUTIONS:
        report = graded[(exercise, name)]
        # the report folder of whichever process of the session graded it, named as Gradings.solution
        # labels it and Gradings.grade spells it: NN-<label>
        label = (name if exercise == EXERCISE else f"{exercise}/{name}") + " (docker)"
        folder = re.compile(r"\d\d-" + re.escape("".join(c if c.isalnum() else "-" for c in label)))
        paths = sorted(p for p in shared_tmp(tmp_path_factory).glob("**/reports/*/transcript.json")
                       if folder.fullmatch(p.parent.name))
        if not paths:
            continue
        t = Transcript.model_validate_json(paths[0].read_text())
        ctx = CheckContext(exercise=plan.exercise, transcript=t, traffic=plan.traffic, scored=plan.scored,
                           classes=plan.classes, baseline_accuracy=plan.baseline_accuracy,
                           baseline_predictions=plan.baseline_predictions, baseline_name=plan.baseline_name,
                           fields=list(plan.fields), scenarios={s.name: s for s in plan.scenarios}, seed=plan.seed)
        again = build_report(ctx, run_checks(ctx))
        assert again.interview_kit.model_dump_json() == report.interview_kit.model_dump_json(), name
        assert render_kit_markdown(again) == render_kit_markdown(report) and render_kit_html(again) == render_kit_html(report)
        rebuilt += 1
    assert rebuilt, f"no transcript of {exercise}'s gradings was found under the session's folder"
