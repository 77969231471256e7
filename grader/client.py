"""HTTP client for talking to an untrusted service: a total deadline and a size cap on every call.

Per-read timeouts (what requests/httpx/docker-py offer) let a server that trickles one
byte a second hold a call open for ever. Here every socket operation gets at most the
time left until the call's deadline, so a call ends within its deadline plus one
scheduling tick whatever the server does. Answers are streamed and the read stops at the
size cap. Redirects are never followed (httpcore does not follow them at all).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpcore

from grader.transcript import CallError

log = logging.getLogger(__name__)

_local = threading.local()  # the deadline of the call running in this thread (monotonic)


def _remaining(timeout: float | None) -> float | None:
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        return 0.0
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        left = _remaining(timeout)
        if left == 0.0:
            raise httpcore.ReadTimeout("deadline reached")
        return self._inner.read(max_bytes, left)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        left = _remaining(timeout)
        if left == 0.0:
            raise httpcore.WriteTimeout("deadline reached")
        self._inner.write(buffer, left)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Wraps every socket operation so it waits no longer than the current call's deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        left = _remaining(timeout)
        if left == 0.0:
            raise httpcore.ConnectTimeout("deadline reached")
        return _DeadlineStream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:  # pragma: no cover
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:  # pragma: no cover
        time.sleep(seconds)


_NO_JSON = object()


@dataclass
class Reply:
    """What one call produced. `error` is None only for a 2xx answer whose body is JSON."""

    status_code: int | None
    body: bytes
    latency_ms: float
    error: CallError | None = None
    detail: str = ""  # one line for evidence: what went wrong or an excerpt of the body
    data: Any = None  # parsed JSON (None when the body is not JSON)
    is_json: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def excerpt(self, limit: int = 300) -> str:
        text = self.body[:limit].decode("utf-8", "replace")
        return text + ("…" if len(self.body) > limit else "")


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: deeply nested JSON on purpose
        return _NO_JSON


class ServiceClient:
    """A small thread-safe client for one service. Use as a context manager or call close()."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, max_bytes: int = 5_000_000,
                 max_connections: int = 16) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._pool = httpcore.ConnectionPool(
            max_connections=max_connections, max_keepalive_connections=max_connections,
            retries=0, network_backend=_DeadlineBackend(),
        )

    def get(self, path: str, *, timeout_s: float | None = None) -> Reply:
        return self.request("GET", path, timeout_s=timeout_s)

    def post_json(self, path: str, payload: Any, *, timeout_s: float | None = None) -> Reply:
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        return self.request("POST", path, body=body, timeout_s=timeout_s)

    def request(self, method: str, path: str, *, body: bytes | None = None,
                content_type: str = "application/json", timeout_s: float | None = None) -> Reply:
        """One call with a total wall-clock deadline of `timeout_s` (default: the client's)."""
        budget = self.timeout_s if timeout_s is None else timeout_s
        start = time.monotonic()
        _local.deadline = start + max(0.0, budget)
        # One connection per call: servers that drop a kept-alive connection after an error (uvicorn
        # does after a 500) would otherwise make the *next* call fail, and a reused socket could carry
        # leftovers of a previous, cut-off answer.
        headers = [(b"Host", self._host_header()), (b"Accept", b"application/json"),
                   (b"User-Agent", b"shiftwork-grader"), (b"Connection", b"close")]
        if body is not None:
            headers += [(b"Content-Type", content_type.encode()), (b"Content-Length", str(len(body)).encode())]
        ext = {"timeout": {"connect": budget, "read": budget, "write": budget, "pool": budget}}
        status: int | None = None
        chunks: list[bytes] = []
        try:
            with self._pool.stream(method, self.base_url + path, headers=headers,
                                   content=body, extensions=ext) as resp:
                status = resp.status
                declared = _content_length(resp.headers)
                if declared is not None and declared > self.max_bytes:
                    return self._done(start, status, b"", "too_large",
                                      f"answer declares {declared} bytes, cap is {self.max_bytes}")
                size = 0
                for chunk in resp.iter_stream():
                    size += len(chunk)
                    if size > self.max_bytes:
                        return self._done(start, status, b"".join(chunks), "too_large",
                                          f"answer exceeded the {self.max_bytes}-byte cap; stopped reading")
                    chunks.append(chunk)
        except httpcore.TimeoutException:
            return self._done(start, status, b"".join(chunks), "timeout",
                              f"no complete answer within {budget:g} s")
        except httpcore.RemoteProtocolError as exc:
            kind: CallError = "too_large" if "too long" in str(exc) else "connection"
            return self._done(start, status, b"".join(chunks), kind, f"protocol error: {exc}"[:200])
        except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
            return self._done(start, status, b"".join(chunks), "connection",
                              f"{type(exc).__name__}: {exc}"[:200] or type(exc).__name__)
        finally:
            _local.deadline = None
        return self._classify(start, status, b"".join(chunks))

    def _classify(self, start: float, status: int | None, body: bytes) -> Reply:
        data = _parse_json(body) if body else _NO_JSON
        reply = self._done(start, status, body, None, "")
        if data is not _NO_JSON:
            reply.data, reply.is_json = data, True
        assert status is not None
        if status >= 500:
            reply.error, reply.detail = "server_error", f"HTTP {status}: {reply.excerpt(200)}"
        elif status >= 400:
            reply.error, reply.detail = "client_error", f"HTTP {status}: {reply.excerpt(200)}"
        elif status >= 300 or status < 200:
            reply.error, reply.detail = "contract", f"HTTP {status} (redirects are not followed)"
        elif not reply.is_json:
            reply.error, reply.detail = "not_json", f"HTTP {status}, body is not JSON: {reply.excerpt(200)!r}"
        return reply

    @staticmethod
    def _done(start: float, status: int | None, body: bytes, error: CallError | None, detail: str) -> Reply:
        return Reply(status_code=status, body=body, latency_ms=(time.monotonic() - start) * 1000.0,
                     error=error, detail=detail)

    def _host_header(self) -> bytes:
        return self.base_url.split("://", 1)[-1].split("/", 1)[0].encode()

    def close(self) -> None:
        try:
            self._pool.close()
        except Exception:  # closing must never fail the grading
            log.debug("closing the connection pool failed", exc_info=True)

    def __enter__(self) -> "ServiceClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
