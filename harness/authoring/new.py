"""`shiftwork exercise new`: an author's table in, the exercise's folders out.

This step writes datasets/<id>/ (the table, a recipe, a README) after checking that the data
engine can generate records from it; exercises/<id>/ (scenarios, calibration, brief, starter
and solutions) is written by the steps that follow (issue 23).
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from grader.errors import UsageError
from grader.exercise import datasets_dir, exercises_dir
from harness.authoring.dataset import write_dataset
from harness.authoring.inspect import inspect_table, read_table
from harness.authoring.schema import TableSchema, TargetKind
from harness.data.engine import generate_training, load_recipe

_ID = re.compile(r"[a-z][a-z0-9-]{1,39}")


@dataclass(frozen=True)
class Written:
    schema: TableSchema
    dataset: Path
    files: list[Path]
    sample_rows: int  # training records the engine generated from the written recipe as a check


def new_exercise(exercise_id: str, table: Path, target: str, *, groups: Iterable[str] = (), time: str | None = None,
                 id_column: str | None = None, keep: Iterable[str] = (), task: TargetKind | None = None,
                 title: str = "", licence: str = "", citation: str = "", force: bool = False,
                 root: Path | None = None) -> Written:
    if not _ID.fullmatch(exercise_id):
        raise UsageError(f"exercise id {exercise_id!r}: use 2-40 lowercase letters, digits and dashes, "
                         "starting with a letter (e.g. crash-survival)")
    dataset = datasets_dir(root) / exercise_id
    taken = [p for p in (dataset, exercises_dir(root) / exercise_id) if p.exists()]
    if taken and not force:
        raise UsageError(f"{taken[0]} already exists: pass --force to write over it")
    frame = read_table(table)
    schema = inspect_table(frame, table.name, target, groups=groups, time=time, id_column=id_column, keep=keep,
                           task=task)
    staging = dataset.with_name(f".{exercise_id}.new")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write_dataset(staging, exercise_id, schema, frame, title=title or f"Predict {target} from {table.name}",
                      licence=licence, citation=citation, source_name=table.name)
        recipe = load_recipe(staging.name, root=root)  # a recipe the engine cannot use is never left behind
        rows = len(generate_training(recipe.model_copy(update={"time": recipe.time.model_copy(
            update={"training_records": 500})}), seed=1).frame)
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(dataset, ignore_errors=True)
    staging.rename(dataset)
    return Written(schema=schema, dataset=dataset, files=sorted(dataset.iterdir()), sample_rows=rows)
