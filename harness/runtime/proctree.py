"""A service's process tree from /proc: who belongs to it, how much memory it holds, killing it.

Pids are kept with their start time so a pid the kernel has reused for an unrelated
process is never signalled.
"""
from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int, int, str] | None:
    """(ppid, session id, start time in ticks, state) of a live pid, or None."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    rest = raw.rsplit(")", 1)[-1].split()
    try:
        return int(rest[1]), int(rest[3]), int(rest[19]), rest[0]
    except (IndexError, ValueError):
        return None


def session_pids(root: int) -> dict[int, int]:
    """Live (non-zombie) processes in root's session or descending from root: pid -> start time."""
    table: dict[int, tuple[int, int, int, str]] = {}
    for entry in PROC.iterdir() if PROC.is_dir() else []:
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                table[int(entry.name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _sid, _start, _state) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = {pid for pid, st in table.items() if st[1] == root}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            found.add(pid)
        stack.extend(c for c in children.get(pid, []) if c not in found)
    return {pid: table[pid][2] for pid in found if pid in table and table[pid][3] != "Z"}


def signal_pids(pgid: int, pids: dict[int, int], sig: int) -> None:
    """Signal the process group and every listed pid that is still the same process."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for pid, start in pids.items():
        st = _stat(pid)
        if st is None or st[2] != start:
            continue
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def tree_rss_mb(pids: dict[int, int] | set[int]) -> float | None:
    """Summed resident memory (VmRSS) of the given processes, in MB; None when nothing is readable."""
    total_kb = 0
    seen = False
    for pid in pids:
        try:
            for line in (PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    seen = True
                    break
        except (OSError, ValueError, IndexError):
            continue
    return total_kb / 1024.0 if seen else None

