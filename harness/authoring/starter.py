"""exercises/<id>/starter/: what a candidate starts from, for a table exercise.

The files are the tabular kind's generic starter (harness/authoring/templates/starter): a
service that speaks contract v1 and does almost nothing, with TODOs where the grade looks.
Only `service/fields.py` is the exercise's own, rendered from its recipe; the contract is
written from the contract models (grader.openapi), its single source.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import jinja2

from grader.openapi import render_openapi
from harness.data.recipe import Recipe

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _fields(recipe: Recipe, groups: list[str]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES / "starter" / "service"), autoescape=False,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    numeric = [(f.name, _number(f.valid[0]), _number(f.valid[1])) for f in recipe.numeric()]
    return env.get_template("fields.py.j2").render(
        exercise=recipe.name, id_field=recipe.id_field, label=recipe.label, classes=recipe.classes, groups=groups,
        categorical=[f.name for f in recipe.categorical()], numeric=numeric, timestamp=recipe.time_field)


def _number(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() else repr(float(x))


def write_starter(folder: Path, recipe: Recipe, groups: list[str]) -> None:
    """`folder` (exercises/<id>/starter) from the generic starter and the recipe, replacing what was there."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(TEMPLATES / "starter", folder, ignore=shutil.ignore_patterns("*.j2", "__pycache__"))
    (folder / "service" / "fields.py").write_text(_fields(recipe, groups))
    (folder / "contract" / "openapi.json").write_text(render_openapi())
