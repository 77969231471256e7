"""Thread-pool caps every runtime gives the service.

OpenMP, OpenBLAS and MKL size their pools by the host's cores, not by the container's CPU
quota: on a 16-core host capped at one CPU, a tree model's predict runs 16 threads that
spin against each other and the quota (a 100-row predict_proba took 123 ms on a loaded
machine, 2 ms with OMP_NUM_THREADS=1). So the pools are capped at the CPU limit.
"""
from __future__ import annotations

import math

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_count(cpus: float) -> int:
    """The CPU limit rounded up (1.5 CPUs can keep two threads busy), at least one."""
    # round first: a limit written 2.0 must not become 3 through float noise
    return max(1, math.ceil(round(float(cpus), 6)))


def thread_env(cpus: float) -> dict[str, str]:
    """The environment variables that cap the service's native thread pools at `cpus`."""
    n = str(thread_count(cpus))
    return {var: n for var in THREAD_VARS}
