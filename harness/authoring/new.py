"""`shiftwork exercise new`: an author's table in, the exercise's folders out.

datasets/<id>/ (the table, a recipe, a README) is written once the data engine has generated
records from it; exercises/<id>/ gets exercise.toml, the scenarios proposed from the schema
and a public self-check, each turned up until calibration finds it fair (or dropped, saying
why), the brief, the starter, the generated solutions and the interview kit's questions; the
calibration is shipped in calibration/. A classification or a regression target.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
from pydantic import BaseModel, Field, field_validator

from grader.errors import UsageError
from grader.exercise import datasets_dir, exercises_dir
from grader.report.kit import DEFAULT_TEMPLATES, TEMPLATE_FILE
from harness.authoring.dataset import write_dataset
from harness.authoring.inspect import inspect_table, read_table
from harness.authoring.names import wire_name
from harness.authoring.scenarios import propose
from harness.authoring.schema import TableSchema, TargetKind
from harness.authoring.starter import TEMPLATES, write_solutions, write_starter
from harness.authoring.tune import Progress, Tuned, tune
from harness.data.engine import generate_training, load_recipe

_ID = re.compile(r"[a-z][a-z0-9-]{1,39}")
# the pins a table exercise's services build from (the offline base image holds them)
_RUNTIME = TEMPLATES / "runtime-requirements.txt"


class Authoring(BaseModel):
    """What the author asked for: the table, its target and the columns with a role."""

    exercise_id: str
    table: Path
    target: str
    groups: list[str] = Field(default_factory=list)
    time: str | None = None
    id_column: str | None = None
    keep: list[str] = Field(default_factory=list)
    task: TargetKind | None = None
    title: str = ""
    licence: str = ""
    citation: str = ""

    @field_validator("exercise_id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.fullmatch(v):
            raise UsageError(f"exercise id {v!r}: use 2-40 lowercase letters, digits and dashes, starting with a "
                             "letter (e.g. crash-survival)")
        return v

    @property
    def heading(self) -> str:
        return self.title or f"Predict {self.target} from {self.table.name}"


@dataclass(frozen=True)
class Dataset:
    schema: TableSchema
    frame: pd.DataFrame
    folder: Path
    label: str  # the target's name on the wire (the recipe's label)
    sample_rows: int  # training records the engine generated from the written recipe as a check


@dataclass(frozen=True)
class Written:
    dataset: Dataset
    exercise: Path
    tuned: Tuned


def new_dataset(ask: Authoring, *, force: bool = False) -> Dataset:
    """datasets/<id>/ from the table, once the engine has generated records from its recipe; TableRefused or
    UsageError (one line) when it cannot be, and then nothing is left behind."""
    dataset = datasets_dir() / ask.exercise_id
    taken = [p for p in (dataset, exercises_dir() / ask.exercise_id) if p.exists()]
    if taken and not force:
        raise UsageError(f"{taken[0]} already exists: pass --force to write over it")
    frame = read_table(ask.table)
    schema = inspect_table(frame, ask.table.name, ask.target, groups=ask.groups, time=ask.time,
                           id_column=ask.id_column, keep=ask.keep, task=ask.task)
    staging = dataset.with_name(f".{ask.exercise_id}.new")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write_dataset(staging, ask.exercise_id, schema, frame, title=ask.heading, licence=ask.licence,
                      citation=ask.citation, source_name=ask.table.name)
        recipe = load_recipe(staging.name)
        small = recipe.model_copy(update={"time": recipe.time.model_copy(update={"training_records": 500})})
        rows = len(generate_training(small, seed=1).frame)
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(dataset, ignore_errors=True)
    staging.rename(dataset)
    return Dataset(schema=schema, frame=frame, folder=dataset, label=recipe.label, sample_rows=rows)


def new_exercise(ask: Authoring, data: Dataset, *, say: Callable[[str], None] = lambda line: None,
                 progress: Progress | None = None) -> Written:
    """exercises/<id>/ for the dataset `new_dataset` wrote: its scenarios calibrated, the calibration shipped."""
    folder = exercises_dir() / ask.exercise_id
    shutil.rmtree(folder, ignore_errors=True)
    # the services first (seconds), the calibration last (minutes): a calibration that fails leaves an
    # exercise whose scenarios the author can edit and check again, not one without a starter
    groups = [wire_name(c.name) for c in data.schema.columns if c.role == "group"]
    recipe = load_recipe(ask.exercise_id)
    write_starter(folder / "starter", recipe, groups)
    write_solutions(folder / "solutions", recipe, groups)
    (folder / "runtime-requirements.txt").write_text(_RUNTIME.read_text())
    # the interview kit's generic questions, as the exercise's own: an author edits them without code
    (folder / TEMPLATE_FILE).write_text(DEFAULT_TEMPLATES.read_text())
    tuned = tune(folder, ask.exercise_id, data.schema, data.frame, ask.heading, data.label,
                 propose(data.schema, data.frame), say=say, progress=progress)
    return Written(dataset=data, exercise=folder, tuned=tuned)
