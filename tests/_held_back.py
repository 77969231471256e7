"""What a candidate never sees of an exercise, for tests that search a page or a kit for it."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from grader.exercise import load_exercise
from grader.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def held_back(exercise: str) -> list[str]:
    """Every scenario and phase name of the exercise's held-back scenarios (hyphenated ones also with
    spaces), lower case, less those its public self-check also uses: they ship in every bundle."""
    ex = load_exercise(exercise, ROOT)
    names: set[str] = set()
    for path in sorted((ex.root / "scenarios").glob("*.toml")):
        sc = load_scenario(path)
        names |= {sc.name} | {p.name for p in sc.phases}
    public = ex.public()
    names -= {public.name} | {p.name for p in public.phases}
    return sorted({n.lower() for n in names} | {re.sub(r"[-_]+", " ", n.lower()) for n in names})


def strings(value: Any) -> list[str]:
    """Every string inside a dumped model (dicts and lists walked)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def found(texts: list[str], terms: list[str]) -> list[str]:
    """The terms found in texts as whole words, any case."""
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")\b", re.IGNORECASE)
    return [m.group(0) for t in texts for m in pattern.finditer(t)]
