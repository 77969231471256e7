"""The result that counts: a later broken upload never hides an earlier good result; the recruiter picks
which grading counts (every attempt listed); the candidate is told in one line why an upload was not graded."""
from __future__ import annotations

from typing import Any

import pytest
from _webdata import add_graded_job, add_upload, csrf_of, make_report, new_invite

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")
NO_DOCKERFILE = "no Dockerfile at the top of the submission"


@pytest.fixture
def two_uploads(sessions: Any, settings: Any) -> dict[str, Any]:
    from harness.store.db import transaction
    from harness.store.models import JobState

    good = make_report({"validation": 99.8, "monitoring": 99.8, "degradation": 99.8, "operations": 99.8,
                        "accuracy": 99.8})
    broken = make_report({}, status="build_failed")
    with transaction(sessions) as s:
        invite, link = new_invite(s, "Grace Hopper")
        invite.show_score = True
        first = add_graded_job(s, settings, invite, add_upload(s, settings, invite, filename="mine.zip"), good)
        second = add_graded_job(s, settings, invite, add_upload(s, settings, invite, filename="readme.zip"), broken,
                                reason=f"{NO_DOCKERFILE}; candidate not verified: .exercise.json is missing",
                                state=JobState.graded)
        return {"invite": invite.id, "link": link, "first": first.id, "second": second.id, "score": good.score}


def test_a_broken_second_upload_leaves_the_good_result_counting(two_uploads: dict[str, Any], logged_in: Any,
                                                                api: Any, client: Any) -> None:
    w = two_uploads
    index = logged_in.get("/").text
    assert f"{w['score']:.1f}" in index and "latest upload: build_failed" in index
    listed = api.get("/api/v1/invites").json()[0]
    assert (listed["counted_job"], listed["score"], listed["status"]) == (w["first"], w["score"], "graded")
    cohort = api.get("/api/v1/cohort/support-triage").json()["rows"]
    assert [(r["job_id"], r["score"]) for r in cohort] == [(w["first"], w["score"])]
    page = logged_in.get(f"/invites/{w['invite']}").text
    assert page.count("counted-mark") == 1 and "count this one" in page and "readme.zip" in page
    # the candidate: the score that counts, and one line on why the latest upload was not graded
    from fastapi.testclient import TestClient

    with TestClient(logged_in.app) as candidate:
        mine = candidate.get(w["link"].removeprefix("http://testserver")).text
    assert f"Score: <strong>{w['score']:.1f}</strong>" in mine
    assert f"Your latest upload was not graded: {NO_DOCKERFILE}</p>" in mine and "not verified" not in mine


def test_the_recruiter_picks_which_grading_counts(two_uploads: dict[str, Any], logged_in: Any, api: Any) -> None:
    w = two_uploads
    token = csrf_of(logged_in.get(f"/invites/{w['invite']}").text)
    assert logged_in.post(f"/invites/{w['invite']}/count", data={"csrf_token": token,
                                                                  "job_id": w["second"]}).status_code == 303
    listed = api.get(f"/api/v1/invites/{w['invite']}").json()
    assert (listed["counted_job"], listed["status"]) == (w["second"], "build_failed")
    assert api.post(f"/api/v1/invites/{w['invite']}/count", json={"job_id": 999}).status_code == 400
    back = api.post(f"/api/v1/invites/{w['invite']}/count", json={"job_id": None})
    assert back.status_code == 200 and back.json()["counted_job"] == w["first"]
    kinds = [e["kind"] for e in api.get(f"/api/v1/invites/{w['invite']}").json()["timeline"]]
    assert kinds.count("counted") == 2


def test_a_lost_link_is_reissued_and_the_old_one_stops_working(two_uploads: dict[str, Any], logged_in: Any,
                                                               api: Any, sessions: Any) -> None:
    import re

    from fastapi.testclient import TestClient

    w = two_uploads
    old = w["link"].removeprefix("http://testserver")
    token = csrf_of(logged_in.get(f"/invites/{w['invite']}").text)
    assert logged_in.post(f"/invites/{w['invite']}/disable", data={"csrf_token": token}).status_code == 303
    page = logged_in.post(f"/invites/{w['invite']}/reissue", data={"csrf_token": token})
    assert page.status_code == 200 and 'id="reissued-note"' in page.text
    new = re.search(r'id="invite-link" class="invite-link" value="([^"]+)"', page.text).group(1)
    assert new.startswith("http://testserver/i/") and new.removeprefix("http://testserver") != old
    with TestClient(logged_in.app) as candidate:
        assert candidate.get(old).status_code == 404  # the old link is simply unknown now
        fresh = candidate.get(new.removeprefix("http://testserver"))
        assert fresh.status_code == 200 and "Grace Hopper" in fresh.text  # and enabled again
    again = api.post(f"/api/v1/invites/{w['invite']}/reissue")
    assert again.status_code == 201 or again.status_code == 200
    assert again.json()["link"] != new and again.json()["disabled_at"] is None
    kinds = [e["kind"] for e in api.get(f"/api/v1/invites/{w['invite']}").json()["timeline"]]
    assert kinds.count("reissued") == 2


def test_a_disabled_link_tells_the_candidate_what_to_do(two_uploads: dict[str, Any], logged_in: Any) -> None:
    from fastapi.testclient import TestClient

    w = two_uploads
    token = csrf_of(logged_in.get(f"/invites/{w['invite']}").text)
    logged_in.post(f"/invites/{w['invite']}/disable", data={"csrf_token": token})
    with TestClient(logged_in.app) as candidate:
        page = candidate.get(w["link"].removeprefix("http://testserver"))
    assert page.status_code == 410 and "can send you a new one" in page.text and "try again" not in page.text


def test_a_small_cohort_plot_labels_every_candidate_and_a_large_one_draws_boxes(logged_in: Any) -> None:
    import datetime as dt

    from harness.web.cohort import SMALL_COHORT, CohortRow, cohort_figure

    def row(i: int) -> CohortRow:
        return CohortRow(invite_id=i, candidate_name=f"Cand{i}", candidate_id=f"c{i}", email=None, job_id=i,
                         status="graded", score=50.0, dimensions={"validation": 10.0 * (i % 10), "accuracy": 90.0},
                         reason="", graded_at=dt.datetime(2026, 1, 1))

    small = cohort_figure([row(1), row(2)], "support-triage").axes[0]
    labels = sorted(t.get_text() for t in small.texts)
    assert labels == ["Cand1", "Cand1", "Cand2", "Cand2"] and not small.lines[2:]  # no box plot's whiskers
    large = cohort_figure([row(i) for i in range(SMALL_COHORT + 5)], "support-triage").axes[0]
    assert not large.texts and len(large.lines) > 5  # boxes (whiskers, caps, medians), no names
    png = logged_in.get("/cohort/support-triage.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
