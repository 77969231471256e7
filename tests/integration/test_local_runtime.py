"""The local runtime against real subprocesses: readiness, early exit, stubborn processes, restart, teardown."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.client import ServiceClient
from grader.runtime import RuntimeFailure
from harness.runtime.local import LocalRuntime
from harness.runtime.proctree import session_pids

SERVICES = Path(__file__).resolve().parents[1] / "fixtures" / "services"


def stub_submission(dest: Path, mode: str, cmd: list[str] | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(SERVICES / "stub" / "serve.py", dest / "serve.py")
    argv = cmd or ["python", "serve.py", mode]
    (dest / "Dockerfile").write_text(
        "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nWORKDIR /app\nCOPY . /app\n"
        "RUN pip install --no-cache-dir fastapi\n"
        f"CMD {json.dumps(argv)}\n")
    return dest


def test_start_serves_and_teardown_leaves_nothing(tmp_path: Path) -> None:
    rt = LocalRuntime()
    rt.prepare(stub_submission(tmp_path / "good", "good"))
    info = rt.start(20)
    assert info.base_url.startswith("http://127.0.0.1:")
    assert any("NOT isolated" in n for n in info.notes)
    with ServiceClient(info.base_url, timeout_s=5) as client:
        assert client.get("/health").data == {"status": "ok"}
    state = rt.state()
    assert state.running and state.memory_mb and state.memory_mb > 1
    assert "serving good" in rt.logs()
    pid = rt._proc.pid  # type: ignore[union-attr]
    tmp = rt._tmp
    rt.teardown()
    rt.teardown()  # idempotent
    assert not session_pids(pid)
    assert tmp is not None and not tmp.exists()
    assert not rt.state().running
    assert rt.peak_memory_mb() and rt.peak_memory_mb() > 1


def test_service_that_never_becomes_ready(tmp_path: Path) -> None:
    rt = LocalRuntime()
    try:
        rt.prepare(stub_submission(tmp_path / "nr", "never_ready"))
        with pytest.raises(RuntimeFailure) as exc:
            rt.start(1.5)
        assert exc.value.status == "start_failed"
        assert "not ready after 1.5 s" in exc.value.reason
        assert "503" in exc.value.reason
    finally:
        rt.teardown()


def test_service_that_exits_at_once(tmp_path: Path) -> None:
    rt = LocalRuntime()
    try:
        rt.prepare(stub_submission(tmp_path / "ex", "exit"))
        with pytest.raises(RuntimeFailure) as exc:
            rt.start(20)
        assert exc.value.status == "start_failed"
        assert "code 3" in exc.value.reason
        assert "boom" in exc.value.log_tail
    finally:
        rt.teardown()


def test_missing_dockerfile_is_start_failed(tmp_path: Path) -> None:
    sub = tmp_path / "nodocker"
    sub.mkdir()
    (sub / "serve.py").write_text("print('hi')\n")
    rt = LocalRuntime()
    with pytest.raises(RuntimeFailure) as exc:
        rt.prepare(sub)
    rt.teardown()
    assert exc.value.status == "start_failed" and "Dockerfile" in exc.value.reason


def test_sigterm_ignoring_service_is_killed_on_restart_and_teardown(tmp_path: Path) -> None:
    rt = LocalRuntime()
    try:
        rt.prepare(stub_submission(tmp_path / "stubborn", "ignore_term"))
        first = rt.start(20)
        first_pid = rt._proc.pid  # type: ignore[union-attr]
        import time
        for _ in range(50):  # its child starts right after the server
            if len(session_pids(first_pid)) >= 2:
                break
            time.sleep(0.1)
        assert len(session_pids(first_pid)) >= 2
        second = rt.restart(20)
        assert not session_pids(first_pid), "the old tree survived a restart"
        with ServiceClient(second.base_url, timeout_s=5) as client:
            assert client.get("/health").ok
        second_pid = rt._proc.pid  # type: ignore[union-attr]
        assert second_pid != first_pid and first.base_url
    finally:
        rt.teardown()
    assert not session_pids(second_pid)


def test_uvicorn_command_runs_on_the_grader_python_and_a_free_port(tmp_path: Path) -> None:
    sub = tmp_path / "uv"
    shutil.copytree(SERVICES / "uvicorn_app", sub)
    rt = LocalRuntime()
    try:
        rt.prepare(sub)
        info = rt.start(30)
        assert not info.base_url.endswith(":8000")
        with ServiceClient(info.base_url, timeout_s=5) as client:
            assert client.get("/health").data == {"status": "ok"}
    finally:
        rt.teardown()
    assert sorted(p.name for p in sub.iterdir()) == ["Dockerfile", "app.py"]  # the original is untouched


def test_dockerfile_start_commands_are_rewritten_for_the_local_python() -> None:
    import sys

    from harness.runtime.dockerfile import local_argv, parse_dockerfile, python_run_step

    info = parse_dockerfile('FROM a AS build\nCMD ["ignored"]\nFROM b\nENV A=1 B="two words"\nWORKDIR /app\n'
                            'COPY . .\nRUN pip install -r requirements.txt\nRUN python train.py --fast\n'
                            'CMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port=8000"]\n')
    assert info.env == {"A": "1", "B": "two words"} and info.workdir == "/app"
    assert local_argv(info.argv() or [], "127.0.0.1", 4321) == [
        sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", "4321"]
    assert [python_run_step(r) for r in info.runs] == [None, [sys.executable, "train.py", "--fast"]]
    assert local_argv(["/usr/bin/python3", "serve.py"], "127.0.0.1", 1) == [sys.executable, "serve.py"]
    assert parse_dockerfile("FROM x\nCMD python serve.py --x 1\n").argv() == ["python", "serve.py", "--x", "1"]
    assert parse_dockerfile("FROM x\nCMD python s.py && echo $PORT\n").argv() == [
        "/bin/sh", "-c", "python s.py && echo $PORT"]
    assert parse_dockerfile('FROM x\nENTRYPOINT ["python"]\nCMD ["serve.py"]\n').argv() == ["python", "serve.py"]


def test_choose_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.errors import RuntimeUnavailable, UsageError
    from harness.runtime import select

    monkeypatch.setattr(select, "_docker_answers", lambda: False)
    assert isinstance(select.choose_runtime("local", None), LocalRuntime)
    assert isinstance(select.choose_runtime("auto", None), LocalRuntime)
    with pytest.raises(RuntimeUnavailable):
        select.choose_runtime("docker", None)
    with pytest.raises(UsageError):
        select.choose_runtime("podman", None)


def test_a_warm_copy_replaces_the_service_fresh_and_restart_stays_real(tmp_path: Path) -> None:
    rt = LocalRuntime()
    try:
        rt.prepare(stub_submission(tmp_path / "warm", "good"))
        first = rt.start(20)
        old_pid = rt._proc.pid  # type: ignore[union-attr]
        rt.warm(20)
        assert len(rt._spares) == 1
        spare = rt._spares.copies[0]
        assert spare.done.wait(20) and spare.info is not None
        with ServiceClient(first.base_url, timeout_s=5) as client:  # the current copy still serves meanwhile
            assert client.get("/health").ok
        info = rt.fresh(20)
        # a different process on a different port, already ready: no waiting for a cold start
        assert info.base_url != first.base_url and rt._proc.pid != old_pid  # type: ignore[union-attr]
        assert not session_pids(old_pid) and len(rt._spares) == 0
        assert info.ready_s == spare.info.ready_s
        with ServiceClient(info.base_url, timeout_s=5) as client:
            assert client.get("/health").ok
        # without a warm copy, fresh() is a restart; restart() always stops and starts the current copy
        pid = rt._proc.pid  # type: ignore[union-attr]
        again = rt.restart(20)
        assert rt._proc.pid != pid and again.ready_s > 0  # type: ignore[union-attr]
        rt.warm(20, copies=2)
        for s in rt._spares.copies:
            assert s.done.wait(20)
        spare_pids = [s.handle.proc.pid for s in rt._spares.copies if s.handle is not None]
        assert len(spare_pids) == 2
    finally:
        rt.teardown()
    assert not any(session_pids(p) for p in spare_pids)  # unused warm copies are torn down too


def test_a_warm_copy_that_never_gets_ready_fails_like_a_start(tmp_path: Path) -> None:
    rt = LocalRuntime()
    try:
        rt.prepare(stub_submission(tmp_path / "nr", "good"))
        rt.start(20)
        rt._info.cmd = ["python", "serve.py", "never_ready"]  # type: ignore[union-attr]
        rt.warm(1.5)
        with pytest.raises(RuntimeFailure) as exc:
            rt.fresh(1.5)
        assert exc.value.status == "start_failed"
    finally:
        rt.teardown()


def test_the_service_and_its_warm_copies_get_thread_pools_capped_at_the_cpu_limit(tmp_path: Path) -> None:
    """OMP/OpenBLAS/MKL sized by the host's cores crawl under a CPU limit: the runtime caps them at it, rounded up,
    over what the Dockerfile says (docker does the same); the build steps keep the Dockerfile's values."""
    from grader.exercise import load_exercise
    from harness.runtime.threads import THREAD_VARS

    ex = load_exercise("support-triage")
    ex = ex.model_copy(update={"limits": ex.limits.model_copy(update={"cpus": 1.5})})
    sub = stub_submission(tmp_path / "threads", "good")
    dockerfile = (sub / "Dockerfile").read_text().replace("WORKDIR /app\n", "WORKDIR /app\nENV OMP_NUM_THREADS=16\n")
    (sub / "Dockerfile").write_text(dockerfile)

    def thread_vars(base_url: str) -> dict[str, str | None]:
        with ServiceClient(base_url, timeout_s=5) as client:
            env = client.get("/debug/env").data["env"]
        return {var: env.get(var) for var in THREAD_VARS}

    rt = LocalRuntime(ex)
    try:
        rt.prepare(sub)
        assert thread_vars(rt.start(20).base_url) == dict.fromkeys(THREAD_VARS, "2")
        rt.warm(20)
        assert thread_vars(rt.fresh(20).base_url) == dict.fromkeys(THREAD_VARS, "2")
        assert rt._env(0)["OMP_NUM_THREADS"] == "16"
    finally:
        rt.teardown()
    rt = LocalRuntime()  # no exercise (a bare runtime): the default limit, one CPU
    try:
        rt.prepare(stub_submission(tmp_path / "bare", "good"))
        assert thread_vars(rt.start(20).base_url) == dict.fromkeys(THREAD_VARS, "1")
    finally:
        rt.teardown()


def test_an_engine_without_a_base_image_pulls_one_or_falls_back_to_local(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """make check with an engine but no base image: python:3.11-slim is pulled, else the local runtime, loudly.
    Grading (no fallback) never runs a submission unsandboxed: it keeps the docker runtime and its own error."""
    from harness.runtime import images, select

    class DockerRuntime:  # the engine is not started here: which runtime is chosen is the point
        def __init__(self, *args: object) -> None:
            pass

    monkeypatch.setattr(select, "DockerRuntime", DockerRuntime)
    pulls: list[str] = []

    class Registry:  # what the engine answers to a pull: the real registry cannot be had here
        def __init__(self, reachable: bool) -> None:
            self.reachable = reachable

        def pull(self, repo: str, tag: str) -> None:
            pulls.append(f"{repo}:{tag}")
            if not self.reachable:
                raise ConnectionError("dial tcp: lookup registry-1.docker.io: no such host")

    class Engine:
        def __init__(self, reachable: bool) -> None:
            self.images = Registry(reachable)

    monkeypatch.setattr(select, "_docker_answers", lambda: True)
    monkeypatch.setattr(images, "base_image_for_build", lambda **kw: None)
    for reachable, runtime in ((True, DockerRuntime), (False, LocalRuntime)):
        monkeypatch.setattr(images, "docker_client", lambda reachable=reachable: Engine(reachable))
        caplog.clear()
        assert isinstance(select.choose_runtime("auto", None), runtime)
        assert ("does NOT isolate" in caplog.text) is (runtime is LocalRuntime)
    assert pulls == ["python:3.11-slim", "python:3.11-slim"]
    assert isinstance(select.choose_runtime("auto", None, fallback=False), DockerRuntime)
    assert isinstance(select.choose_runtime("docker", None), DockerRuntime)
    assert len(pulls) == 2  # only `auto` with a fallback looks for an image first
