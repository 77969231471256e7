"""The candidate-facing data dictionary, rendered from a recipe.

It says what the fields are and what counts as clean, recoverable, invalid and unfamiliar.
It must never mention held-back shifts or held-back vocabularies: it reads only the
recipe's public parts (fields, classes, valid ranges), never heldout.toml or scenarios.
"""
from __future__ import annotations

import logging

from harness.data.recipe import CategoricalField, DateField, NumericField, Recipe, TextField

log = logging.getLogger(__name__)


def _fmt(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,}"


def data_dictionary(recipe: Recipe) -> str:
    """The dictionary in the recipe's data-kind wording (harness.data.kinds)."""
    from harness.data.kinds import kind_for

    return kind_for(recipe).dictionary(recipe)


# The opening of every kind's "What a record can look like" section (the same words for every kind).
RECORD_KINDS_HEAD = [
    "## What a record can look like",
    "",
    "Real traffic is messy. Every record falls into one of four kinds:",
    "",
    "- **clean**: every field present, well typed, in its canonical form and inside its valid range.",
]


def field_rows(recipe: Recipe) -> list[str]:
    """The fields table (shared by every kind): name, type, valid values, description."""
    lines = []
    for f in recipe.fields:
        if f.kind == "id":
            kind, valid = "string", "unique per record"
        elif f.kind == "timestamp":
            kind, valid = "timestamp", "ISO 8601 UTC, e.g. `2026-03-14T10:22:05Z`"
        elif isinstance(f, CategoricalField):
            kind, valid = "category", ", ".join(f"`{c}`" for c in f.categories)
        elif isinstance(f, NumericField):
            kind = "integer" if f.dtype == "int" else "number"
            valid = f"{_fmt(f.valid[0])} to {_fmt(f.valid[1])}" + (f" ({f.unit})" if f.unit else "")
        elif isinstance(f, DateField):
            kind = "date"
            valid = (f"ISO 8601 date (`1987-06-30`); an age of {_fmt(f.valid_age[0])} to {_fmt(f.valid_age[1])} "
                     "years on the record's date")
        elif isinstance(f, TextField):
            kind, valid = "text", "any string"
        else:  # pragma: no cover - the recipe model has no other kinds
            kind, valid = f.kind, ""
        lines.append(f"| `{f.name}` | {kind} | {valid} | {f.description} |")
    return lines


def text_dictionary(recipe: Recipe) -> str:
    lines = [
        f"# Data dictionary: {recipe.name}",
        "",
        recipe.description,
        "",
        f"`train.csv` has one row per record: {len(recipe.field_names)} input fields and the label "
        f"column `{recipe.label}`. The same fields arrive as JSON objects in `POST /predict`, without the label.",
        "",
        "## Fields",
        "",
        "| field | type | valid values | description |",
        "| --- | --- | --- | --- |",
    ]
    for f in recipe.fields:
        if f.kind == "id":
            kind, valid = "string", "unique per record"
        elif f.kind == "timestamp":
            kind, valid = "timestamp", "ISO 8601 UTC, e.g. `2026-03-14T10:22:05Z`"
        elif isinstance(f, CategoricalField):
            kind, valid = "category", ", ".join(f"`{c}`" for c in f.categories)
        elif isinstance(f, NumericField):
            kind = "integer" if f.dtype == "int" else "number"
            valid = f"{_fmt(f.valid[0])} to {_fmt(f.valid[1])}" + (f" ({f.unit})" if f.unit else "")
        elif isinstance(f, TextField):
            kind, valid = "text", "any string"
        else:  # pragma: no cover - the recipe model has no other kinds
            kind, valid = f.kind, ""
        lines.append(f"| `{f.name}` | {kind} | {valid} | {f.description} |")
    lines.append(f"| `{recipe.label}` | label | " + ", ".join(f"`{c}`" for c in recipe.classes)
                 + " | the queue to predict (train.csv only) |")
    required = recipe.text.required_any if recipe.text else []
    req = " and ".join(f"`{r}`" for r in required)
    numeric = [f for f in recipe.numeric()]
    lines += [
        "",
        "## Label",
        "",
        f"`{recipe.label}` is one of: " + ", ".join(f"`{c}`" for c in recipe.classes) + ". "
        "Training labels come from people and a small share of them is wrong.",
        "",
        *RECORD_KINDS_HEAD,
        "- **recoverable** (answer `coerced`, and say in `issues` what you repaired): numbers sent as "
        "strings with thousands separators, currency signs or units (e.g. `\"$1,250.00\"`, `\"1,250\"`, "
        "`\"1250 USD\"`, `\"30 days\"`); categories in another case or with stray whitespace "
        "(`\" Email\"`, `\"CHAT\"`); timestamps in other formats (`03/14/2026 10:22`, epoch seconds); "
        "HTML tags or mojibake (`cafÃ©` for `café`) in text; a missing or blank optional field "
        f"(every field except {req or 'the text'} is optional; one of {req or 'them'} may be blank); "
        "extra fields you do not know.",
        "- **invalid** (answer `invalid` with a null prediction, and say why in `issues`): "
        + (f"{req} both missing or blank; " if len(required) > 1 else (f"{req} missing or blank; " if required else ""))
        + "a text field that is not a string (a number, list or object); a numeric field that is not a "
        "number and cannot be parsed as one (e.g. `\"lots\"`, a list); a numeric value outside its valid "
        "range (" + "; ".join(f"`{f.name}` {_fmt(f.valid[0])} to {_fmt(f.valid[1])}" for f in numeric) + ").",
        "- **unfamiliar** (answer `fallback`): usable, but outside what training covered — for example "
        "a category value that never appears in training. Serve a safe default and flag it for review.",
        "",
        "In `train.csv` a missing value is an empty cell; in JSON it may be absent, `null` or blank.",
        "The same record may arrive twice under different ids.",
        "",
        "Traffic changes over time: the training period already shows mild drift, and the world "
        "after it keeps moving. Watch your inputs and your accuracy (labels arrive late via `POST /feedback`).",
        "",
    ]
    return "\n".join(lines)
