"""The grader's HTTP client: total deadlines and size caps against real hostile servers on 127.0.0.1."""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from grader.client import ServiceClient
from harness.runtime.local import free_port

_spec = importlib.util.spec_from_file_location(
    "hostile", Path(__file__).resolve().parents[1] / "fixtures" / "services" / "hostile.py")
hostile = importlib.util.module_from_spec(_spec)
sys.modules["hostile"] = hostile
_spec.loader.exec_module(hostile)  # type: ignore[union-attr]


def call(mode: str, timeout_s: float = 1.0, max_bytes: int = 1_000_000):
    with hostile.HostileServer(mode) as server, ServiceClient(server.url, timeout_s=timeout_s,
                                                              max_bytes=max_bytes) as client:
        start = time.monotonic()
        reply = client.get("/predict")
        return reply, time.monotonic() - start, server


@pytest.mark.parametrize("mode", ["trickle_body", "trickle_headers", "silent"])
def test_slow_servers_end_in_timeout_within_the_total_deadline(mode: str) -> None:
    reply, took, _ = call(mode, timeout_s=1.0)
    assert reply.error == "timeout"
    # A per-read timeout would never end on a trickle; the total deadline does (slack for a busy box).
    assert took < 4.0, took


@pytest.mark.parametrize("mode", ["big", "endless", "big_unsized"])
def test_huge_answers_are_cut_at_the_cap(mode: str) -> None:
    reply, took, _ = call(mode, timeout_s=10.0, max_bytes=1_000_000)
    assert reply.error == "too_large"
    assert len(reply.body) <= 1_000_000
    assert took < 10.0


def test_redirects_are_not_followed() -> None:
    reply, _, server = call("redirect")
    assert reply.status_code == 302
    assert reply.error == "contract"
    assert server.requests == 1


def test_a_good_answer_is_parsed() -> None:
    reply, _, _ = call("ok")
    assert reply.ok and reply.status_code == 200
    assert reply.data == {"status": "ok"}
    assert reply.latency_ms > 0


def test_connection_refused_is_a_connection_error() -> None:
    with ServiceClient(f"http://127.0.0.1:{free_port()}", timeout_s=2.0) as client:
        reply = client.post_json("/predict", {"records": []})
    assert reply.error == "connection"
    assert reply.status_code is None


def test_the_deadline_holds_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with hostile.HostileServer("trickle_body") as server, ServiceClient(server.url, timeout_s=0.8) as client:
        start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda _: client.get("/x"), range(4)))
        took = time.monotonic() - start
    assert {r.error for r in replies} == {"timeout"}
    assert took < 4.0


def test_a_dropped_connection_does_not_spoil_the_next_call() -> None:
    with hostile.HostileServer("error_then_close") as server, ServiceClient(server.url, timeout_s=2.0) as client:
        replies = [client.post_json("/predict", {"records": [{"id": "a"}]}) for _ in range(3)]
    assert [(r.status_code, r.error) for r in replies] == [(500, "server_error")] * 3
