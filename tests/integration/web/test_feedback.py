"""Candidate feedback: off until the recruiter releases it (with the score only when asked), read from the
candidate's own link, withdrawn again; and a released page that quotes nothing held back — no scenario
or phase name of any exercise, no held-back dataset value, no check's evidence, no seed — for a real
report of every exercise (tests/fixtures/web-reports: their evidence names all of those)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from _held_back import found, held_back, strings
from _reviewdata import fixture_report, graded_invite, post_form
from sqlalchemy import select

from grader.exercise import list_exercises
from harness.store.db import transaction
from harness.store.models import AuditEvent

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")
ROOT = Path(__file__).resolve().parents[3]
REPORTS = ("support-triage-reference", "support-triage-robust-demo", "credit-default-robust-demo",
           "load-forecast-robust-demo")
SEED = 731905  # put into each report: a number no page has by chance


def _held_back_values() -> list[str]:
    """Every string of every exercise's dataset heldout.toml (category names and their values)."""
    out: list[str] = []
    for ex in list_exercises():
        path = ROOT / "datasets" / ex / "heldout.toml"
        if path.is_file():
            cats = tomllib.loads(path.read_text())["categories"]
            out += list(cats) + [s for v in cats.values() for s in strings(v)]
    return sorted({s for s in out if len(s) >= 4})


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_feedback_is_off_until_released_and_then_on_the_candidates_page(client: Any, logged_in: Any, sessions: Any,
                                                                        settings: Any) -> None:
    with transaction(sessions) as s:
        invite, _, link = graded_invite(s, settings, "Ana")
        invite_id = invite.id
    token = link.rsplit("/i/", 1)[1]
    assert client.get(f"/i/{token}/feedback").status_code == 404
    assert 'id="feedback-link"' not in client.get(f"/i/{token}").text
    preview = logged_in.get(f"/invites/{invite_id}/feedback").text
    assert "Not released" in preview and 'id="feedback-shown"' in preview and 'id="feedback-score"' not in preview
    released = post_form(logged_in, f"/invites/{invite_id}/feedback", f"/invites/{invite_id}/feedback",
                         {"release": "true", "show_score": "true"})
    assert released.status_code == 303
    assert 'id="feedback-link"' in client.get(f"/i/{token}").text
    page = client.get(f"/i/{token}/feedback")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    score = fixture_report().score
    assert f"{score:.1f}" in page.text and 'id="feedback-shown"' in page.text
    shown = {c.title for c in fixture_report().checks if c.passed and c.role != "gate"}
    assert all(t in page.text for t in shown)
    withdrawn = post_form(logged_in, f"/invites/{invite_id}/feedback", f"/invites/{invite_id}/feedback",
                          {"release": "false"})
    assert withdrawn.status_code == 303 and client.get(f"/i/{token}/feedback").status_code == 404
    post_form(logged_in, f"/invites/{invite_id}/feedback", f"/invites/{invite_id}/feedback", {"release": "true"})
    assert 'id="feedback-score"' not in client.get(f"/i/{token}/feedback").text  # released without the score
    with sessions() as s:
        actions = [a.action for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("feedback_released") == 2 and actions.count("feedback_withdrawn") == 1


@pytest.mark.parametrize("name", REPORTS)
def test_released_feedback_quotes_nothing_held_back(name: str, client: Any, logged_in: Any, sessions: Any,
                                                    settings: Any) -> None:
    report = fixture_report(name)
    report.seed = SEED
    terms = sorted({t for ex in list_exercises() for t in held_back(ex)})
    evidence = [c.evidence for c in report.checks]
    # the fixture is a fair test: its evidence names held-back scenarios and phases
    assert found(evidence, held_back(report.exercise)), "the fixture's evidence names nothing held back"
    with transaction(sessions) as s:
        invite, _, link = graded_invite(s, settings, "Ana", report=report)
        invite_id = invite.id
    post_form(logged_in, f"/invites/{invite_id}/feedback", f"/invites/{invite_id}/feedback",
              {"release": "true", "show_score": "true"})
    page = client.get(link.removeprefix("http://testserver") + "/feedback")
    assert page.status_code == 200
    html, text = page.text, _text(page.text)
    assert 'id="feedback-missing"' in html or 'id="feedback-shown"' in html
    assert not found([html, text], terms), found([html, text], terms)
    lowered = text.lower()
    assert not [v for v in _held_back_values() if v.lower() in lowered]
    assert str(SEED) not in html and not re.search(r"\bseed\b", text, re.IGNORECASE)
    assert not [e for e in evidence if e and e[:60] in text]  # no check's evidence, even its start
    assert not [r for r in report.reasons if r and r in text]
    # the recruiter's preview is the same words
    assert not found([_text(logged_in.get(f"/invites/{invite_id}/feedback").text)], terms)


def test_a_crashed_grading_tells_the_candidate_in_generic_words(client: Any, logged_in: Any, sessions: Any,
                                                                settings: Any) -> None:
    report = fixture_report("support-triage-robust-demo")
    report.status = "crashed"
    report.reasons = ["the service stopped answering in scenario crm-outage, phase outage, at record 5400"]
    with transaction(sessions) as s:
        invite, _, link = graded_invite(s, settings, "Ana", report=report)
        invite_id = invite.id
    post_form(logged_in, f"/invites/{invite_id}/feedback", f"/invites/{invite_id}/feedback",
              {"release": "true", "show_score": "true"})
    text = _text(client.get(link.removeprefix("http://testserver") + "/feedback").text)
    assert "stopped answering part-way" in text and "5400" not in text and "crm" not in text.lower()
    assert "Score:" not in text  # a grading that did not finish shows no score, whatever was asked
