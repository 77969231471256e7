"""One exercise's cohort: each graded invite's dimension scores side by side, a plot of their
spread, a CSV export and a streamed zip of every submission with its report."""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy.orm import Session

from grader.exercise import DIMENSIONS
from harness.store.models import Invite, Recruiter, Result
from harness.store.settings import WebSettings
from harness.store.timeline import counted_job
from harness.web.invites import list_invites
from harness.web.reports import REPORT_FILES, inside, report_file

log = logging.getLogger(__name__)
CSV_COLUMNS = ["invite_id", "candidate_name", "candidate_id", "email", "job_id", "status", "score",
               *DIMENSIONS, "reason", "graded_at"]


@dataclass
class CohortRow:
    invite_id: int
    candidate_name: str
    candidate_id: str
    email: str | None
    job_id: int
    status: str
    score: float | None
    dimensions: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    graded_at: dt.datetime | None = None
    result: Result | None = None  # kept for the zip (its report folder)
    upload_path: str | None = None
    upload_name: str = ""


def _row(invite: Invite) -> CohortRow | None:
    """The invite's grading that counts (timeline.counted_job: picked, else the newest that graded)."""
    job = counted_job(invite)
    result = job.final if job is not None else None
    if job is None or result is None:
        return None
    dims = {d: float(v) for d, v in (result.dimensions or {}).items() if isinstance(v, (int, float))}
    return CohortRow(invite_id=invite.id, candidate_name=invite.candidate_name, candidate_id=invite.candidate_id,
                     email=invite.email, job_id=job.id, status=result.status, score=result.score, dimensions=dims,
                     reason=result.reason, graded_at=job.finished_at or result.created_at, result=result,
                     upload_path=job.upload.stored_path, upload_name=job.upload.filename)


def cohort_rows(session: Session, exercise: str, *, viewer: Recruiter) -> list[CohortRow]:
    """The invites `viewer` may see, best score first; results without a score (a build that failed, ...) last."""
    rows = [r for r in (_row(i) for i in list_invites(session, exercise, viewer=viewer)) if r is not None]
    return sorted(rows, key=lambda r: (r.score is None, -(r.score or 0.0), r.invite_id))


def cohort_csv(rows: list[CohortRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.invite_id, _cell(r.candidate_name), r.candidate_id, _cell(r.email or ""), r.job_id,
                         r.status, "" if r.score is None else round(r.score, 1),
                         *("" if d not in r.dimensions else round(r.dimensions[d], 1) for d in DIMENSIONS),
                         _cell(r.reason), "" if r.graded_at is None else r.graded_at.isoformat(timespec="seconds")])
    return buf.getvalue()


def _cell(text: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: names come from recruiters' CSVs.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


SMALL_COHORT = 8  # up to this many candidates the plot labels each one instead of drawing boxes


def cohort_plot(rows: list[CohortRow], exercise: str) -> bytes:
    """The cohort figure (cohort_figure) as a PNG."""
    fig = cohort_figure(rows, exercise)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def cohort_figure(rows: list[CohortRow], exercise: str) -> Any:
    """A PNG: each dimension's scores across the cohort, every candidate a dot; a small cohort's dots are
    labelled with the candidates' names (a box plot of a handful of points would only mislead), a larger
    one gets a box per dimension."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Figure + Agg canvas, not pyplot: no global state, safe in the server's worker threads.
    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    series = [[r.dimensions[d] for r in rows if d in r.dimensions] for d in DIMENSIONS]
    if any(series) and len(rows) <= SMALL_COHORT:
        for k, row in enumerate(rows):
            xs = [i + 1 + (k - (len(rows) - 1) / 2) * 0.8 / max(len(rows), 1) for i, d in enumerate(DIMENSIONS)
                  if d in row.dimensions]
            ys = [row.dimensions[d] for d in DIMENSIONS if d in row.dimensions]
            ax.scatter(xs, ys, s=30, zorder=3, label=row.candidate_name[:40])
            for x, y in zip(xs, ys):
                ax.annotate(row.candidate_name[:12], (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
        ax.legend(fontsize=7, loc="lower right")
    elif any(series):
        positions = [i + 1 for i, s in enumerate(series) if s]
        ax.boxplot([s for s in series if s], positions=positions, widths=0.5, showfliers=False)
        for i, values in enumerate(series):
            # a small fixed spread, so equal scores stay visible as several dots
            xs = [i + 1 + (((k * 7919) % 11) - 5) * 0.02 for k in range(len(values))]
            ax.scatter(xs, values, s=18, alpha=0.7, zorder=3)
    else:
        ax.text(0.5, 0.5, "no graded invites yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks(range(1, len(DIMENSIONS) + 1), list(DIMENSIONS))
    ax.set_ylim(-5, 105)
    ax.set_ylabel("dimension score (0-100)")
    ax.set_title(f"{exercise}: {len(rows)} graded invite(s)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


class _Sink:
    """A write-only file for zipfile: collects bytes until the generator hands them on."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        chunks, self.chunks = self.chunks, []
        if chunks:
            yield b"".join(chunks)


def _archive_suffix(filename: str) -> str:
    name = filename.lower()
    for suffix in (".tar.gz", ".tgz", ".zip", ".tar"):
        if name.endswith(suffix):
            return suffix
    return ".bin"


def zip_entries(settings: WebSettings, rows: list[CohortRow]) -> list[tuple[str, Path | bytes]]:
    """What goes into the zip, decided before streaming starts (the DB session is gone by then)."""
    entries: list[tuple[str, Path | bytes]] = [("cohort.csv", cohort_csv(rows).encode())]
    for r in rows:
        folder = re.sub(r"[^A-Za-z0-9._-]", "_", r.candidate_id) or f"invite-{r.invite_id}"
        upload = inside(settings.storage_root, r.upload_path)
        if upload is not None and upload.is_file():
            entries.append((f"{folder}/submission{_archive_suffix(r.upload_name)}", upload))
        for kind in REPORT_FILES:
            path = report_file(settings, r.result, kind)
            if path is not None:
                entries.append((f"{folder}/{path.name}", path))
    return entries


def stream_zip(entries: list[tuple[str, Path | bytes]]) -> Iterator[bytes]:
    """The zip, a piece at a time: nothing is built whole in memory or on disk."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as zf:  # type: ignore[arg-type]
        for name, source in entries:
            if isinstance(source, bytes):
                zf.writestr(name, source)
            else:
                try:
                    with source.open("rb") as fh, zf.open(name, "w", force_zip64=True) as dst:
                        while chunk := fh.read(1 << 16):
                            dst.write(chunk)
                            yield from sink.drain()
                except OSError as exc:  # a file removed meanwhile: leave it out, say so in the log
                    log.warning("cohort zip: %s left out (%s)", name, exc.strerror or exc)
            yield from sink.drain()
    yield from sink.drain()
