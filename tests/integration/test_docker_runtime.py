"""The docker runtime against hostile submissions (tests/fixtures/hostile/<name>/).

None of the fixtures tries to reach an outside address; "no way out" is shown by
inspecting the container and its network, never by sending traffic. The only HTTP
calls go from this process to a candidate container on its internal network.
After every test nothing labelled with the test's run label is left behind.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from grader.exercise import Exercise, load_exercise
from grader.runtime import RuntimeFailure
from harness.runtime.policy import PolicyViolation, check_dockerfile, copy_context, parse_dockerfile

HOSTILE = Path(__file__).resolve().parent.parent / "fixtures" / "hostile"


# -- policy: no engine needed ---------------------------------------------------------------
def _local(*names: str) -> Callable[[str], bool]:
    return lambda image: image in names


def test_policy_accepts_the_starter_shape() -> None:
    text = (HOSTILE / "baseline" / "Dockerfile").read_text()
    assert check_dockerfile(text, {"BASE_IMAGE": "shiftwork/base:py311"}, _local("shiftwork/base:py311")) == []
    # the grader's base must be local too; without it no image at all may be used (only the grader picks one)
    assert "not available" in check_dockerfile(text, {"BASE_IMAGE": "shiftwork/base:py311"}, _local())[0]
    assert "only the grader's base image" in check_dockerfile(text, {}, _local("python:3.11-slim"))[0]


@pytest.mark.parametrize("line", [
    "ADD http://127.0.0.1:9/x.bin /x.bin",
    "ADD --chown=1:1 https://127.0.0.1:9/x.tgz /x/",
    'ADD ["http://127.0.0.1:9/a", "/a"]',
    "add git@127.0.0.1:repo.git /src",
    "ADD \\\n   http://127.0.0.1:9/x.bin \\\n   /x.bin",
])
def test_policy_refuses_remote_add(line: str) -> None:
    text = f"FROM base\n{line}\n"
    problems = check_dockerfile(text, {"BASE_IMAGE": "base"}, _local("base"))
    assert problems and "ADD from a URL" in problems[0]


def test_policy_allows_local_add_stages_and_scratch() -> None:
    text = "FROM base AS build\nADD model.tar.gz /m/\nFROM scratch\nCOPY --from=build /m /m\nFROM build\n"
    assert check_dockerfile(text, {"BASE_IMAGE": "base"}, _local("base")) == []
    assert "COPY --from=other" in check_dockerfile("FROM base\nCOPY --from=other /a /a\n", {"BASE_IMAGE": "base"},
                                                   _local("base", "other"))[0]


def test_policy_flags_unset_base_and_missing_from() -> None:
    assert "has no value" in check_dockerfile("ARG B\nFROM ${B}\n", {}, _local())[0]
    assert "no FROM" in check_dockerfile("RUN true\n", {}, _local())[0]
    assert [i.keyword for i in parse_dockerfile("# c\nfrom a\nrun x \\\n  # inner\n  y\n")] == ["FROM", "RUN"]


def test_context_copy_caps_files_and_bytes(tmp_path: Path) -> None:
    src = tmp_path / "sub"
    (src / ".git").mkdir(parents=True)
    (src / ".git" / "big").write_bytes(b"x" * 5000)  # skipped: never counted
    for i in range(4):
        (src / f"f{i}.txt").write_text("abc")
    os.chmod(src / "f0.txt", 0o600)
    (src / "link").symlink_to("/etc/passwd")
    files, size = copy_context(src, tmp_path / "ctx", max_bytes=100, max_files=10)
    assert (files, size) == (4, 12)
    assert not (tmp_path / "ctx" / "link").exists() and not (tmp_path / "ctx" / ".git").exists()
    assert (tmp_path / "ctx" / "f0.txt").stat().st_mode & 0o777 == 0o644  # readable by the runtime user
    with pytest.raises(PolicyViolation, match="more than 3 files"):
        copy_context(src, tmp_path / "ctx2", max_bytes=100, max_files=3)
    with pytest.raises(PolicyViolation, match="over"):
        copy_context(src, tmp_path / "ctx3", max_bytes=5, max_files=10)


# -- with an engine -------------------------------------------------------------------------
docker_only = pytest.mark.docker


@pytest.fixture(scope="session")
def base_image() -> str:
    from harness.runtime.images import DEFAULT_BASE_IMAGE, base_image_for_build, ensure_base_image

    return base_image_for_build() or ensure_base_image(DEFAULT_BASE_IMAGE, "support-triage")


@pytest.fixture(scope="session")
def client() -> Iterator[Any]:
    from harness.runtime.docker import docker_client

    c = docker_client()
    yield c
    c.close()


def leftovers(client: Any, run_label: str) -> list[str]:
    flt = {"label": f"shiftwork.run={run_label}"}
    return ([f"container {c.name}" for c in client.containers.list(all=True, filters=flt)]
            + [f"network {n.name}" for n in client.networks.list(filters=flt)]
            + [f"image {i.id}" for i in client.images.list(filters=flt)])


def small_exercise(**limits: Any) -> Exercise:
    ex = load_exercise("support-triage")
    base = {"memory_mb": 256, "pids": 64, "build_timeout_s": 60, "cpus": 1.0}
    return ex.model_copy(update={"limits": ex.limits.model_copy(update={**base, **limits})})


@pytest.fixture
def runtime(client: Any, base_image: str) -> Iterator[Callable[..., Any]]:
    """A factory of DockerRuntimes; each is torn down and checked for leftovers afterwards."""
    from harness.runtime.docker import DockerRuntime

    made: list[DockerRuntime] = []

    def make(**limits: Any) -> DockerRuntime:
        rt = DockerRuntime(small_exercise(**limits), run_label=f"test-{uuid.uuid4().hex[:10]}", base_image=base_image)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.teardown()
        assert leftovers(client, rt.run_label) == []


def fail(fn: Callable[[], Any]) -> RuntimeFailure:
    with pytest.raises(RuntimeFailure) as info:
        fn()
    return info.value


@docker_only
@pytest.mark.parametrize("name,needle", [
    ("add-url", "ADD from a URL is not allowed"),
    ("not-local-base", "FROM registry.invalid/nothing:latest: only the grader's base image"),
])
def test_refused_before_any_build(runtime, hostile, client, name: str, needle: str) -> None:
    rt = runtime()
    err = fail(lambda: rt.prepare(hostile(name)))
    assert err.status == "build_failed" and err.reason.startswith("refused before building") and needle in err.reason
    assert rt.image_id is None and err.log_tail == ""  # no build ran, so nothing was fetched or pulled


@docker_only
def test_failing_build_reports_the_log_tail(runtime, hostile) -> None:
    rt = runtime()
    err = fail(lambda: rt.prepare(hostile("build-fails")))
    assert err.status == "build_failed" and "returned a non-zero code: 3" in err.reason
    assert "about to fail" in err.log_tail


@docker_only
def test_hanging_build_is_cancelled_at_the_deadline(runtime, hostile, client) -> None:
    rt = runtime(build_timeout_s=6)
    t0 = time.monotonic()
    err = fail(lambda: rt.prepare(hostile("build-hangs")))
    assert err.status == "build_failed" and "did not finish within 6 s" in err.reason
    assert time.monotonic() - t0 < 60  # a generous bound: the build itself would sleep an hour
    time.sleep(1)
    stuck = [c for c in client.containers.list(all=True)
             if "sleeping in the build" in " ".join(c.attrs["Config"].get("Cmd") or [])]
    assert stuck == []


@docker_only
def test_context_over_the_limit_is_refused(runtime, tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "Dockerfile").write_text("ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n")
    for i in range(6):
        (sub / f"blob{i}").write_bytes(os.urandom(1000))
    err = fail(lambda: runtime(context_files=5).prepare(sub))
    assert err.status == "build_failed" and "more than 5 files" in err.reason


@docker_only
@pytest.mark.parametrize("name,status,needle", [
    ("exits-at-once", "start_failed", "exited with code 0 before /health answered"),
    ("never-listens", "start_failed", "nothing listens on any TCP port"),
    ("wrong-port", "start_failed", "listens on 0.0.0.0:8080, not on 0.0.0.0:8000"),
    ("loopback-only", "start_failed", "listens on 127.0.0.1:8000, not on 0.0.0.0:8000"),
    ("eats-memory", "crashed", "memory limit"),
])
def test_services_that_never_become_ready(runtime, hostile, name: str, status: str, needle: str) -> None:
    rt = runtime(memory_mb=128)
    rt.prepare(hostile(name))
    err = fail(lambda: rt.start(4))
    assert err.status == status and needle in err.reason, err.reason
    if name == "exits-at-once":
        assert "nothing to do, bye" in err.log_tail
    if name == "eats-memory":
        assert rt.state().oom_killed


@docker_only
def test_crash_on_first_request_shows_in_state(runtime, hostile) -> None:
    from grader.client import ServiceClient

    rt = runtime()
    rt.prepare(hostile("crash-on-request"))
    info = rt.start(15)
    assert rt.state().running
    with ServiceClient(info.base_url, timeout_s=5) as http:
        assert http.post_json("/predict", {"records": []}).error == "connection"
    for _ in range(40):
        st = rt.state()
        if not st.running:
            break
        time.sleep(0.1)
    assert not st.running and st.exit_code == 3 and not st.oom_killed
    assert "crashing on the first request" in rt.logs()


@docker_only
def test_hanging_and_huge_answers_are_bounded_by_the_client(runtime, hostile) -> None:
    from grader.client import ServiceClient

    hang, huge = runtime(), runtime()
    hang.prepare(hostile("hang-requests"))
    huge.prepare(hostile("huge-bodies"))
    hang_url, huge_url = hang.start(15).base_url, huge.start(15).base_url
    with ServiceClient(hang_url, timeout_s=1.5) as http:
        assert http.post_json("/predict", {"records": []}).error == "timeout"
    with ServiceClient(huge_url, timeout_s=5, max_bytes=1_000_000) as http:
        assert http.post_json("/predict", {"records": []}).error == "too_large"  # 10 MB declared
        assert http.get("/monitoring").error == "too_large"  # endless chunked body
    assert hang.state().running and huge.state().running


@docker_only
def test_fork_bomb_is_stopped_by_the_pids_limit(runtime, hostile) -> None:
    rt = runtime(pids=48)
    rt.prepare(hostile("fork-bomb"))
    # With every pid taken the server cannot start a thread per request: never ready.
    err = fail(lambda: rt.start(6))
    assert err.status == "start_failed" and "listens on 0.0.0.0:8000" in err.reason
    whole = rt.container.logs().decode(errors="replace")  # capped at 1 MB by the log driver
    line = next(x for x in whole.splitlines() if x.startswith("fork stopped after"))
    assert 0 < int(line.split()[3]) < 48 and "Resource temporarily unavailable" in line
    rt.teardown()  # the container's cgroup goes with it: every child is gone
    assert rt.state().running is False


@docker_only
def test_writes_outside_tmp_fail_and_tmp_is_capped(runtime, hostile) -> None:
    rt = runtime(tmpfs_mb=16)
    rt.prepare(hostile("writes-root"))
    rt.start(20)
    out = rt.logs()
    for path in ("/evil", "/app/evil", "/etc/evil"):
        assert f"write {path}: EROFS" in out or f"write {path}: EACCES" in out, out
    assert "write /tmp/fine: ok" in out
    assert "fill /tmp: ENOSPC" in out or "fill /tmp: EFBIG" in out
    assert "setuid 0: EPERM" in out


@docker_only
def test_endless_output_keeps_the_log_file_small(runtime, hostile) -> None:
    rt = runtime()
    rt.prepare(hostile("prints-endless"))
    rt.start(20)
    log_path = Path(rt.container.attrs["LogPath"])
    sizes = []
    for _ in range(30):  # the file is rotated in place under us: sample its size while it is there
        time.sleep(0.1)
        try:
            sizes.append(log_path.stat().st_size)
        except FileNotFoundError:
            pass
    assert sizes and max(sizes) <= 1_100_000  # max-size 1m, max-file 1
    assert rt.state().running
    assert len(rt.logs(5000).encode()) <= 5000 * 4


@docker_only
def test_restart_kills_a_service_that_ignores_sigterm(runtime, hostile) -> None:
    rt = runtime()
    rt.prepare(hostile("ignores-sigterm"))
    first = rt.start(20)
    t0 = time.monotonic()
    again = rt.restart(20)
    assert rt.state().running and again.base_url.endswith(":8000") and first.base_url.endswith(":8000")
    assert time.monotonic() - t0 < 30


@docker_only
def test_running_container_is_locked_down(runtime, hostile, client) -> None:
    """No way out, shown by inspection: settings of the container and its network, no traffic."""
    rt = runtime(memory_mb=200, cpus=0.5, pids=50, tmpfs_mb=32, nofile=512)
    rt.prepare(hostile("baseline"))
    info = rt.start(20)
    attrs = client.api.inspect_container(rt.container.id)
    hc = attrs["HostConfig"]
    assert hc["CapDrop"] == ["ALL"] and not hc.get("CapAdd") and hc["Privileged"] is False
    assert hc["ReadonlyRootfs"] is True and "size=32m" in hc["Tmpfs"]["/tmp"]
    assert hc["Memory"] == 200 * 2**20 and hc["MemorySwap"] == 200 * 2**20
    assert hc["NanoCpus"] == 500_000_000 and hc["PidsLimit"] == 50
    assert hc["SecurityOpt"] == ["no-new-privileges"]
    assert hc["Init"] is True
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "1", "max-size": "1m"}}
    assert {u["Name"]: u["Hard"] for u in hc["Ulimits"]}["nofile"] == 512
    assert {u["Name"]: u["Hard"] for u in hc["Ulimits"]}["core"] == 0
    assert not hc.get("PortBindings") and not hc.get("Binds") and hc.get("AutoRemove") is False
    assert attrs["Config"]["User"] == "65534:65534"
    assert attrs["Config"]["Labels"]["shiftwork.run"] == rt.run_label
    nets = attrs["NetworkSettings"]["Networks"]
    assert list(nets) == [rt.network.name] and hc["NetworkMode"] == rt.network.name
    net = client.api.inspect_network(rt.network.id)
    assert net["Internal"] is True
    assert net["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    assert info.base_url == f"http://{nets[rt.network.name]['IPAddress']}:8000"
    # the processes really run as nobody, with no capabilities and no-new-privs (host /proc, no exec)
    pid = attrs["State"]["Pid"]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for p in [pid, *map(int, children.read_text().split())]:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{p}/status").read_text().splitlines() if ":" in line)
            assert fields["Uid"].split() == ["65534"] * 4
            assert int(fields["CapEff"], 16) == 0 and int(fields["CapBnd"], 16) == 0
            assert fields["NoNewPrivs"].strip() == "1"
    # state() never waits on the engine's stats tick: the memory sample lands in the background
    deadline = time.monotonic() + 15
    st = rt.state()
    while st.memory_mb is None and time.monotonic() < deadline:
        time.sleep(0.2)
        st = rt.state()
    assert st.running and st.memory_mb is not None and st.memory_mb < 200
    assert (rt.peak_memory_mb() or 0) >= st.memory_mb * 0.5


@docker_only
def test_pinned_requirements_install_without_a_network(runtime, hostile, base_image: str) -> None:
    from harness.runtime.images import DEFAULT_BASE_IMAGE

    if base_image != DEFAULT_BASE_IMAGE:
        pytest.skip("only the offline base image promises a no-network pip install")
    rt = runtime()
    rt.prepare(hostile("offline-pip"))  # the build runs with network_mode="none"
    rt.start(30)
    assert "imports ok" in rt.logs()


@docker_only
def test_sweep_removes_only_old_leftovers(client) -> None:
    from harness.runtime.docker import LABEL_CREATED, LABEL_RUN, sweep

    label = f"test-sweep-{uuid.uuid4().hex[:8]}"
    old = client.networks.create(f"{label}-old", internal=True,
                                 labels={LABEL_RUN: label, LABEL_CREATED: str(int(time.time()) - 7200)})
    young = client.networks.create(f"{label}-young", internal=True,
                                   labels={LABEL_RUN: label, LABEL_CREATED: str(int(time.time()))})
    try:
        sweep(client, older_than_s=3600)
        names = {n.name for n in client.networks.list(filters={"label": f"{LABEL_RUN}={label}"})}
        assert names == {young.name}
        assert sweep(client, run_label=label) == 1
        assert leftovers(client, label) == []
    finally:
        for n in (old, young):
            try:
                n.remove()
            except Exception:
                pass


@docker_only
def test_a_warm_container_replaces_the_service_fresh(runtime, hostile, client) -> None:
    """fresh() swaps in a container started ahead; it is locked down like the first, the old one is gone."""
    rt = runtime()
    rt.prepare(hostile("baseline"))
    first = rt.start(20)
    old = rt.container
    rt.warm(20)
    assert len(rt._spares) == 1
    spare = rt._spares.copies[0]
    assert spare.done.wait(30) and spare.info is not None
    info = rt.fresh(20)
    assert info.base_url != first.base_url and rt.container.id != old.id and rt.state().running
    for t in rt._background:  # the replaced container is removed in the background
        t.join(30)
    assert old.id not in [c.id for c in client.containers.list(all=True)]
    attrs = client.api.inspect_container(rt.container.id)
    host = attrs["HostConfig"]
    assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"] and attrs["Config"]["User"] == "65534:65534"
    assert list(attrs["NetworkSettings"]["Networks"]) == [rt.network.name]
    rt.warm(20, copies=2)  # unused warm copies are removed by teardown (the fixture checks for leftovers)
    assert len(rt._spares) == 2


@docker_only
def test_the_service_and_its_warm_copies_get_thread_pools_capped_at_the_cpu_limit(runtime, hostile, client) -> None:
    """OMP/OpenBLAS/MKL sized by the host's cores crawl under the CPU quota: every container the runtime starts
    has them capped at the exercise's CPU limit, rounded up; the service itself reports them."""
    from grader.client import ServiceClient
    from harness.runtime.threads import THREAD_VARS

    def thread_vars(base_url: str) -> dict[str, str | None]:
        with ServiceClient(base_url, timeout_s=5) as http:
            env = http.get("/debug/env").data["env"]
        return {var: env.get(var) for var in THREAD_VARS}

    rt = runtime(cpus=1.5)
    rt.prepare(hostile("baseline"))
    assert thread_vars(rt.start(20).base_url) == dict.fromkeys(THREAD_VARS, "2")
    rt.warm(20)
    info = rt.fresh(20)
    assert thread_vars(info.base_url) == dict.fromkeys(THREAD_VARS, "2")
    env = client.api.inspect_container(rt.container.id)["Config"]["Env"]
    assert {f"{var}=2" for var in THREAD_VARS} <= set(env)
    assert client.api.inspect_container(rt.container.id)["HostConfig"]["NanoCpus"] == 1_500_000_000


@docker_only
def test_a_teardown_during_warm_starts_leaves_no_container(runtime, hostile, client) -> None:
    """Copies still being created when the grading ends: none may appear after teardown's sweep."""
    rt = runtime()
    rt.prepare(hostile("baseline"))
    rt.start(20)
    rt.warm(20, copies=3)
    label = rt.run_label
    rt.teardown()
    time.sleep(3)  # a copy created late would show up by now
    left = client.containers.list(all=True, filters={"label": f"shiftwork.run={label}"})
    assert left == [], [c.id for c in left]
    rt.warm(20, copies=1)  # after teardown: nothing starts (no image, no network)
    assert client.containers.list(all=True, filters={"label": f"shiftwork.run={label}"}) == []
