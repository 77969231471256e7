"""Locust users for tests/integration/web/test_load.py: candidates opening their links and downloading
their bundles, and candidates uploading their work, all at once. Run by the test as a subprocess
(locust's gevent must not patch the test process); never imported by pytest."""
from __future__ import annotations

import itertools
import json
import os
import re

import gevent
from _uploads import upload_bytes
from locust import HttpUser, constant, task
from locust.exception import StopUser

_TOKENS = json.loads(open(os.environ["SW_LOAD_TOKENS"], encoding="utf-8").read())
_openers = itertools.count()
_uploaders = itertools.count()
_finished = itertools.count(1)
_TOTAL = int(os.environ.get("SW_LOAD_OPENERS", "200")) + int(os.environ.get("SW_LOAD_UPLOADERS", "20"))


class _Once(HttpUser):
    """A user that does its task once; the run ends when every task has (--run-time is only a bound)."""

    abstract = True
    wait_time = constant(0)

    def done(self) -> None:
        if next(_finished) >= _TOTAL and self.environment.runner is not None:
            # after the stats CSV's next write (every second): quitting at once would leave it behind
            gevent.spawn_later(3, self.environment.runner.quit)
        raise StopUser()


class Opener(_Once):
    """Opens the link's page, then downloads the bundle: what every candidate does first."""

    fixed_count = int(os.environ.get("SW_LOAD_OPENERS", "200"))

    @task
    def open_and_download(self) -> None:
        token = _TOKENS["open"][next(_openers) % len(_TOKENS["open"])]
        self.client.get(f"/i/{token}", name="/i/[token]")
        with self.client.get(f"/i/{token}/bundle.zip", name="/i/[token]/bundle.zip", catch_response=True) as r:
            if r.status_code == 200 and not r.content.startswith(b"PK"):
                r.failure("the bundle is not a zip")
        self.done()


class Uploader(_Once):
    """Opens the link's page and uploads a zip with the form's token."""

    fixed_count = int(os.environ.get("SW_LOAD_UPLOADERS", "20"))

    @task
    def upload(self) -> None:
        i = next(_uploaders)
        token = _TOKENS["upload"][i % len(_TOKENS["upload"])]
        page = self.client.get(f"/i/{token}", name="/i/[token]")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if match is None:
            raise StopUser()
        self.client.post(f"/i/{token}/upload", name="/i/[token]/upload", data={"csrf_token": match.group(1)},
                         files={"file": (f"work-{i}.zip", upload_bytes(i), "application/zip")})
        self.done()
