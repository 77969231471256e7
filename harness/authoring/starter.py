"""exercises/<id>/starter/ and solutions/<role>/: the table exercises' generic services, made the exercise's own.

The starter (templates/tabular/starter) speaks contract v1 and does almost nothing, with
TODOs where the grade looks; the solutions (templates/tabular/solutions/<role>) are the generic
reference, accuracy-only and robust-demo services. Each reads the fields it knows from
`service/fields.py`, the one file rendered from the exercise's recipe; a starter's contract is
written from the contract models (grader.openapi), its single source.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import jinja2

from grader.openapi import render_openapi
from harness.data.recipe import Recipe
from harness.sources import code_root

# Beside grader/ and harness/, not inside them: the shiftwork wheel a candidate's bundle ships must never
# hold the generated solutions (the bundle tests list what the wheel holds).
TEMPLATES = code_root() / "templates" / "tabular"


def render(template: str, **context: object) -> str:
    """templates/tabular/<template> rendered; a name the template uses and `context` lacks is an error."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env.get_template(template).render(**context)


def _fields(recipe: Recipe, groups: list[str]) -> str:
    numeric = [(f.name, _number(f.valid[0]), _number(f.valid[1])) for f in recipe.numeric()]
    return render("service/fields.py.j2",
        exercise=recipe.name, id_field=recipe.id_field, label=recipe.label, target=recipe.target,
        classes=recipe.classes, groups=groups,
        categorical=[f.name for f in recipe.categorical()], numeric=numeric, timestamp=recipe.time_field,
        spellings=[(f.name, f.categories) for f in recipe.categorical()],
        integer=[f.name for f in recipe.numeric() if f.dtype == "int"])


def _number(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() else repr(float(x))


SOLUTIONS = ("reference", "accuracy-only", "robust-demo")


def write_service(template: str, folder: Path, recipe: Recipe, groups: list[str]) -> None:
    """`folder` from templates/<template> with the exercise's service/fields.py, replacing what was there."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(TEMPLATES / template, folder, ignore=shutil.ignore_patterns("*.j2", "__pycache__"))
    (folder / "service" / "fields.py").write_text(_fields(recipe, groups))


def write_starter(folder: Path, recipe: Recipe, groups: list[str]) -> None:
    """exercises/<id>/starter: the generic starter, the exercise's fields and contract v1."""
    write_service("starter", folder, recipe, groups)
    (folder / "contract" / "openapi.json").write_text(render_openapi())


def write_solutions(folder: Path, recipe: Recipe, groups: list[str]) -> None:
    """exercises/<id>/solutions/<role> for every generated role."""
    for role in SOLUTIONS:
        write_service(f"solutions/{role}", folder / role, recipe, groups)
