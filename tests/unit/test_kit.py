"""The interview kit: templates validated at load, filled from a run's evidence, 6-10 questions, the same
bytes for the same run, and nothing held back quoted (hand-made runs; tests/integration/test_interview_kit.py
holds the shipped solutions' kits)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import _builders as b
import pytest
from _held_back import found, held_back, strings

from grader.contract import Issue, Result
from grader.errors import ConfigError
from grader.exercise import list_exercises
from grader.report import build_report, write_reports
from grader.report.kit import DEFAULT_TEMPLATES, MAX_QUESTIONS, MIN_QUESTIONS, TEMPLATE_FILE, build_kit
from grader.report.kit_quote import PLACEHOLDERS
from grader.report.kit_templates import PLACEHOLDER, load_templates
from grader.report.render import render_kit_html, render_kit_markdown
from grader.scoring import run_checks

ROOT = Path(__file__).resolve().parents[2]
SEED = 48213  # long enough that finding it in a kit means it was quoted
PROBES = {"changing-data", "ambiguity", "monitoring", "design", "scaling-failures"}
SHIPPED = ("support-triage", "credit-default", "load-forecast")


def leaks(kit: Any, terms: list[str], seed: int) -> list[str]:
    texts = strings(kit.model_dump())
    return found(texts, terms) + [s for s in texts if re.search(rf"\b{seed}\b|\bseed\b", s, re.I)]


def run(answer=b.sound_answer, monitor=None, seed: int = SEED, **sim: Any):
    """The shape of builders.standard, named like support-triage's held-back scenarios and phases, so a
    kit that quoted them would be caught."""
    launch, s1 = b.traffic("product-launch", [
        b.PhaseSpec("stable", 1500, kinds=["clean"] * 7 + ["recoverable", "invalid", "clean"], drift="silent",
                    quality="silent", performance="silent"),
        b.PhaseSpec("launch", 1500, kinds=["clean", "unfamiliar", "clean", "recoverable"], shifts=["new_category"],
                    drift_fields=["product"], drift="detect"),
    ])
    crm, s2 = b.traffic("outage", [
        b.PhaseSpec("stable", 1000, kinds=["clean"], drift="silent", quality="silent"),
        b.PhaseSpec("crm-outage", 1000, kinds=["recoverable", "clean"], shifts=["missing_burst"],
                    quality_fields=["order_value"], quality="detect"),
    ])
    policy, s3 = b.traffic("policy-change", [
        b.PhaseSpec("stable", 1000, kinds=["clean"], performance="silent"),
        b.PhaseSpec("refunds-to-billing", 1500, kinds=["clean"], shifts=["concept_drift"], performance="detect"),
    ])
    scored = b.merge(s1, s2, s3)
    traffics = [launch, crm, policy]
    runs = [b.simulate(tr, scored, answer, monitor or b.oracle_monitor(), **sim) for tr in traffics]
    base = b.standard()
    t = base.transcript
    ctx = b.context(traffics, runs, scored, baseline=(0.2, 0.7), predictions={"plain_model": b.plain_predictions(traffics)},
                    startup_s=t.startup_s, peak_memory_mb=t.peak_memory_mb, probes=t.probes, load=t.load, restart=t.restart)
    ctx.seed = seed
    return ctx


def kit_of(ctx):
    return build_kit(ctx, run_checks(ctx))


SERVICES = {
    "sound": lambda: run(),
    "no-habits": lambda: run(answer=b.serve_all_ok, monitor=b.never_on),
    "crashing": lambda: run(answer=b.serve_all_ok, monitor=b.no_monitoring, fail_batches={1, 2, 3, 12, 20}),
}


# -- templates ---------------------------------------------------------------------------------

def test_the_shipped_templates_load() -> None:
    assert load_templates(DEFAULT_TEMPLATES).questions
    for exercise in SHIPPED:
        assert (ROOT / "exercises" / exercise / TEMPLATE_FILE).is_file(), exercise
    # an exercise without its own file (one `exercise new` just wrote) is served the default set
    for exercise in list_exercises(ROOT):
        if (ROOT / "exercises" / exercise / TEMPLATE_FILE).is_file():
            assert load_templates(ROOT / "exercises" / exercise / TEMPLATE_FILE).questions


@pytest.mark.parametrize("exercise", SHIPPED)
def test_shipped_templates_name_nothing_held_back(exercise: str) -> None:
    terms = held_back(exercise)
    for path in (ROOT / "exercises" / exercise / TEMPLATE_FILE, DEFAULT_TEMPLATES):
        for t in load_templates(path).questions:
            texts = [t.title, t.question, *t.anchors.model_dump().values(), t.follow_up.ask, t.follow_up.strong]
            assert not found(texts, terms), (path.name, t.id)


GOOD = '''
[[questions]]
id = "latency"
title = "Latency"
probes = ["scaling-failures"]
when = { check = "latency_p95", result = "measured" }
question = "Your p95 was {p95_ms} ms against {p95_budget_ms} ms."
[questions.anchors]
weak = "w"
fair = "f"
good = "g"
strong = "s"
[questions.follow_up]
constraint = "p95-halved"
ask = "Now {p95_budget_half_ms} ms?"
strong = "profile"
'''


@pytest.mark.parametrize("change, where, says", [
    (("{p95_ms} ms against", "{p95_msec} ms against"), "questions.0.question", "unknown placeholder {p95_msec}"),
    (("Your p95 was {p95_ms} ms", "The budget is"), "questions.0.question", "must quote this run's evidence"),
    (('probes = ["scaling-failures"]', 'probes = ["scaling"]'), "questions.0.probes.0", "Input should be"),
    (('check = "latency_p95"', 'check = "latency_p99"'), "questions.0.when", "unknown check 'latency_p99'"),
    (('when = { check = "latency_p95", result = "measured" }', 'when = "sometimes"'), "questions.0.when", "always"),
    (('constraint = "p95-halved"', 'constraint = "p95-quartered"'), "questions.0.follow_up.constraint", "Input should be"),
    (('weak = "w"', 'weak = "w"\nweakest = "x"'), "questions.0.anchors.weakest", "Extra inputs are not permitted"),
    (('fair = "f"', 'fair = ""'), "questions.0.anchors.fair", "at least 1 character"),
    (('ask = "Now {p95_budget_half_ms} ms?"', 'ask = "Now {half} ms?"'), "questions.0.follow_up.ask",
     "unknown placeholder {half}"),
])
def test_a_bad_template_fails_with_one_line_naming_file_and_field(tmp_path: Path, change, where, says) -> None:
    path = tmp_path / TEMPLATE_FILE
    assert change[0] in GOOD
    path.write_text(GOOD.replace(change[0], change[1]))
    with pytest.raises(ConfigError) as err:
        load_templates(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: {where}: ") and says in msg, msg


def test_bad_toml_and_repeated_ids_fail_at_load(tmp_path: Path) -> None:
    path = tmp_path / TEMPLATE_FILE
    path.write_text(GOOD + GOOD)
    with pytest.raises(ConfigError, match="question id 'latency' is used twice"):
        load_templates(path)
    path.write_text("[[questions]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_templates(path)
    path.write_text(GOOD)
    assert [t.id for t in load_templates(path).questions] == ["latency"]


def test_a_broken_exercise_file_fails_the_report_not_silently(tmp_path: Path) -> None:
    ctx = run()
    (tmp_path / TEMPLATE_FILE).write_text(GOOD.replace("{p95_ms}", "{p95}"))
    ctx.exercise = ctx.exercise.model_copy(update={"root": tmp_path})
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / TEMPLATE_FILE}: questions.0.question")):
        kit_of(ctx)


def test_the_docs_list_every_placeholder() -> None:
    docs = (ROOT / "docs" / "interview.md").read_text()
    assert not [n for n in PLACEHOLDERS if f"`{{{n}}}`" not in docs]


# -- kits ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
def test_a_kit_has_6_to_10_filled_questions_each_quoting_the_run(service: str) -> None:
    kit = kit_of(SERVICES[service]())
    assert kit is not None and MIN_QUESTIONS <= len(kit.questions) <= MAX_QUESTIONS
    assert kit.templates == [f"exercises/support-triage/{TEMPLATE_FILE}"]
    assert set(kit.probes) == PROBES
    for q in kit.questions:
        for text in (q.text, q.follow_up.ask, q.follow_up.strong, *(a.text for a in q.anchors)):
            assert not PLACEHOLDER.search(text), (q.id, text)
        assert q.evidence and all(e.value in q.text for e in q.evidence), q.id
        assert [a.score for a in q.anchors] == [1, 2, 3, 4] and q.probes and q.follow_up.strong


def test_kits_differ_with_what_the_service_did() -> None:
    kits = {name: kit_of(make()) for name, make in SERVICES.items()}
    texts = {name: {q.text for q in kit.questions} for name, kit in kits.items()}
    assert len({frozenset(t) for t in texts.values()}) == len(SERVICES)
    ids = {name: [q.id for q in kit.questions] for name, kit in kits.items()}
    assert "drift-caught" in ids["sound"] and "drift-missed" in ids["no-habits"]
    assert "broken-batches" in ids["crashing"] and "broken-batches" not in ids["sound"]
    sound = {q.id: q for q in kits["sound"].questions}
    assert 'product = "hover-board"' in sound["unfamiliar-caught"].text  # the record the service received
    assert 'status "fallback"' in sound["unfamiliar-caught"].text  # and what it answered


def test_the_same_run_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = run(), run()  # built twice from scratch: no shared cache, no dict-order luck
    a, b2 = build_report(first, run_checks(first)), build_report(second, run_checks(second))
    assert a.interview_kit is not None
    assert a.interview_kit.model_dump_json() == b2.interview_kit.model_dump_json()
    assert render_kit_markdown(a) == render_kit_markdown(b2) and render_kit_html(a) == render_kit_html(b2)
    assert kit_of(first).model_dump_json() == a.interview_kit.model_dump_json()


def naming_answer(rec: dict, t: Any) -> Result:
    """A sound service whose own words happen to be held-back names: its quotes must be left out."""
    base = b.sound_answer(rec, t)
    return base.model_copy(update={"issues": [Issue(field="product", code="product-launch")] + base.issues})


def naming_monitor(seen: int, ph: Any, scored: Any) -> Any:
    v = b.oracle_monitor()(seen, ph, scored)
    v.drift.features = v.drift.features + ["crm-outage"] if v.drift.detected else []
    return v


@pytest.mark.parametrize("service", [*SERVICES, "naming"])
def test_a_kit_quotes_no_held_back_name_nor_the_seed(service: str) -> None:
    ctx = run(answer=naming_answer, monitor=naming_monitor) if service == "naming" else SERVICES[service]()
    kit = kit_of(ctx)
    assert kit is not None and len(kit.questions) >= MIN_QUESTIONS
    terms = held_back(ctx.exercise.id)
    assert {"product-launch", "launch", "crm-outage", "refunds to billing"} <= set(terms)
    assert leaks(kit, terms, SEED) == []


def test_a_short_seed_is_no_word_to_hide_but_a_long_one_is() -> None:
    from grader.report.kit import cleaner

    assert cleaner([], 7)("7 of 12 batches broke")
    assert not cleaner([], SEED)(f"answered {SEED} records")
    assert not cleaner(["crm-outage", "crm outage"], None)("the CRM Outage began")
    assert cleaner(["launch"], None)("after the relaunched form")


def test_without_an_interview_file_the_default_templates_serve(tmp_path: Path) -> None:
    ctx = run()
    ctx.exercise = ctx.exercise.model_copy(update={"root": tmp_path})
    kit = kit_of(ctx)
    assert kit.templates == ["default"] and MIN_QUESTIONS <= len(kit.questions) <= MAX_QUESTIONS


def test_a_service_that_never_ran_gets_a_kit_about_why(tmp_path: Path) -> None:
    base = run()
    ctx = b.context(list(base.traffic.values()), [], base.scored, status="build_failed",
                    reasons=["pip install failed: no matching distribution for torch==9"])
    kit = kit_of(ctx)
    assert kit.templates == ["default"]  # the exercise's questions all need evidence from a run
    assert len(kit.questions) == MIN_QUESTIONS and set(kit.probes) == PROBES
    assert all("build_failed" in q.text for q in kit.questions)
    assert "no matching distribution for torch==9" in kit.questions[0].text


def test_the_public_self_check_report_has_no_kit() -> None:
    ctx = run()
    ctx.scenarios = {k: s.model_copy(update={"public": True}) for k, s in ctx.scenarios.items()}
    assert kit_of(ctx) is None and build_report(ctx, run_checks(ctx)).interview_kit is None


def test_the_kit_is_written_beside_the_report_and_in_it(tmp_path: Path) -> None:
    ctx = run()
    report = build_report(ctx, run_checks(ctx))
    paths = write_reports(report, ctx, tmp_path)
    kit = report.interview_kit
    md, html = paths["md"].read_text(), paths["html"].read_text()
    kit_md, kit_html = paths["kit_md"].read_text(), paths["kit_html"].read_text()
    assert paths["kit_md"] == tmp_path / "kit.md" and paths["kit_html"] == tmp_path / "kit.html"
    first = kit.questions[0]
    assert "## Interview kit" in md and f"### 1. {first.title}" in md and f"## 1. {first.title}" in kit_md
    for q in kit.questions:
        assert q.follow_up.strong in kit_md and q.anchors[3].text in kit_md
    assert 'id="interview-kit"' in html and "@media print" in kit_html and "Score: 1" in kit_html
    for page in (html, kit_html):
        assert "<script" not in page and "http://" not in page and "https://" not in page and "<link" not in page
    # quotes are escaped in HTML (a candidate's own strings can hold markup)
    assert "&#34;" in kit_html or "&quot;" in kit_html
    # report.json carries it, additively
    again = type(report).model_validate_json(paths["json"].read_text())
    assert again.interview_kit == kit and again.report_version == 1
