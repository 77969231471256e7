"""The Celery app: transport settings for long gradings, and the one task, shiftwork.grade_job.

Celery only carries "look at job N"; the database holds the state (see harness.queue).
Settings for jobs that run for many minutes on one Docker engine:

- prefork pool, concurrency 1, one task per child: a grading runs in a fresh child
  process (nothing leaks from one grading into the next), the parent stays free to
  consume and enforces the hard time limit by killing the child, which the solo pool
  cannot do; the child dies with its parent (prefork sets PR_SET_PDEATHSIG), so killing
  the worker process stops its grading too;
- prefetch 1 and late acks: a worker holds at most the message it is working on;
- visibility timeout (redis) above the longest grading, so a running grading's message
  is not handed to a second worker while the first still works on it;
- no result backend: results are rows in the app's database.

`shiftwork worker` and `serve` build their app with make_celery(settings, run_job).
"""
from __future__ import annotations

import functools
import logging
import os
import socket
from typing import Any, Callable

from celery import Celery

from grader.exercise import Budgets, Limits, list_exercises, load_exercise
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)

TASK_NAME = "shiftwork.grade_job"
QUEUE = "shiftwork.grading"
PLAN_AND_REPORT_S = 300.0  # held-back traffic generation before, checks and reports after the service runs
FS_TRANSPORT = "harness.queue.fs_transport:Transport"


@functools.lru_cache(maxsize=1)
def longest_grading_s() -> float:
    """The longest a grading may take over all exercises: build, run budget, planning and reports."""
    longest = Budgets().grading_timeout_s + Limits().build_timeout_s
    for ex_id in list_exercises():
        try:
            ex = load_exercise(ex_id)
        except Exception as exc:  # a broken exercise fails its own gradings; it must not stop the worker
            log.warning("exercise %s: %s", ex_id, exc)
            continue
        longest = max(longest, ex.budgets.grading_timeout_s + ex.limits.build_timeout_s)
    return longest + PLAN_AND_REPORT_S


def time_limits() -> tuple[float, float]:
    """(soft, hard): the soft limit ends the grading with a 'timed_out' result, the hard one kills the child."""
    soft = longest_grading_s()
    return soft, soft + 120.0


def celery_config(settings: WebSettings) -> dict[str, Any]:
    soft, hard = time_limits()
    transport: dict[str, Any] = {"visibility_timeout": int(2 * hard)}
    conf: dict[str, Any] = {"broker_url": settings.broker_url}
    if settings.uses_embedded_broker:
        queue = settings.folder("queue")
        folders = {name: queue / name for name in ("messages", "taken", "control")}
        for path in folders.values():
            path.mkdir(exist_ok=True)
        conf.update(broker_url="filesystem://localhost", broker_transport=FS_TRANSPORT)  # a host: kombu warns without
        transport.update(data_folder_in=str(folders["messages"]), data_folder_out=str(folders["messages"]),
                         processed_folder=str(folders["taken"]), control_folder=str(folders["control"]),
                         store_processed=False, polling_interval=1.0)
    conf.update(
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE,
        task_serializer="json", accept_content=["json"],
        task_ignore_result=True, result_backend=None,
        task_acks_late=True, task_reject_on_worker_lost=True,
        task_soft_time_limit=soft, task_time_limit=hard,
        worker_concurrency=1, worker_prefetch_multiplier=1, worker_max_tasks_per_child=1,
        worker_pool="prefork",
        worker_hijack_root_logger=False, worker_redirect_stdouts=False,
        worker_enable_remote_control=False,  # no broadcast mailboxes polled on the filesystem broker
        worker_send_task_events=False, task_send_sent_event=False,
    )
    return conf


def make_celery(settings: WebSettings, handler: Callable[..., Any] | None = None) -> Celery:
    """A Celery app for `settings`; with `handler`, shiftwork.grade_job is registered to call it.

    Senders (uploads, the reaper) only need the task's name; the worker passes the runner's
    run_job(settings, worker, job_id, main_pid=...) as `handler`.
    """
    app = Celery("shiftwork", set_as_current=False)
    app.conf.update(celery_config(settings))
    app.shiftwork_settings = settings  # type: ignore[attr-defined]
    app.shiftwork_worker = ""  # type: ignore[attr-defined]  # set by the worker process that consumes
    app.shiftwork_main_pid = 0  # type: ignore[attr-defined]
    if handler is not None:
        @app.task(name=TASK_NAME, bind=True)
        def grade_job(self: Any, job_id: int) -> None:
            handler(settings, self.app.shiftwork_worker or default_worker_name(), int(job_id),
                    main_pid=self.app.shiftwork_main_pid)

    return app


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
