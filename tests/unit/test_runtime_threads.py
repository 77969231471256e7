"""The thread-pool caps both runtimes give the service: the exercise's CPU limit, rounded up."""
from __future__ import annotations

import pytest

from harness.runtime.threads import THREAD_VARS, thread_count, thread_env


@pytest.mark.parametrize("cpus,threads", [
    (1.0, 1), (1, 1), (1.5, 2), (2.0, 2), (2.01, 3), (0.5, 1), (0.1, 1), (0.0, 1), (4.0, 4),
    (0.1 * 3 * 10, 3),  # 3.0000000000000004: float noise must not add a thread
])
def test_thread_count_is_the_cpu_limit_rounded_up(cpus: float, threads: int) -> None:
    assert thread_count(cpus) == threads


def test_thread_env_sets_every_pool_to_the_same_count() -> None:
    assert THREAD_VARS == ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    assert thread_env(1.5) == {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    assert thread_env(1.0) == dict.fromkeys(THREAD_VARS, "1")


@pytest.mark.parametrize("cpus", [1.0, 1.5, 0.5, 2.0])
def test_the_bundle_readme_tells_candidates_the_cap_the_runtimes_set(cpus: float) -> None:
    from grader.exercise import load_exercise
    from harness.bundle import render

    ex = load_exercise("support-triage")
    ex = ex.model_copy(update={"limits": ex.limits.model_copy(update={"cpus": cpus})})
    readme = " ".join(render("README.md.j2", {"ex": ex, "candidate": "c", "brief": "", "starter_entries": ["app/"],
                                              "wheel": "w.whl", "settings": None}).split())
    assert (f"`OMP_NUM_THREADS`, `OPENBLAS_NUM_THREADS` and `MKL_NUM_THREADS` set to {thread_count(cpus)} "
            "(the CPU limit rounded up") in readme
