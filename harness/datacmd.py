"""`shiftwork data`: write an exercise's training data, data dictionary and (--heldout) scenario traffic."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from rich.console import Console

from grader.errors import UsageError
from grader.exercise import load_exercise
from harness.data.engine import generate_scenario, generate_training, load_recipe
from harness.data.kinds import data_dictionary
from harness.secret import derive_seed, load_secret

log = logging.getLogger(__name__)

__all__ = ["write_data", "data_dictionary"]


def _prepare(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output folder {out}: {exc.strerror or exc}") from exc
    if not out.is_dir():
        raise UsageError(f"output path {out} is not a folder")
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"output folder {out} is not writable")


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_data(exercise: str, *, seed: int, out: Path, candidate: str | None, heldout: bool,
               console: Console) -> None:
    ex = load_exercise(exercise)
    if candidate is not None:
        if not candidate.strip():
            raise UsageError("--candidate must not be empty")
        seed = derive_seed(load_secret(), ex.id, candidate)
        console.print(f"seed derived for candidate {candidate!r}", highlight=False)
    _prepare(out)
    recipe = load_recipe(ex.dataset, root=ex.root.parent.parent)
    train = generate_training(recipe, seed)
    _write(out / "train.csv", train.csv_text())
    _write(out / "data_dictionary.md", data_dictionary(recipe))
    console.print(f"wrote {out / 'train.csv'} ({len(train.frame):,} rows) and {out / 'data_dictionary.md'}",
                  highlight=False)
    if not heldout:
        return
    folder = out / "heldout"
    _prepare(folder)
    for scenario in ex.held_back_scenarios():
        traffic = generate_scenario(recipe, scenario, seed)
        n = sum(len(p.records) for p in traffic.phases)
        _write(folder / f"{scenario.name}.json", traffic.model_dump_json() + "\n")
        console.print(f"wrote {folder / (scenario.name + '.json')} ({n:,} records, ground truth included)",
                      highlight=False)
