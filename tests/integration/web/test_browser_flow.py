"""The whole path in a real browser (Debian's Chromium, driven by Playwright), on SQLite:

admin logs in -> creates an invite -> the candidate opens the link, downloads the bundle
(and `git clone`s it) -> uploads solutions/reference (with their bundle's data) as a zip ->
the embedded worker of a real `shiftwork serve` grades it in docker -> the recruiter sees
the score and opens the report page. Screenshots of every page are kept in
test-artifacts/browser/ (the folder is printed; CI keeps it as an artefact).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Iterator

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "browser"
EMAIL, PASSWORD = "admin@example.com", "a long enough password"
GRADING_WAIT_S = 900


def _need_browser() -> None:
    miss = pytest.fail if os.environ.get("SHIFTWORK_REQUIRE_BROWSER") == "1" else pytest.skip
    if not Path(CHROMIUM).exists():
        miss(f"no Chromium at {CHROMIUM} (Debian package chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        miss("playwright is not installed (pip install -e '.[test]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> Iterator[str]:
    _need_browser()
    data = tmp_path_factory.mktemp("serve-data")
    env = {k: v for k, v in os.environ.items() if k not in ("SHIFTWORK_DATABASE_URL", "SHIFTWORK_BROKER_URL")}
    env["SHIFTWORK_ADMIN_PASSWORD"] = PASSWORD  # SQLite in the data folder, the embedded broker
    cli = [str(Path(sys.executable).parent / "shiftwork")]
    subprocess.run([*cli, "admin", "create-user", EMAIL, "--name", "Admin", "--data", str(data)],
                   env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    log = open(data / "serve.log", "wb")
    proc = subprocess.Popen([*cli, "serve", "--port", str(port), "--data", str(data)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail("shiftwork serve exited: " + (data / "serve.log").read_text()[-2000:])
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()
        (ARTIFACTS / "serve.log").parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data / "serve.log", ARTIFACTS / "serve.log")


@pytest.fixture(scope="module")
def docker_engine() -> None:
    from harness.runtime.docker_engine import docker_available

    if not docker_available():
        (pytest.fail if os.environ.get("SHIFTWORK_REQUIRE_DOCKER") == "1" else pytest.skip)("no Docker engine answers")


def _submission(bundle_repo: Path, dest: Path) -> Path:
    """solutions/reference with the candidate's own bundle data and .exercise.json, zipped."""
    from harness.solutions import materialize_solution

    folder = materialize_solution("support-triage", "reference", dest / "work", seed=7)
    shutil.copy(bundle_repo / "data" / "train.csv", folder / "data" / "train.csv")
    shutil.copy(bundle_repo / ".exercise.json", folder / ".exercise.json")
    archive = dest / "submission.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return archive


def test_recruiter_invites_candidate_uploads_and_reads_the_report(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots: list[str] = []

    def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
        path = ARTIFACTS / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path.name)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"])
        try:
            recruiter = browser.new_context(base_url=server).new_page()
            recruiter.goto("/login")
            shot(recruiter, "login")
            recruiter.fill("#login-email", EMAIL)
            recruiter.fill("#login-password", PASSWORD)
            recruiter.click("#login-submit")
            recruiter.wait_for_selector("#create-invite")
            shot(recruiter, "invites-empty")

            recruiter.fill("#invite-name", "Ana Lucia")
            recruiter.fill("#invite-email", "ana@example.com")
            recruiter.select_option("#invite-exercise", "support-triage")
            recruiter.fill("#invite-deadline", time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 86400)))
            recruiter.check("#invite-show-score")
            recruiter.click("#create-invite-submit")
            link_el = recruiter.wait_for_selector("#invite-link")
            link = (link_el.get_attribute("value") or link_el.inner_text()).strip()
            assert link.startswith(server + "/i/"), link
            shot(recruiter, "invite-created")

            # The candidate: a separate browser context, only the link.
            candidate = browser.new_context(accept_downloads=True).new_page()
            candidate.goto(link)
            candidate.wait_for_selector("#download")
            shot(candidate, "candidate-page")
            with candidate.expect_download(timeout=180_000) as dl:
                candidate.click("#download")
            bundle_zip = tmp_path / "bundle.zip"
            dl.value.save_as(bundle_zip)
            with zipfile.ZipFile(bundle_zip) as zf:
                names = zf.namelist()
            assert any(n.endswith("data/train.csv") for n in names), names[:20]

            clone = tmp_path / "clone"
            git = subprocess.run(["git", "clone", "--quiet", link + ".git", str(clone)], capture_output=True,
                                 text=True, timeout=180, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
            assert git.returncode == 0, git.stderr
            assert (clone / "data" / "train.csv").is_file() and (clone / ".exercise.json").is_file()

            archive = _submission(clone, tmp_path)
            candidate.goto(link)
            candidate.set_input_files("#file", str(archive))
            candidate.click("#upload-form button[type=submit]")
            candidate.wait_for_selector("#received")
            shot(candidate, "candidate-uploaded")

            # The recruiter waits for the embedded worker's docker grading.
            recruiter.goto("/")
            row = recruiter.locator("tr.invite-row").first
            detail = row.locator("a.invite-detail").get_attribute("href")
            deadline = time.monotonic() + GRADING_WAIT_S
            state = ""
            while time.monotonic() < deadline:
                recruiter.goto(detail or "/")
                state = recruiter.get_attribute("#invite-state", "data-state") or ""
                if state in ("graded", "failed"):
                    break
                time.sleep(5)
            shot(recruiter, "invite-detail")
            assert state == "graded", f"the grading ended {state or 'never'}; see {ARTIFACTS}/serve.log"
            score_text = recruiter.locator("#jobs .score").first.inner_text().strip()
            assert float(score_text.split()[0]) >= 85, score_text

            recruiter.click("#jobs a.report-link")
            recruiter.wait_for_selector("#report-summary")
            assert float(recruiter.inner_text("#report-score").split()[0]) >= 85
            assert recruiter.locator("#habits-shown li").count() > 0
            # above the fold: the verdict and the chart against the exercise's own solutions
            viewport = recruiter.viewport_size or {"height": 720}
            for selector in ("#verdict", "#report-dimensions"):
                box = recruiter.locator(selector).bounding_box()
                assert box is not None and box["y"] < viewport["height"], (selector, box)
            assert recruiter.locator("#report-dimensions .tick").count() == 15
            figures = recruiter.locator("#report-figures img")
            assert figures.count() >= 1
            assert recruiter.evaluate("() => [...document.querySelectorAll('#report-figures img')]"
                                      ".every(i => i.complete && i.naturalWidth > 0)")  # the CSP lets them show
            assert recruiter.locator("iframe").count() == 0
            shot(recruiter, "report-summary")
            figures.first.scroll_into_view_if_needed()
            shot(recruiter, "report-figures")

            candidate.goto(link)
            assert "graded" in candidate.inner_text("#state")
            assert candidate.locator("#score").count() == 1  # the recruiter chose to show it
            shot(candidate, "candidate-graded")

            # A second upload with no Dockerfile: the candidate reads why in one line, the good result stays.
            readme_only = tmp_path / "readme-only.zip"
            with zipfile.ZipFile(readme_only, "w") as zf:
                zf.writestr("README.md", "# out of time\n")
            candidate.set_input_files("#file", str(readme_only))
            candidate.click("#upload-form button[type=submit]")
            candidate.wait_for_selector("#received")
            deadline = time.monotonic() + GRADING_WAIT_S
            while time.monotonic() < deadline and candidate.locator("#upload-problem").count() == 0:
                time.sleep(2)
                candidate.goto(link)
            problem = candidate.inner_text("#upload-problem")
            assert "no Dockerfile" in problem and "\n" not in problem.strip(), problem
            assert float(candidate.inner_text("#score").split()[1]) >= 85  # the good result still counts
            shot(candidate, "candidate-upload-not-graded")
            recruiter.goto(detail or "/")
            assert recruiter.locator(".counted-mark").count() == 1
            assert float(recruiter.locator("tr.job-row:has(.counted-mark) .score").inner_text().split()[0]) >= 85
            shot(recruiter, "invite-two-uploads")
            recruiter.goto("/cohort/support-triage")
            shot(recruiter, "cohort")
        finally:
            browser.close()
    assert len(shots) == 12
    print(f"\nscreenshots in {ARTIFACTS}: {', '.join(shots)}")
