"""The grader's own trust boundary (issue 9): hostile archives, git URLs, Dockerfiles, make
arguments, runtimes, tokens and error text must not get past it.

Each case asserts what happened, not only what was said: nothing written outside the
scratch folder (the file system is checked), nothing fetched or pulled (a 127.0.0.1
listener that counts connections stands in for the outside world; no test sends traffic
to any other address), no marker file from a submission that should never have run, a
report or a one-line message and no traceback, a cohort that finishes.
"""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
import uuid
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from grader.errors import SubmissionError
from harness.runtime.policy import check_dockerfile
from harness.submission import NOT_VERIFIED, resolve_submission

ROOT = Path(__file__).resolve().parents[2]
SHIFTWORK = Path(sys.executable).parent / "shiftwork"
SECRET = "hostile-inputs-secret"
BASE = "shiftwork/base:py311"


# -- helpers ---------------------------------------------------------------------------------
class Listener:
    """A TCP listener on 127.0.0.1 that counts connections: the 'outside world' of these tests."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                try:
                    conn.settimeout(1.0)
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    lis = Listener()
    yield lis
    lis.close()


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIFTWORK_SECRET", SECRET)


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The CLI's environment: our secret, a private HOME, and no Docker engine unless a test wants one."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
           "SHIFTWORK_SECRET": SECRET, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "COLUMNS": "200"}
    env.update(extra)
    return env


def run_cli(args: list[str], tmp_path: Path, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SHIFTWORK), *args], capture_output=True, text=True, timeout=timeout,
                          env=cli_env(tmp_path, **extra), cwd=tmp_path, stdin=subprocess.DEVNULL)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit non-zero with exactly one `error:` line and no traceback; the line."""
    text = done.stdout + done.stderr
    assert "Traceback" not in text, text
    assert done.returncode != 0, text
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def scratch_dirs() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob("shiftwork-sub-*")}


def service_folder(path: Path, marker: Path, meta: dict[str, str] | None = None) -> Path:
    """A submission that writes `marker` if it is ever run, at build time or at start."""
    path.mkdir(parents=True)
    (path / "mark.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (path / "Dockerfile").write_text("ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nCOPY . /app\n"
                                     "WORKDIR /app\nRUN python mark.py\nCMD [\"python\", \"mark.py\"]\n")
    if meta is not None:
        (path / ".exercise.json").write_text(json.dumps(meta))
    return path


# == 1. archives ===============================================================================
def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.PAX_FORMAT) -> Path:
    with tarfile.open(path, "w:gz", format=fmt) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def test_tar_link_chain_writes_nothing_outside_the_scratch_folder(tmp_path: Path) -> None:
    """CVE-2025-4517's shape: links and folders chained, no `..` in any member name, then a file through them."""
    outside = tmp_path / "outside"
    outside.mkdir()
    depth = len(Path(os.path.realpath("/tmp")).parts) + 8
    archive = _tar(tmp_path / "evil.tar.gz", [
        _link("a", "."), *[_link("a" * (i + 2), "a" * (i + 1) + "/" + "a" * (i + 1)) for i in range(3)],
        _link("esc", "/".join([".."] * depth) + str(outside)),
        _link("hard", str(outside / "h"), tarfile.LNKTYPE),
        _file("esc/pwned", b"escaped"),
    ])
    before = scratch_dirs()
    done = run_cli(["grade", "--runtime=local", "--exercise=support-triage", "--", str(archive)], tmp_path)
    assert_one_line_error(done, "is a link")
    assert list(outside.iterdir()) == []  # nothing was written through any link
    assert scratch_dirs() <= before  # and the scratch folder is gone


@pytest.mark.parametrize("case", ["pax-nul", "pax-huge", "long-name", "fifo"])
def test_tar_headers_are_capped_and_end_in_one_line(tmp_path: Path, case: str) -> None:
    archive = tmp_path / f"{case}.tar.gz"
    if case == "pax-nul":
        info = tarfile.TarInfo("a")
        info.pax_headers = {"path": "ev\x00il.py"}
        _tar(archive, [(info, b"x")])
        needle = "NUL"
    elif case == "pax-huge":
        info = tarfile.TarInfo("a")
        info.pax_headers = {"comment": "x" * 300_000}  # tarfile 3.11.7 parses this quadratically
        _tar(archive, [(info, b"x")])
        needle = "extended header"
    elif case == "long-name":
        _tar(archive, [_file("d/" * 600 + "f")])
        needle = "longer than"
    else:
        info = tarfile.TarInfo("pipe")
        info.type = tarfile.FIFOTYPE
        _tar(archive, [(info, None)])
        needle = "not a regular file"
    began = time.monotonic()
    done = run_cli(["grade", "--runtime=local", "--exercise=support-triage", "--", str(archive)], tmp_path)
    assert_one_line_error(done, needle)
    assert time.monotonic() - began < 30


def test_archive_size_member_count_and_time_caps(tmp_path: Path) -> None:
    big = tmp_path / "big.tar"
    big.write_bytes(b"\0" * 4096)
    with pytest.raises(SubmissionError, match="more than the"):
        resolve_submission(big, max_archive_bytes=1000)
    bomb = tmp_path / "bomb.tar.gz"
    _tar(bomb, [_file("zeros", b"\0" * 3_000_000)])
    with pytest.raises(SubmissionError, match="more than"):
        resolve_submission(bomb, max_bytes=1_000_000)
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(30):
            zf.writestr(f"f{i}", "x")
    with pytest.raises(SubmissionError, match="entries"):
        resolve_submission(many, max_files=10)
    with pytest.raises(SubmissionError, match="longer than"):
        resolve_submission(bomb, timeout_s=-1)


# == 2. git URLs ===============================================================================
def _git(cwd: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "HOME": str(cwd), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=cwd, check=True, env=env, capture_output=True)


def _repo(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True)
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    for name, target in (links or {}).items():
        (path / name).symlink_to(target)
    _git(path, "init", "-q")
    _git(path, "add", "-A")
    _git(path, "commit", "-qm", "x")
    return path


def test_local_git_is_refused_unless_allowed_by_name(tmp_path: Path) -> None:
    # the grader's own checkout, by path and by file:// URL
    own = ROOT / ".git"
    for spec in (str(own), own.as_uri()):
        done = run_cli(["grade", "--runtime=local", "--exercise=support-triage", "--", spec], tmp_path)
        assert_one_line_error(done, "--allow-local-git")


def test_git_tree_rules_symlinks_and_caps(tmp_path: Path) -> None:
    secret_file = tmp_path / "grader-secret"
    secret_file.write_text("TOPSECRET-" + uuid.uuid4().hex)
    linked = _repo(tmp_path / "linked", {"Dockerfile": b"FROM x\n"}, {".exercise.json": str(secret_file)})
    with pytest.raises(SubmissionError, match="symbolic link") as info:
        resolve_submission(linked.as_uri(), allow_local_git=True)
    assert "TOPSECRET" not in str(info.value)
    big = _repo(tmp_path / "big", {"Dockerfile": b"FROM x\n", "zeros.bin": b"\0" * 3_000_000})
    before = scratch_dirs()
    with pytest.raises(SubmissionError, match="more than"):
        resolve_submission(big.as_uri(), allow_local_git=True, max_bytes=1_000_000)
    assert scratch_dirs() <= before  # refused from the object store's sizes: nothing is left checked out
    many = _repo(tmp_path / "many", {f"f{i}": b"x" for i in range(30)})
    with pytest.raises(SubmissionError, match="entries"):
        resolve_submission(many.as_uri(), allow_local_git=True, max_files=10)
    ok = _repo(tmp_path / "ok", {"Dockerfile": b"FROM x\n", ".git-hooks-not-run": b""})
    with resolve_submission(ok.as_uri(), allow_local_git=True) as sub:
        assert (sub.folder / "Dockerfile").read_bytes() == b"FROM x\n"
        assert NOT_VERIFIED in sub.flags[0]


def test_exercise_json_symlink_in_a_folder_is_not_followed(tmp_path: Path) -> None:
    secret_file = tmp_path / "grader-secret"
    secret_file.write_text("TOPSECRET-not-json")
    sub_dir = tmp_path / "sub"
    sub_dir.mkdir()
    (sub_dir / ".exercise.json").symlink_to(secret_file)
    with resolve_submission(sub_dir) as sub:
        assert sub.meta is None and not sub.verified
        assert "not a regular file" in sub.flags[0] and "TOPSECRET" not in sub.flags[0]


def test_git_credentials_are_redacted(tmp_path: Path, listener: Listener) -> None:
    url = f"http://alice:hunter2@127.0.0.1:{listener.port}/team/repo.git"
    done = run_cli(["grade", "--runtime=local", "--exercise=support-triage", "--", url], tmp_path)
    line = assert_one_line_error(done, "git clone")
    assert "hunter2" not in done.stdout + done.stderr and "***@127.0.0.1" in line
    assert listener.connections >= 1  # it did try the (local) listener, and only that


# == 3. Dockerfile policy ======================================================================
REFUSED = {
    "tab before a remote ADD": "FROM ${BASE_IMAGE}\nADD\thttp://127.0.0.1:{port}/m.bin /m.bin\n",
    "escape directive after an instruction": "FROM ${BASE_IMAGE}\n# escape=`\nADD http://127.0.0.1:{port}/x `\n /y\n",
    "ARG-expanded ADD": "FROM ${BASE_IMAGE}\nARG U=http://127.0.0.1:{port}/x\nADD $U /x\n",
    "ENV-expanded quoted ADD": "FROM ${BASE_IMAGE}\nENV U=\"http://127.0.0.1:{port}/x\"\nADD \"${U}\" /x\n",
    "${V:+w} FROM": "FROM ${BASE_IMAGE:+127.0.0.1:{port}/evil}\n",
    "${V-w} FROM with an unset ARG": "ARG NOPE\nFROM ${NOPE-127.0.0.1:{port}/evil}\n",
    "foreign FROM": "FROM 127.0.0.1:{port}/evil:latest\n",
    "COPY --from an image": "FROM ${BASE_IMAGE}\nCOPY --from=127.0.0.1:{port}/evil /a /a\n",
    "COPY --from through an ARG": "FROM ${BASE_IMAGE}\nARG S=127.0.0.1:{port}/evil\nCOPY --from=$S /a /a\n",
    "ONBUILD COPY --from an image": "FROM ${BASE_IMAGE}\nONBUILD COPY --from=127.0.0.1:{port}/evil a b\n",
    "ONBUILD remote ADD": "FROM ${BASE_IMAGE}\nONBUILD ADD http://127.0.0.1:{port}/x /x\n",
    "ADD of an unresolvable variable": "FROM ${BASE_IMAGE}\nADD $HOME/x /x\n",
    "ADD git": "FROM ${BASE_IMAGE}\nADD git@127.0.0.1:{port}/repo.git /src\n",
    "RUN --mount from an image": "FROM ${BASE_IMAGE}\nRUN --mount=type=bind,from=127.0.0.1:{port}/x,target=/x true\n",
    "syntax directive": "# syntax=127.0.0.1:{port}/frontend\nFROM ${BASE_IMAGE}\n",
    "NUL byte": "FROM ${BASE_IMAGE}\x00\nADD http://127.0.0.1:{port}/x /x\n",
}


def _dockerfile(body: str, port: int) -> str:
    """The starter's ARG line first (after a leading directive, which must stay on top to be one)."""
    head, body = (body.split("\n", 1)[0] + "\n", body.split("\n", 1)[1]) if body.startswith("#") else ("", body)
    return (head + "ARG BASE_IMAGE=python:3.11-slim\n" + body).replace("{port}", str(port))


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_policy_reads_dockerfiles_as_buildkit_does(case: str) -> None:
    problems = check_dockerfile(_dockerfile(REFUSED[case], 9), {"BASE_IMAGE": BASE}, lambda name: name == BASE)
    assert problems, case


def test_policy_still_allows_the_starter_stages_and_heredocs() -> None:
    text = _dockerfile("FROM ${BASE_IMAGE} AS Build\nENV PATH=/opt/venv/bin:$PATH\nCOPY <<EOT /f\nhttp://x\nEOT\n"
                       "RUN <<EOT\necho hi\nEOT\nFROM build\nCOPY --from=BUILD /f /g\nCOPY --from=0 /f /h\n", 9)
    assert check_dockerfile(text, {"BASE_IMAGE": BASE}, lambda name: name == BASE) == []
    starter = (ROOT / "exercises" / "support-triage" / "starter" / "Dockerfile").read_text()
    assert check_dockerfile(starter, {"BASE_IMAGE": BASE}, lambda name: name == BASE) == []


@pytest.mark.docker
def test_refused_dockerfiles_never_reach_the_engine(tmp_path: Path, listener: Listener) -> None:
    """End to end through the docker runtime: each hostile Dockerfile is refused, the listener sees nothing."""
    from grader.exercise import load_exercise
    from grader.runtime import RuntimeFailure
    from harness.runtime.docker import DockerRuntime
    from harness.runtime.images import base_image_for_build

    base = base_image_for_build()
    if base is None:
        pytest.skip("no local base image (make base-image)")
    ex = load_exercise("support-triage")
    for case in ("tab before a remote ADD", "${V:+w} FROM", "COPY --from an image", "escape directive after an instruction"):
        sub = tmp_path / uuid.uuid4().hex[:8]
        sub.mkdir()
        (sub / "Dockerfile").write_text(_dockerfile(REFUSED[case], listener.port))
        rt = DockerRuntime(ex, run_label=f"test-{uuid.uuid4().hex[:10]}", base_image=base)
        try:
            with pytest.raises(RuntimeFailure) as info:
                rt.prepare(sub)
        finally:
            rt.teardown()
        assert info.value.status == "build_failed" and "refused before building" in info.value.reason, case
    time.sleep(0.5)
    assert listener.connections == 0  # nothing was fetched or pulled


# == 4. make arguments =========================================================================
def test_make_passes_values_verbatim_and_runs_nothing(tmp_path: Path) -> None:
    record = tmp_path / "argv.json"
    recorder = tmp_path / "recorder"
    recorder.write_text(f"#!{sys.executable}\nimport json, sys\nopen({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    recorder.chmod(0o755)
    m = tmp_path / "m"
    values = {
        "SUBMISSION": f'a"; touch {m}1; "b $(shell touch {m}2) `touch {m}3` $$(touch {m}4) \'',
        "OUT": f"o`touch {m}5`\"$(touch {m}6)",
        "EXERCISE": f"x$(shell touch {m}7)",
        "RUNTIME": f"local; touch {m}8",
    }
    args = [f"{k}={v}" for k, v in values.items()]
    # -o: the venv stamp is taken as up to date (no reinstall); SW: the CLI is replaced by a recorder
    for target in ("grade", "package"):
        extra = [f"CANDIDATE={values['SUBMISSION']}"] if target == "package" else []
        done = subprocess.run(["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", target, f"SW={recorder}",
                               *args, *extra], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        argv = json.loads(record.read_text())
        if target == "grade":
            assert argv == ["grade", f"--runtime={values['RUNTIME']}", f"--exercise={values['EXERCISE']}",
                            f"--out={values['OUT']}", "--", values["SUBMISSION"]]
        else:
            assert argv == ["package", f"--candidate={values['SUBMISSION']}", f"--out={values['OUT']}", "--",
                            values["EXERCISE"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["argv.json", "recorder"]  # no marker m1..m8


# == 5. runtimes and the secret ================================================================
def test_auto_without_an_engine_is_a_one_line_error_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    sub = service_folder(tmp_path / "sub", marker)
    done = run_cli(["grade", "--exercise=support-triage", "--", str(sub)], tmp_path)  # --runtime auto by default
    assert_one_line_error(done, "--runtime local")
    assert done.returncode == 5
    assert not marker.exists()


def test_secret_is_scrubbed_from_the_environment_before_an_unsandboxed_run(tmp_path: Path) -> None:
    code = ("import os, subprocess\n"
            "from harness.secret import scrub_environment, load_secret\n"
            "scrub_environment()\n"
            "assert load_secret() == b'value-' + b'7f3a'  # still usable by the grader itself\n"
            "child = subprocess.run(['cat', f'/proc/{os.getpid()}/environ'], capture_output=True, env={}).stdout\n"
            "print('LEAK' if b'value-7f3a' in child or 'SHIFTWORK_SECRET' in os.environ else 'CLEAN')\n")
    env = {**os.environ, "SHIFTWORK_SECRET": "value-7f3a"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "CLEAN", done.stderr


def test_local_runtime_starts_the_service_with_a_minimal_environment(tmp_path: Path) -> None:
    from harness.runtime.local import LocalRuntime

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "Dockerfile").write_text('FROM x\nENV MODEL=/app/m\nWORKDIR /app\nCMD ["python", "serve.py"]\n')
    rt = LocalRuntime()
    try:
        rt.prepare(sub)
        env = rt._env(1234)
    finally:
        rt.teardown()
    assert "SHIFTWORK_SECRET" not in env and "SHIFTWORK_SECRET_FILE" not in env
    assert set(env) <= {"MODEL", "PATH", "HOME", "TMPDIR", "LANG", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
                        "HOST", "PORT"}


# == 6. tokens ================================================================================
def test_unverified_submissions_never_choose_their_seed(tmp_path: Path) -> None:
    from harness.grading import pick_seed
    from harness.secret import derive_seed, sign_token

    plain = service_folder(tmp_path / "plain", tmp_path / "never")
    with resolve_submission(plain) as sub:
        assert not sub.verified and any(NOT_VERIFIED in f for f in sub.flags)
        seeds = {pick_seed("support-triage", sub, None) for _ in range(5)}
        assert len(seeds) > 1 and 7 not in seeds  # per-run random, not a known default
        assert pick_seed("support-triage", sub, 1234) == 1234
    forged = {"exercise": "support-triage", "version": "1.0.0", "candidate": "ada", "token": "0" * 64}
    bad = service_folder(tmp_path / "bad", tmp_path / "never", forged)
    with pytest.raises(SubmissionError, match="--allow-bad-token"):
        resolve_submission(bad)
    with resolve_submission(bad, allow_bad_token=True) as sub:
        assert not sub.verified and any(NOT_VERIFIED in f for f in sub.flags)
        derived = derive_seed(SECRET.encode(), "support-triage", "ada")
        assert derived not in {pick_seed("support-triage", sub, None) for _ in range(5)}
    good = dict(forged, token=sign_token(SECRET.encode(), "support-triage", "1.0.0", "ada"))
    ok = service_folder(tmp_path / "ok", tmp_path / "never", good)
    with resolve_submission(ok) as sub:
        assert sub.verified and sub.flags == []
        assert pick_seed("support-triage", sub, 1234) == derive_seed(SECRET.encode(), "support-triage", "ada")


@pytest.mark.slow
def test_report_of_an_unverified_submission_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   refusing_runtime: Any) -> None:
    from rich.console import Console

    import harness.grading as grading
    import harness.planning as planning

    seen: list[int] = []
    real = planning.plan_grading
    monkeypatch.setattr(planning, "plan_grading",
                        lambda ex, seed, console=None, only=None: seen.append(seed) or real(ex, seed, console, only=only))
    sub = service_folder(tmp_path / "sub", tmp_path / "never")
    report, out = grading.grade_one(sub, exercise="support-triage", out=tmp_path / "out", runtime_obj=refusing_runtime,
                                    console=Console(quiet=True))
    data = json.loads((out / "report.json").read_text())
    assert any(NOT_VERIFIED in r for r in data["reasons"]) and data["status"] == "build_failed"
    assert seen and seen[0] != 7


# == 7. errors: markup, tracebacks, cohorts ====================================================
def test_cohort_of_hostile_entries_finishes_without_a_traceback(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    with zipfile.ZipFile(subs / "markup.zip", "w") as zf:  # a member named like console markup, and a link
        info = zipfile.ZipInfo("[/bold]")
        info.external_attr = (0o120777) << 16
        zf.writestr(info, "/etc/passwd")
    deep = subs / "deep"
    deep.mkdir()
    (deep / ".exercise.json").write_text("[" * 50_000 + "]" * 50_000)  # RecursionError in json, if read whole
    nul = subs / "nul.tar.gz"
    info = tarfile.TarInfo("a")
    info.pax_headers = {"path": "x\x00y"}
    _tar(nul, [(info, b"x")])
    (subs / "garbage.tgz").write_bytes(b"\x1f\x8b not really gzip")
    out = tmp_path / "cohort"
    done = run_cli(["grade", "--runtime=local", "--exercise=support-triage", f"--submissions={subs}", f"--out={out}"],
                   tmp_path)
    text = done.stdout + done.stderr
    assert "Traceback" not in text and "MarkupError" not in text, text
    assert "[/bold]" in text  # printed as text, not read as markup
    rows = {r.split(",")[0]: r.split(",")[1] for r in (out / "cohort.csv").read_text().splitlines()[1:]}
    assert rows == {"deep": "not_graded", "garbage": "not_graded", "markup": "not_graded", "nul": "not_graded"}
    assert "cohort: 0 of 4 graded" in text


def test_over_deep_prediction_and_engine_errors_end_in_a_transcript(tmp_path: Path) -> None:
    import docker.errors

    from grader.contract import Result
    from grader.exercise import load_exercise
    from grader.grade import TOO_DEEP, cap_depth, run_service
    from grader.runtime import Runtime
    from grader.transcript import Exchange, ScenarioRun, Transcript

    deep: Any = []
    for _ in range(2000):
        deep = [deep]
    t = Transcript(exercise="support-triage", submission="s", runtime="local")
    result = Result.model_construct(id="r-1", status="ok", prediction=deep, confidence=0.5, issues=[])
    t.runs.append(ScenarioRun(scenario="x", batch_size=1,
                              exchanges=[Exchange(batch=0, phase="p", ids=["r-1"], latency_ms=1.0, results=[result])]))
    cap_depth(t)
    assert t.runs[0].exchanges[0].results[0].prediction == TOO_DEEP  # type: ignore[index]
    json.loads(t.model_dump_json())  # serialisable now

    class StartBreaks(Runtime):
        name, isolates = "stub", True

        def prepare(self, submission: Path) -> None: ...
        def start(self, startup_budget_s: float) -> Any:
            raise docker.errors.APIError("500 Server Error: unable to find user [/bold]: no matching entries")
        def restart(self, startup_budget_s: float) -> Any: ...
        def state(self) -> Any: ...
        def logs(self, max_bytes: int = 20_000) -> str: return ""
        def teardown(self) -> None: ...
        def peak_memory_mb(self) -> float | None: return None

    ex = load_exercise("support-triage")
    t2 = Transcript(exercise=ex.id, submission="s", runtime="stub")
    no_scenarios = SimpleNamespace(scenarios=[], traffic={})
    run_service(StartBreaks(), tmp_path, no_scenarios, t2, ex.budgets)  # type: ignore[arg-type]
    assert t2.status == "start_failed" and "APIError" in t2.reasons[0] and "\n" not in t2.reasons[0]
