"""Grading benchmark: one docker grading of the reference, split by stage, and the replay overhead ratio.

The ratio is the grader's replay time (restarts included) over a bare HTTP loop that sends
the very calls the grader sent — predict batches, feedback, monitoring reads, probes, the
load phase at its concurrency — in the same order to the same service (the same image), and
performs the same fresh starts at the same points (a restart of the service, waited for until
it answers /health: the fresh starts the design requires are work, not overhead), with no
checks and no bookkeeping, measured in the same run.

Run: `make bench`, or `python benchmarks/bench_grading.py [RUNS]` (RUNS gradings, default
3; medians printed). Needs a Docker engine and the base image (`make base-image`). Figures
are printed, never asserted: the machine may be shared.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

EXERCISE = "support-triage"
SEED = 7
STAGES = ("plan", "build", "startup", "replay", "replay_restart_wait", "checks", "report")


@dataclass
class Call:
    method: str  # "RESTART": the grader started the service afresh here
    path: str
    body: bytes | None
    load: bool  # sent by the load phase's worker threads


class Recorder:
    """Wraps Replayer.call: every call the grader makes, in order (what the bare loop sends again)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def install(self) -> Any:
        from grader import replay

        original = replay.Replayer.call
        recorder = self

        def call(self: Any, method: str, path: str, payload: Any = None, raw: bytes | None = None) -> Any:
            body = raw if raw is not None else (None if payload is None else
                                                json.dumps(payload, separators=(",", ":"), default=str).encode())
            with recorder._lock:
                recorder.calls.append(Call(method, path, body, threading.current_thread().name.startswith("load")))
            return original(self, method, path, payload, raw)

        restart = replay.Replayer.restart

        def restarted(self: Any, why: str, fresh: bool = False) -> Any:
            with recorder._lock:
                recorder.calls.append(Call("RESTART", "", None, False))
            return restart(self, why, fresh)

        replay.Replayer.call = call  # type: ignore[method-assign]
        replay.Replayer.restart = restarted  # type: ignore[method-assign]

        def undo() -> None:
            replay.Replayer.call, replay.Replayer.restart = original, restart  # type: ignore[method-assign]

        return undo


def bare_loop(base_url: str, calls: list[Call], concurrency: int, restart: Any) -> float:
    """Send `calls` in order (load calls concurrently, as the grader does), restarting the service with
    `restart()` (-> its base URL, once it answers) where the grader did; seconds taken."""
    http = httpx.Client(base_url=base_url, timeout=30.0, trust_env=False)
    try:
        def send(c: Call) -> None:
            http.request(c.method, c.path, content=c.body,
                         headers={"Content-Type": "application/json"} if c.body is not None else None)

        began = time.perf_counter()
        k = 0
        while k < len(calls):
            if calls[k].method == "RESTART":
                http.close()
                http = httpx.Client(base_url=restart(), timeout=30.0, trust_env=False)
                k += 1
                continue
            if not calls[k].load:
                send(calls[k])
                k += 1
                continue
            j = k
            while j < len(calls) and calls[j].load:
                j += 1
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                list(pool.map(send, calls[k:j]))
            k = j
        return time.perf_counter() - began
    finally:
        http.close()


class KeptRuntime:
    """The docker runtime, kept alive after the grading so the bare loop talks to the same service."""

    @staticmethod
    def make(exercise: Any) -> Any:
        from harness.runtime.docker import DockerRuntime

        class Kept(DockerRuntime):
            def teardown(self) -> None:  # the grading's teardown: postponed
                pass

            def really_teardown(self) -> None:
                DockerRuntime.teardown(self)

        return Kept(exercise, run_label=f"bench-{int(time.time())}", keep_image=True)


def one_run(submission: Path, out: Path, plan: Any) -> dict[str, float]:
    from harness.grading import grade_one

    recorder = Recorder()
    undo = recorder.install()
    rt = KeptRuntime.make(plan.exercise)
    began = time.perf_counter()
    try:
        report, _ = grade_one(submission, out=out, plan=plan, runtime_obj=rt, console=Console(stderr=True, quiet=True))
        wall = time.perf_counter() - began
        undo()
        info = rt.restart(plan.exercise.budgets.startup_s)  # a fresh state, as the grader had
        load = next((c for c in plan.scenarios for ph in c.phases if ph.kind == "load"), None)
        conc = next((ph.concurrency for ph in load.phases if ph.kind == "load"), 8) if load else 8
        startup = plan.exercise.budgets.startup_s
        bare = bare_loop(info.base_url, recorder.calls, conc, lambda: rt.restart(startup).base_url)
        t_restarts = sum(1 for c in recorder.calls if c.method == "RESTART")
    finally:
        undo()
        rt.really_teardown()
    t = {k: float(report.timings_s.get(k, 0.0)) for k in STAGES}
    t["wall"] = wall
    t["bare_loop"] = bare
    t["replay_overhead_ratio"] = t["replay"] / bare if bare else float("nan")
    t["calls"] = float(len(recorder.calls) - t_restarts)
    t["fresh_starts"] = float(t_restarts)
    t["score"] = report.score
    return t


def _remove_kept_images() -> None:
    """The runs keep their images (so the next run builds from cache); none outlives the benchmark."""
    from harness.runtime.docker_engine import LABEL_RUN, docker_client

    client = docker_client()
    for image in client.images.list(filters={"label": LABEL_RUN}):
        if (image.labels or {}).get(LABEL_RUN, "").startswith("bench-"):
            try:
                client.images.remove(image.id, force=True)
            except Exception:  # another run's image in use: left for the sweep
                pass


def run(runs: int = 3) -> dict[str, list[float]]:
    from harness.grading import plan_grading
    from grader.exercise import load_exercise
    from harness.solutions import materialize_solution

    tmp = Path(tempfile.mkdtemp(prefix="shiftwork-bench-"))
    sub = materialize_solution(EXERCISE, "reference", tmp / "reference", seed=SEED)
    plan = plan_grading(load_exercise(EXERCISE), SEED, Console(stderr=True, quiet=True))
    out: dict[str, list[float]] = {}
    try:
        one_run(sub, tmp / "warm-up", plan)  # fills the build cache: the runs below have cached layers
        for k in range(runs):
            for key, v in one_run(sub, tmp / f"run-{k}", plan).items():
                out.setdefault(key, []).append(v)
    finally:
        _remove_kept_images()
    return out


def _print(results: dict[str, list[float]]) -> None:
    print(f"docker grading of {EXERCISE}/reference, cached layers, {len(results['wall'])} runs (median; all runs)")
    for key, vals in results.items():
        unit = "" if key in ("replay_overhead_ratio", "calls", "fresh_starts", "score") else " s"
        print(f"  {key:24s} {statistics.median(vals):8.2f}{unit}   " + ", ".join(f"{v:.2f}" for v in vals))


@pytest.mark.docker
def test_grading_wall_time_and_replay_overhead(capsys: pytest.CaptureFixture[str]) -> None:
    results = run(3)
    with capsys.disabled():
        print()
        _print(results)
    assert all(v > 0 for v in results["bare_loop"])


if __name__ == "__main__":
    _print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
