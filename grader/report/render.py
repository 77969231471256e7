"""Write report.json, report.md and report.html (jinja2 templates under templates/), and the run's
interview kit as kit.md and a printable kit.html beside them."""
from __future__ import annotations

import base64
import logging
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, TypeAdapter

from grader.checks.base import CheckContext
from grader.report.model import AccuracySummary, Report
from grader.report.plots import all_figures

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _md_cell(value: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "html.j2"]), trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["md"] = _md_cell
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v, d=1: "—" if v is None else f"{v:.{d}f}"
    env.filters["measure"] = _measure
    return env


def _measure(value: float | None, summary: AccuracySummary) -> str:
    """An accuracy as a percentage; an error (e.g. MAE) as a number in the exercise's units."""
    if value is None:
        return "—"
    if summary.metric_name == "accuracy":
        return f"{100 * value:.1f}%"
    return f"{value:.1f}" if abs(value) >= 1000 else f"{value:.3f}"


def _context(report: Report) -> dict:
    by_dim: dict[str, list] = {}
    for c in report.checks:
        by_dim.setdefault(c.dimension, []).append(c)
    extra = report.model_extra or {}
    return {"r": report, "by_dim": by_dim, "notes": list(extra.get("notes") or []),
            "log_tail": str(extra.get("service_log_tail") or "")}


def render_markdown(report: Report) -> str:
    return _environment().get_template("report.md.j2").render(**_context(report))


def render_kit_markdown(report: Report) -> str:
    return _environment().get_template("kit.md.j2").render(**_context(report))


def render_kit_html(report: Report) -> str:
    return _environment().get_template("kit.html.j2").render(**_context(report))


def render_html(report: Report, figures: dict[str, bytes]) -> str:
    images = [(cap, base64.b64encode(png).decode("ascii")) for cap, png in figures.items()]
    return _environment().get_template("report.html.j2").render(images=images, **_context(report))


FIGURES = "figures"  # a folder of the report: NN.png and index.json (FigureEntry list), for pages that show them


class FigureEntry(BaseModel):
    file: str  # NN.png inside FIGURES
    caption: str


def write_reports(report: Report, ctx: CheckContext, out: Path) -> dict[str, Path]:
    """Write the three files into `out` (created if needed), the figures as PNG files beside them and,
    when the report has an interview kit, kit.md and kit.html; returns {"json"|"md"|"html", and
    "kit_md"|"kit_html" with a kit: path}."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(report.model_dump_json(indent=2) + "\n")
    paths["md"].write_text(render_markdown(report))
    figures = all_figures(ctx)
    paths["html"].write_text(render_html(report, figures))
    if report.interview_kit is not None:
        paths["kit_md"], paths["kit_html"] = out / "kit.md", out / "kit.html"
        paths["kit_md"].write_text(render_kit_markdown(report))
        paths["kit_html"].write_text(render_kit_html(report))
    folder = out / FIGURES
    folder.mkdir(exist_ok=True)
    index = []
    for n, (caption, png) in enumerate(figures.items(), start=1):
        (folder / f"{n:02d}.png").write_bytes(png)
        index.append(FigureEntry(file=f"{n:02d}.png", caption=caption))
    (folder / "index.json").write_text(TypeAdapter(list[FigureEntry]).dump_json(index, indent=1).decode() + "\n")
    log.info("reports written to %s", out)
    return paths
