"""The archives the load test's uploaders send: deterministic, so the test can check what was stored."""
from __future__ import annotations

import io
import zipfile


def upload_bytes(i: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        # fixed times: writestr(name, ...) would stamp the clock, and the test recomputes these bytes
        zf.writestr(zipfile.ZipInfo("README.md", (2026, 1, 1, 0, 0, 0)), f"# upload {i}\n")
        zf.writestr(zipfile.ZipInfo("Dockerfile", (2026, 1, 1, 0, 0, 0)),
                    "FROM python:3.11-slim\nCMD [\"python\", \"-m\", \"http.server\"]\n")
    return buf.getvalue()
