"""The web app builds at most PARALLEL_BUILDS bundles at once, however many first opens arrive together."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest


def test_no_more_than_two_bundles_build_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.web import bundles

    running, peak, lock = [0], [0], threading.Lock()

    def slow_package(exercise: str, *, candidate: str, out: Path, console: Any) -> tuple[Path, Path]:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return out / candidate, out / f"{candidate}.zip"

    monkeypatch.setattr(bundles, "package_bundle", slow_package)
    invites = [SimpleNamespace(id=i, exercise="support-triage", candidate_id=f"c{i}") for i in range(6)]
    threads = [threading.Thread(target=bundles._build, args=(inv, tmp_path)) for inv in invites]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak[0] == bundles.PARALLEL_BUILDS == 2 and running[0] == 0
