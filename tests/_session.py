"""What the processes of one test session share (pytest-xdist runs `make test` on two): a folder, and
the score table every grading of the session adds a row to (tests/integration/_gradings.py)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

ROWS = "score-rows.jsonl"  # in <shared_tmp>/gradings: one row per grading of the session, in order
TABLE_DIMS = ("validation", "monitoring", "degradation", "operations", "accuracy")


def shared_tmp(factory: pytest.TempPathFactory) -> Path:
    """A temporary folder every process of this test session sees: under pytest-xdist each worker's
    base folder is `<the controller's>/popen-gwN`, so the controller's base folder; else our own."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def gradings_dir(factory: pytest.TempPathFactory) -> Path:
    """Where every process of the session keeps the reports it graded and the score table's rows."""
    return shared_tmp(factory) / "gradings"


def format_table(rows: list[dict[str, Any]]) -> str:
    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.1f}"

    head = f"{'service':<34} {'status':<10} {'total':>6} " + " ".join(f"{d[:11]:>11}" for d in TABLE_DIMS) \
        + f" {'acc(in-d)':>9} {'runtime':>7} {'took s':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        acc = "-" if r["in_distribution"] is None else f"{r['in_distribution']:.3f}"
        lines.append(f"{r['service']:<34} {r['status']:<10} {num(r['total']):>6} "
                     + " ".join(f"{num(r[d]):>11}" for d in TABLE_DIMS)
                     + f" {acc:>9} {str(r['runtime']):>7} {r['took_s']:>7}")
    return "\n".join(lines)
