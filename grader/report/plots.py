"""Figures for the HTML report, as PNG bytes (matplotlib, Agg; no pyplot global state).

* drift timeline per scenario: x = records sent; shifted phases shaded; scored onsets as
  vertical lines; the service's drift / data-quality / performance alarms as step lines
  (failed /monitoring reads marked with x).
* latency histogram of the load run with the p95 and the budget marked.
"""
from __future__ import annotations

import io
import logging
import math

import matplotlib

matplotlib.use("Agg")  # before any figure exists; harmless if already Agg
from matplotlib.figure import Figure  # noqa: E402

from grader.checks.alarms import state  # noqa: E402
from grader.checks.base import CheckContext  # noqa: E402
from grader.transcript import LoadRun, percentile  # noqa: E402

log = logging.getLogger(__name__)

SIGNALS = (("drift", "drift", "#d62728"), ("quality", "data quality", "#1f77b4"),
           ("performance", "performance", "#2ca02c"))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def drift_timeline(ctx: CheckContext, scenario: str) -> bytes:
    traffic = ctx.traffic[scenario]
    phases = [p.truth for p in traffic.phases]
    run = next((r for r in ctx.transcript.runs if r.scenario == scenario), None)
    reads = sorted(run.monitor, key=lambda m: m.records_seen) if run else []
    end = max([p.end for p in phases] + [1])
    fig = Figure(figsize=(10, 2.8))
    ax = fig.subplots()
    for ph in phases:
        if ph.shifts:
            ax.axvspan(ph.start, ph.end, color="#ffdd99", alpha=0.5, lw=0)
        ax.text((ph.start + ph.end) / 2, 3.05, ph.name, ha="center", va="bottom", fontsize=7)
        for row, (signal, _, color) in enumerate(reversed(SIGNALS)):
            if getattr(ctx.scored, signal).get((scenario, ph.name)) == "detect":
                ax.vlines(ph.start, row - 0.05, row + 0.95, colors=color, linestyles="--", lw=1.2)
    for row, (signal, label, color) in enumerate(reversed(SIGNALS)):
        xs, ys, bad = [0], [row + 0.1], []
        for r in reads:
            s = state(r, signal)  # type: ignore[arg-type]
            if s is None:
                bad.append(r.records_seen)
            xs.append(r.records_seen)
            ys.append(row + (0.8 if s else 0.1))
        ax.step(xs, ys, where="post", color=color, lw=1.5, label=label)
        if bad:
            ax.plot(bad, [row + 0.45] * len(bad), "x", color="grey", ms=3)
    ax.set_xlim(0, end)
    ax.set_ylim(-0.1, 3.4)
    ax.set_yticks([0.45, 1.45, 2.45], [s[1] for s in reversed(SIGNALS)], fontsize=8)
    ax.set_xlabel("records sent", fontsize=8)
    ax.set_title(f"{scenario}: alarms (high = on) vs shifted phases (shaded) and scored onsets (dashed)",
                 fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    return _png(fig)


def latency_histogram(load: LoadRun, budget_ms: float) -> bytes | None:
    if not load.latencies_ms:
        return None
    lat = load.latencies_ms
    p95 = percentile(lat + [math.inf] * load.errors, 95)
    fig = Figure(figsize=(6, 2.8))
    ax = fig.subplots()
    ax.hist(lat, bins=min(40, max(5, len(lat) // 5)), color="#7f7f7f")
    ax.axvline(budget_ms, color="#d62728", ls="--", label=f"budget {budget_ms:g} ms")
    if math.isfinite(p95):
        ax.axvline(p95, color="#1f77b4", label=f"p95 {p95:.0f} ms")
    ax.set_xlabel("latency per /predict request (ms)", fontsize=8)
    ax.set_ylabel("requests", fontsize=8)
    ax.set_title(f"{len(lat)} requests at concurrency {load.concurrency}, {load.errors} errors", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def all_figures(ctx: CheckContext) -> dict[str, bytes]:
    """{caption: png} for the HTML report; a figure that cannot be drawn is skipped with a log line."""
    figs: dict[str, bytes] = {}
    for name in ctx.traffic:
        try:
            figs[f"Drift timeline — {name}"] = drift_timeline(ctx, name)
        except Exception:  # a broken figure must not cost the candidate their report
            log.exception("could not draw the timeline of %s", name)
    if ctx.transcript.load is not None:
        try:
            png = latency_histogram(ctx.transcript.load, ctx.exercise.budgets.p95_ms)
            if png:
                figs["Latency under load"] = png
        except Exception:
            log.exception("could not draw the latency histogram")
    return figs
