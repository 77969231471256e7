"""Locust users for tests/integration/web/test_load.py: candidates opening their links and downloading
their bundles, and candidates uploading their work, all at once. Run by the test as a subprocess
(locust's gevent must not patch the test process); never imported by pytest."""
from __future__ import annotations

import itertools
import json
import os
import re

from _uploads import upload_bytes
from locust import HttpUser, constant, task
from locust.exception import StopUser

_TOKENS = json.loads(open(os.environ["SW_LOAD_TOKENS"], encoding="utf-8").read())
_openers = itertools.count()
_uploaders = itertools.count()


class Opener(HttpUser):
    """Opens the link's page, then downloads the bundle: what every candidate does first."""

    fixed_count = int(os.environ.get("SW_LOAD_OPENERS", "200"))
    wait_time = constant(0)

    @task
    def open_and_download(self) -> None:
        token = _TOKENS["open"][next(_openers) % len(_TOKENS["open"])]
        self.client.get(f"/i/{token}", name="/i/[token]")
        with self.client.get(f"/i/{token}/bundle.zip", name="/i/[token]/bundle.zip", catch_response=True) as r:
            if r.status_code == 200 and not r.content.startswith(b"PK"):
                r.failure("the bundle is not a zip")
        raise StopUser()


class Uploader(HttpUser):
    """Opens the link's page and uploads a zip with the form's token."""

    fixed_count = int(os.environ.get("SW_LOAD_UPLOADERS", "20"))
    wait_time = constant(0)

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
        raise StopUser()
