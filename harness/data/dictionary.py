"""The candidate-facing data dictionary, rendered from a recipe.

It says what the fields are and what counts as clean, recoverable, invalid and unfamiliar.
It must never mention held-back shifts or held-back vocabularies: it reads only the
recipe's public parts (fields, classes, valid ranges), never heldout.toml or scenarios.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timezone

from harness.data.kind_base import DataKind, Spelling
from harness.data.mess import ISO_TIMESTAMP
from harness.data.recipe import CategoricalField, DateField, NumericField, Recipe, TextField

log = logging.getLogger(__name__)

# the date every date field's examples show (a day above 12, so no example is ambiguous)
DATE_EXAMPLE = date(1987, 6, 30)


def _fmt(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,}"


def render_spelling(sp: Spelling, when: datetime | date) -> str:
    """`when` written the way `sp` writes it (a timestamp in the spelling's zone)."""
    if isinstance(when, datetime):
        if sp.format == "epoch":
            return str(int(when.timestamp()))
        return when.astimezone(sp.tz).strftime(sp.format)
    return when.strftime(sp.format)


def spelling_example(recipe: Recipe, kind: DataKind, sp: Spelling) -> str:
    when = DATE_EXAMPLE if isinstance(recipe.field(sp.field), DateField) else kind.example_time(recipe)
    return render_spelling(sp, when)


_PATTERN = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "hh", "%M": "mm", "%S": "ss", "%b": "Mon", "%B": "Month"}


def spelling_pattern(fmt: str) -> str:
    """A strftime format as people read it: `%d/%m/%Y` -> `DD/MM/YYYY`."""
    if fmt == "epoch":
        return "seconds since 1970-01-01 UTC"
    for k, v in _PATTERN.items():
        fmt = fmt.replace(k, v)
    return fmt


def spelling_order(sp: Spelling, timestamp: bool) -> str:
    """Which part comes first (day, month or year), read off the format itself, and the zone."""
    if sp.format == "epoch":
        return "a whole number, UTC"
    where = {part: min((sp.format.find(d) for d in ds if d in sp.format), default=-1)
             for part, ds in (("day", ("%d",)), ("month", ("%m", "%b", "%B")), ("year", ("%Y",)))}
    first = min((p for p in where if where[p] >= 0), key=lambda p: where[p])
    order = f"{first} first" + (", month by name" if "%b" in sp.format or "%B" in sp.format else "")
    if not timestamp:
        return order
    off = sp.tz.utcoffset(None) if sp.tz is not timezone.utc else None
    if off:
        hours = off.total_seconds() / 3600
        return order + f", local time (UTC{hours:+g})"
    return order + ", UTC"


def spellings_section(recipe: Recipe, kind: DataKind) -> list[str]:
    """Every spelling of every date and timestamp field the engine writes, with an example of the
    same instant (or date) in each and the order of its parts, so nothing in train.csv or in
    traffic needs guessing (which of 02-03 is the day)."""
    spellings = kind.spellings(recipe)
    lines = [
        "## Dates and times",
        "",
        "Clean records write a timestamp in ISO 8601 UTC and a date in ISO 8601. Other records spell "
        "them otherwise: these are all the spellings that occur, in `train.csv` and in traffic, each "
        "with a fixed order of day and month.",
        "",
        "| field | spelling | example | order |",
        "| --- | --- | --- | --- |",
    ]
    for sp in spellings:
        timestamp = recipe.field(sp.field).kind == "timestamp"
        note = spelling_order(sp, timestamp) + (" (the canonical form)" if sp.canonical else "")
        pattern = spelling_pattern(sp.format) if sp.format == "epoch" else f"`{spelling_pattern(sp.format)}`"
        lines.append(f"| `{sp.field}` | {pattern} | `{spelling_example(recipe, kind, sp)}` | {note} |")
    return lines + [""]


def other_spellings(recipe: Recipe, kind: DataKind, field: str, n: int = 2) -> str:
    """The first `n` non-canonical spellings of `field`, as examples in running text."""
    sps = [sp for sp in kind.spellings(recipe) if sp.field == field and not sp.canonical and sp.format != "epoch"]
    return ", ".join(f"`{spelling_example(recipe, kind, sp)}`" for sp in sps[:n])


# What a number inside its valid range but beyond anything in training is (DataKind.beyond_training).
BEYOND_TRAINING = {
    "clean": "A number inside its valid range counts as clean even when it lies beyond every value of its "
             "field in `train.csv`: how numbers move is for your drift monitoring to notice.",
    "unfamiliar": "A reading inside its valid range but beyond every value of its field in `train.csv` (below "
                  "the lowest or above the highest) is unfamiliar: nothing in training shows what follows from it.",
}


def beyond_training_rule(kind: DataKind) -> str:
    return BEYOND_TRAINING[kind.beyond_training]


# How a record with several problems is judged (harness.data.mess.KIND_PRECEDENCE); every kind's
# dictionary says it, so the truth of a record with several injections is never a guess.
SEVERAL_PROBLEMS = ("A record with several problems is the strongest of its kinds: invalid, then unfamiliar, then "
                    "recoverable. A repairable record with an unfamiliar value is a `fallback` (name the repairs in "
                    "`issues` too).")


# The opening of every kind's "What a record can look like" section (the same words for every kind).
RECORD_KINDS_HEAD = [
    "## What a record can look like",
    "",
    "Real traffic is messy. Every record falls into one of four kinds:",
    "",
    "- **clean**: every field present, well typed, in its canonical form and inside its valid range.",
]


def field_rows(recipe: Recipe, data_kind: DataKind) -> list[str]:
    """The fields table (shared by every kind): name, type, valid values, description."""
    lines = []
    for f in recipe.fields:
        if f.kind == "id":
            kind, valid = "string", "unique per record"
        elif f.kind == "timestamp":
            kind = "timestamp"
            valid = f"ISO 8601 UTC, e.g. `{data_kind.example_time(recipe).strftime(ISO_TIMESTAMP)}` (other spellings: below)"
        elif isinstance(f, CategoricalField):
            kind, valid = "category", ", ".join(f"`{c}`" for c in f.categories)
        elif isinstance(f, NumericField):
            kind = "integer" if f.dtype == "int" else "number"
            valid = f"{_fmt(f.valid[0])} to {_fmt(f.valid[1])}" + (f" ({f.unit})" if f.unit else "")
        elif isinstance(f, DateField):
            kind = "date"
            valid = (f"ISO 8601 date (`{DATE_EXAMPLE.isoformat()}`); an age of {_fmt(f.valid_age[0])} to "
                     f"{_fmt(f.valid_age[1])} years on the record's date")
        elif isinstance(f, TextField):
            kind, valid = "text", "any string"
        else:  # pragma: no cover - the recipe model has no other kinds
            kind, valid = f.kind, ""
        lines.append(f"| `{f.name}` | {kind} | {valid} | {f.description} |")
    return lines


def train_csv_with_label(recipe: Recipe) -> str:
    """What train.csv holds, for a classification dictionary."""
    return (f"`train.csv` has one row per record: {len(recipe.field_names)} input fields and the label "
            f"column `{recipe.label}`. The same fields arrive as JSON objects in `POST /predict`, without the label.")


def opening(recipe: Recipe, kind: DataKind, train_csv: str) -> list[str]:
    """The start every kind's dictionary shares: title, description, what train.csv holds, the fields table
    (its label row is the kind's)."""
    return [f"# Data dictionary: {recipe.name}", "", recipe.description, "", train_csv, "", "## Fields", "",
            "| field | type | valid values | description |", "| --- | --- | --- | --- |", *field_rows(recipe, kind)]
