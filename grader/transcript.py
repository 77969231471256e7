"""What replay observed: every request, answer, monitoring read and timing.

Checks read only this (plus ground truth), never the live service, so checks are pure
functions and can be unit-tested on hand-made transcripts.
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field

from grader.contract import MonitoringResponse, Result

CallError = Literal[
    "timeout", "too_large", "connection", "not_json", "contract", "server_error", "client_error"
]


class Exchange(BaseModel):
    """One POST /predict of one batch."""

    batch: int
    phase: str
    ids: list[str]
    status_code: int | None = None
    error: CallError | None = None
    detail: str = ""  # short excerpt for evidence: what came back, capped
    latency_ms: float
    results: list[Result] | None = None  # parsed and aligned to ids when the answer was valid


class MonitorRead(BaseModel):
    after_batch: int
    records_seen: int  # records sent in this scenario so far
    status_code: int | None = None
    error: CallError | None = None
    view: MonitoringResponse | None = None


class FeedbackCall(BaseModel):
    after_batch: int
    for_batch: int
    labels: int
    status_code: int | None = None
    error: CallError | None = None


class ScenarioRun(BaseModel):
    scenario: str
    batch_size: int
    exchanges: list[Exchange] = Field(default_factory=list)
    monitor: list[MonitorRead] = Field(default_factory=list)
    feedback: list[FeedbackCall] = Field(default_factory=list)
    aborted: str | None = None  # why replay stopped early, if it did
    # added by replay (optional, backward compatible):
    restart_ready_s: float | None = None  # the restart before this scenario (fresh monitoring window)
    load: "LoadRun | None" = None  # this scenario's load phase, if it had one
    restart: "RestartRun | None" = None  # this scenario's restart phase, if it had one


class Probe(BaseModel):
    """A malformed body sent on purpose; a 4xx is expected."""

    name: str
    sent: str  # excerpt
    status_code: int | None = None
    error: CallError | None = None
    detail: str = ""


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (inf allowed): p95 of 20 requests is the 19th fastest."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = max(0, math.ceil(q / 100.0 * len(ordered)) - 1)
    return ordered[k]


class LoadRun(BaseModel):
    concurrency: int
    batch_size: int
    latencies_ms: list[float] = Field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = Field(default_factory=list)
    # p95 (ms, errors as infinitely slow) of every run when the first missed the budget and the
    # load was measured again; the latencies above are the fastest run's. Empty: measured once.
    attempts_p95_ms: list[float] = Field(default_factory=list)

    def p95_ms(self) -> float:
        """p95 with every failed request counted as infinitely slow (a fast 4xx is not a fast answer)."""
        return percentile(list(self.latencies_ms) + [math.inf] * self.errors, 95)


class RestartRun(BaseModel):
    attempted: bool = False
    ready_s: float | None = None
    served_after: bool = False
    error: str | None = None


class Transcript(BaseModel):
    exercise: str
    submission: str
    runtime: str
    status: Literal["graded", "build_failed", "start_failed", "crashed", "timed_out"] = "graded"
    reasons: list[str] = Field(default_factory=list)
    startup_s: float | None = None
    runs: list[ScenarioRun] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)
    load: LoadRun | None = None
    restart: RestartRun = Field(default_factory=RestartRun)
    # Clean in-distribution records sent again in clean-only batches at the end, so accuracy
    # is measured apart from validation: a service that 500s on messy batches still shows
    # how good its model is (the accuracy dimension), and loses only validation for it.
    accuracy_probe: list[Exchange] = Field(default_factory=list)
    peak_memory_mb: float | None = None
    oom_killed: bool = False
    timings_s: dict[str, float] = Field(default_factory=dict)  # startup, replay, checks, report
    # added by the grade orchestration (optional, backward compatible):
    notes: list[str] = Field(default_factory=list)  # e.g. "the local runtime does not isolate"
    log_tail: str = ""  # the service's last output when it failed to build/start or crashed (capped)
    seed: int | None = None
    candidate: str | None = None
