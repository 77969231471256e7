"""From grade to decision in a real browser (Debian's Chromium, driven by Playwright), on SQLite, against
the app served by uvicorn on 127.0.0.1 (no grading: the invite is graded with a real report.json that
carries an interview kit, tests/fixtures/web-reports):

the recruiter turns blind review on for the team and assigns two interviewers -> each reads the kit under
a pseudonym and fills a scorecard, blind to the candidate's name and to the other's scorecard until their
own is submitted -> the decision page shows both scorecards, the spread per question and the grade -> the
recruiter records a decision with a reason, which the audit log shows. Screenshots of every step are
kept in test-artifacts/browser-reviews/.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from _candidate_env import Server
from _reviewdata import PASSWORD, fixture_report, graded_invite, make_interviewer

from harness.store.db import transaction

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real Chromium and a served app: tens of seconds

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "browser-reviews"
NAME = "Ana Lucia Pereira"
NAME_PARTS = re.compile(r"\b(ana|lucia|pereira)\b", re.IGNORECASE)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _need_browser() -> None:
    miss = pytest.fail if os.environ.get("SHIFTWORK_REQUIRE_BROWSER") == "1" else pytest.skip
    if not Path(CHROMIUM).exists():
        miss(f"no Chromium at {CHROMIUM} (Debian package chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        miss("playwright is not installed (pip install -e '.[test]')")


def _login(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("#login-email", email)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")


def _visible_text(page: Any) -> str:
    return str(page.inner_text("body"))


def _fill_scorecard(page: Any, scores: dict[str, int], recommendation: str, note: str) -> None:
    for qid, score in scores.items():
        page.check(f"#score-{qid}-{score}")
        page.fill(f"#notes-{qid}", f"{note} on {qid}")
    page.select_option("#recommendation", recommendation)
    page.fill("#summary", note)


def test_two_interviewers_score_blind_and_the_recruiter_decides(app: Any, sessions: Any, settings: Any,
                                                                admin_account: Any) -> None:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with transaction(sessions) as s:
        invite, job, _ = graded_invite(s, settings, NAME)
        for who in ("ivy", "jon"):
            make_interviewer(s, f"{who}@example.com", name=who.title())
        invite_id, candidate_id = invite.id, invite.candidate_id
    report = fixture_report()
    assert report.interview_kit is not None
    qids = [q.id for q in report.interview_kit.questions]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots: list[str] = []

    def shot(page: Any, name: str) -> None:
        path = ARTIFACTS / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path.name)

    def blind(page: Any) -> None:
        text, html = _visible_text(page), page.content()
        assert not NAME_PARTS.search(text) and NAME not in html and candidate_id not in html, page.url
        assert "ana.pereira" not in html and "ana-pereira-final" not in html

    with Server(app) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            recruiter = browser.new_context(base_url=server.url).new_page()
            _login(recruiter, admin_account.email)
            recruiter.wait_for_selector("#nav-teams")
            recruiter.click("#nav-teams")
            recruiter.click(".team-row[data-team='Default'] .blind-toggle")
            assert recruiter.get_attribute(".team-row[data-team='Default'] .blind-state", "data-blind") == "on"
            shot(recruiter, "teams-blind-review-on")
            recruiter.goto(f"/invites/{invite_id}")
            for who in ("ivy", "jon"):
                recruiter.select_option("#assign-interviewer-id", label=f"{who.title()} ({who}@example.com)")
                recruiter.click("#assign-interviewer-submit")
                recruiter.wait_for_selector(f".interviewer-row[data-email='{who}@example.com']")
            shot(recruiter, "invite-interviewers-assigned")

            ivy = browser.new_context(base_url=server.url).new_page()
            jon = browser.new_context(base_url=server.url).new_page()
            for page, who in ((ivy, "ivy"), (jon, "jon")):
                _login(page, f"{who}@example.com")
                page.wait_for_selector("#reviews")  # an interviewer lands on their reviews
                blind(page)
                alias = page.inner_text(f"#review-row-{invite_id} .candidate").strip()
                assert re.fullmatch(r"Candidate [0-9A-F]{4}", alias), alias
                page.click(f"#review-row-{invite_id} .review-link")
                page.wait_for_selector("#scorecard-form")
                assert page.inner_text("#review-candidate").startswith(alias)  # the same pseudonym on both pages
                blind(page)
            shot(ivy, "ivy-kit-blind")

            # Ivy drafts: Jon sees nothing of it; Ivy sees nothing of anyone's until she submits
            _fill_scorecard(ivy, {q: 3 for q in qids}, "yes", "Ivy draft")
            ivy.click("#save-draft")
            ivy.wait_for_selector("#scorecard-status[data-status='draft']")
            assert ivy.locator("#others-hidden").count() == 1
            blind(ivy)
            jon.reload()
            assert "Ivy draft" not in jon.content() and jon.locator("#others-hidden").count() == 1
            ivy.click("#submit-scorecard")
            ivy.wait_for_selector("#scorecard-status[data-status='submitted']")
            assert NAME in _visible_text(ivy)  # submitted: no longer blind
            assert ivy.locator("#no-others").count() == 1
            shot(ivy, "ivy-submitted")
            jon.reload()
            blind(jon)
            assert "Ivy draft" not in jon.content() and jon.locator(".scorecard").count() == 0
            shot(jon, "jon-blind-before-submitting")
            _fill_scorecard(jon, {q: (1 if i == 0 else 3) for i, q in enumerate(qids)}, "no", "Jon verdict")
            jon.click("#submit-scorecard")
            jon.wait_for_selector("#scorecard-status[data-status='submitted']")
            assert jon.locator(".scorecard[data-interviewer='ivy@example.com']").count() == 1  # both visible now
            ivy.reload()
            assert ivy.locator(".scorecard[data-interviewer='jon@example.com']").count() == 1
            shot(jon, "jon-submitted-sees-ivy")

            recruiter.goto(f"/invites/{invite_id}")
            assert recruiter.locator("#interviewers .status").all_inner_texts() == ["submitted", "submitted"]
            recruiter.click("#decision-link")
            recruiter.wait_for_selector("#decision-form")
            assert float(recruiter.inner_text("#decision-score")) == pytest.approx(report.score, abs=0.05)
            assert recruiter.locator("#scorecards .scorecard").count() == 2
            assert recruiter.get_attribute(f".spread-row[data-question='{qids[0]}']", "data-range") == "2"
            assert recruiter.get_attribute(f".spread-row[data-question='{qids[1]}']", "data-range") == "0"
            assert recruiter.inner_text("#recommendation-tally td[data-recommendation='yes']") == "1"
            assert recruiter.inner_text("#recommendation-tally td[data-recommendation='no']") == "1"
            shot(recruiter, "decision-page")
            recruiter.select_option("#decision-outcome", "hold")
            recruiter.fill("#decision-reason", "Split on the drift question: one more conversation on monitoring")
            recruiter.click("#decision-submit")
            recruiter.wait_for_selector("#current-decision")
            assert "Split on the drift question" in recruiter.inner_text("#current-reason")
            shot(recruiter, "decision-recorded")
            recruiter.click("#nav-admin")
            row = recruiter.locator("#audit-log tr.audit-row[data-action='decision_recorded']")
            assert row.count() == 1 and "Split on the drift question" in row.inner_text()
            shot(recruiter, "audit-log")
        finally:
            browser.close()
    assert len(shots) == 9
    print(f"\nscreenshots in {ARTIFACTS}: {', '.join(shots)}")
