"""Gradings shared by the whole test session, and the score table they fill.

Grading is the slow part of the integration tests (tens of seconds to minutes each on two
cores), so every submission is graded once per session and its report shared by every
test that asks: the full held-back plan of support-triage at seed 7 is generated once (through
the session's plan cache on disk, so CLI runs and web workers of the session read it too), the
reference solution is trained once (conftest.py `trained_reference`), and `Gradings`
caches grade_one results by key. Each grading adds a row to the score table, logged as it
happens and printed at the end of the session (tests/conftest.py pytest_terminal_summary).

Under pytest-xdist every worker process has its own session: `shared` is a folder all of them
see, where each key's report is written once (the first worker to ask grades it while holding the
key's file lock; the others wait and read it) and the score table is kept.
"""
from __future__ import annotations

import hashlib
import json
import logging
import runpy
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from _session import ROWS, TABLE_DIMS, format_table  # noqa: F401  (format_table: the tests' import point)
from filelock import FileLock

EXERCISE = "support-triage"
SEED = 7
SERVICES = Path(__file__).resolve().parent.parent / "fixtures" / "services"
SOLUTIONS = Path(__file__).resolve().parents[2] / "exercises" / EXERCISE / "solutions"
_log = logging.getLogger("shiftwork.tests.gradings")


def _quiet_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, quiet=True)


def planned(exercise: str, seed: int = SEED, only: list[str] | None = None) -> Any:
    """The plan of (exercise, seed, only) through the session's plan cache (SHIFTWORK_PLAN_CACHE, set by
    tests/conftest.py): CLI runs and web workers of this session that plan the same read it too."""
    from grader.exercise import load_exercise
    from harness.grading import cached_plan
    from harness.plan_cache import plan_cache_dir

    return cached_plan(load_exercise(exercise), seed, _quiet_console(), cache_dir=plan_cache_dir(), only=only)


def known_fields() -> list[str]:
    """The support-triage wire fields, read from the reference's fields.py (not imported as `triage`)."""
    ns = runpy.run_path(str(SOLUTIONS / "reference" / "triage" / "fields.py"))
    return list(ns["KNOWN_FIELDS"])


def score_row(name: str, report: Any, took: float = 0.0) -> dict[str, Any]:
    row = {"service": name, "status": report.status, "total": report.score, "runtime": report.runtime,
           "took_s": round(took, 1),
           "in_distribution": report.accuracy.in_distribution if report.accuracy else None}
    for d in TABLE_DIMS:
        row[d] = report.dimensions[d].score if d in report.dimensions else None
    return row


class Gradings:
    """grade_one, once per key per session. Keys name what was graded, e.g. ("solution", name, runtime)."""

    def __init__(self, tmp: Path, shared: Path) -> None:
        self.tmp, self.shared, self._plan, self._done = tmp, shared, None, {}
        shared.mkdir(parents=True, exist_ok=True)
        # in every submission folder's name, hence in the names of the containers and networks
        # the docker runtime makes for it: lets a test find its own leftovers on a shared engine
        self.token = uuid.uuid4().hex[:6]

    @property
    def plan(self) -> Any:
        """The full held-back support-triage plan at seed 7 (every scenario), generated on first use."""
        if self._plan is None:
            self._plan = self._planned(EXERCISE, SEED)
        return self._plan

    def _planned(self, exercise: str, seed: int) -> Any:
        """planned(), one worker at a time per (exercise, seed): the others then read the plan cache."""
        with FileLock(f"{self.shared / f'plan-{exercise}-{seed}'}.lock"):
            return planned(exercise, seed)

    def plan_for(self, exercise: str, seed: int = SEED) -> Any:
        """The full held-back plan of `exercise` at `seed` (default 7), read or made once per session."""
        if exercise == EXERCISE and seed == SEED:
            return self.plan
        plans = self.__dict__.setdefault("_plans", {})
        if (exercise, seed) not in plans:
            plans[(exercise, seed)] = self._planned(exercise, seed)
        return plans[(exercise, seed)]

    def grade(self, key: tuple, folder: Path, *, runtime: str = "local", plan: Any = None,
              budgets: Any = None, name: str | None = None) -> Any:
        """grade_one(folder) unless `key` was graded before; `name` labels it in the score table."""
        if key in self._done:
            return self._done[key]
        from grader.report import Report
        from harness.grading import grade_one

        stored = self.shared / f"{hashlib.sha256(repr(key).encode()).hexdigest()[:20]}.json"
        with FileLock(f"{stored}.lock"):
            if stored.is_file():  # another worker of this session graded it
                self._done[key] = Report.model_validate_json(stored.read_text())
                return self._done[key]
            name = name or "/".join(str(k) for k in key)
            out = self.tmp / "reports" / f"{len(self._done):02d}-{''.join(c if c.isalnum() else '-' for c in name)}"
            began = time.monotonic()
            report, _ = grade_one(folder, out=out, runtime=runtime, plan=plan or self.plan, budgets=budgets,
                                  console=_quiet_console())
            took = time.monotonic() - began
            row = score_row(name, report, took)
            with FileLock(f"{self.shared / ROWS}.lock"), (self.shared / ROWS).open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            _log.warning("graded %s: %s total %.1f (%s) in %.0fs", name, report.status, report.score,
                         ", ".join(f"{d} {row[d]:.1f}" for d in TABLE_DIMS if row[d] is not None), took)
            tmp = stored.with_suffix(".tmp")
            tmp.write_text(report.model_dump_json())
            tmp.replace(stored)
        self._done[key] = report
        return report

    @property
    def runtime(self) -> str:
        """Where the runtime-independent promises grade a solution: docker when an engine answers (so a
        solution is graded once per session and the docker tests share it), else local."""
        if "_runtime" not in self.__dict__:
            from harness.runtime.docker_engine import docker_available

            self._runtime = "docker" if docker_available() else "local"
        return self._runtime

    def solution(self, name: str, runtime: str | None = None, exercise: str = EXERCISE) -> Any:
        """A committed solution of `exercise` (default support-triage), materialized with seed 7 and
        graded with that exercise's full plan (runtime: `self.runtime` unless named)."""
        runtime = runtime or self.runtime
        from harness.solutions import materialize_solution

        other = exercise != EXERCISE  # support-triage keeps its keys and labels as they were
        key = ("solution", name, runtime, exercise) if other else ("solution", name, runtime)
        if key not in self._done:
            sub = f"{exercise}-{name}" if other else name
            folder = materialize_solution(exercise, name, self.tmp / "solutions" / runtime / f"{sub}-{self.token}",
                                          seed=SEED)
            label = (f"{exercise}/{name}" if other else name) + ("" if runtime == "local" else f" ({runtime})")
            return self.grade(key, folder, runtime=runtime, plan=self.plan_for(exercise), name=label)
        return self._done[key]

    def at_seed(self, exercise: str, name: str, seed: int, runtime: str = "docker") -> Any:
        """A solution (or _seed_fairness.MID_LADDER) graded as a candidate with `seed`: trained on that
        seed's train.csv, graded on that seed's full held-back plan. At seed 7 it is `solution`'s grading."""
        from _seed_fairness import MID_LADDER, materialize

        if seed == SEED and name != MID_LADDER:
            return self.solution(name, runtime=runtime, exercise=exercise)
        key = ("seed", exercise, name, seed, runtime)
        if key not in self._done:
            folder = materialize(exercise, name, seed, self.tmp / "seeds" / f"{exercise}-{name}-{seed}-{self.token}")
            return self.grade(key, folder, runtime=runtime, plan=self.plan_for(exercise, seed),
                              name=f"{exercise}/{name}@{seed}" + ("" if runtime == "local" else f" ({runtime})"))
        return self._done[key]

    def fixture(self, service: str, config_name: str, config: dict[str, Any], *, runtime: str = "local",
                plan: Any = None, budgets: Any = None, tag: str = "") -> Any:
        """A copy of tests/fixtures/services/<service> with <config_name> written next to serve.py."""
        key = ("fixture", service, json.dumps(config, sort_keys=True), runtime, tag)
        if key in self._done:
            return self._done[key]
        label = config.get("mode") or config.get("rung") or "default"
        dest = self.tmp / "fixtures" / runtime / f"{service}-{label}{('-' + tag) if tag else ''}"
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(SERVICES / service, dest, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
        (dest / config_name).write_text(json.dumps(config))
        name = f"{service}:{label}{('[' + tag + ']') if tag else ''}" + ("" if runtime == "local" else f" ({runtime})")
        return self.grade(key, dest, runtime=runtime, plan=plan, budgets=budgets, name=name)
