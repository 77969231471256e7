"""The tabular kind's candidate-facing data dictionary (what is clean, recoverable, invalid, unfamiliar).

Like the text kind's, it reads only the recipe's public parts (fields, classes, valid
ranges, the source's citation), never heldout.toml or scenarios.
"""
from __future__ import annotations

import logging

from harness.data.dictionary import (
    RECORD_KINDS_HEAD,
    SEVERAL_PROBLEMS,
    _fmt,
    beyond_training_rule,
    opening,
    other_spellings,
    spellings_section,
    train_csv_with_label,
)
from harness.data.kind_base import DataKind
from harness.data.recipe import CategoricalField, NumericField, Recipe

log = logging.getLogger(__name__)


def _label(recipe: Recipe) -> list[str]:
    """The label's row in the field table and its own section: a class, or a number."""
    if recipe.classes:
        said = ", ".join(f"`{c}`" for c in recipe.classes)
        return [f"| `{recipe.label}` | label | {said} | what happened next (train.csv only) |", "", "## Label", "",
                f"`{recipe.label}` is one of: {said}. Labels come from the bank's books; a small share of them is "
                "wrong."]
    return [f"| `{recipe.label}` | label | a number | the outcome to predict (train.csv only) |", "", "## Label", "",
            f"`{recipe.label}` is a number: `/predict` answers one per record (`prediction`), and `/feedback` "
            "later sends the true value. A small share of the training values is wrong (keyed ten times too "
            "high or too low). The grade measures the mean absolute error."]


def tabular_dictionary(recipe: Recipe, kind: DataKind) -> str:
    numeric = recipe.numeric()
    dates = recipe.dates()
    coded = [f for f in recipe.categorical() if f.undocumented]
    periodic = [f for f in numeric if f.period_formats]
    source = recipe.source
    lines = [
        *opening(recipe, kind, train_csv_with_label(recipe)),
        *_label(recipe),
        "",
        *RECORD_KINDS_HEAD,
        "- **recoverable** (answer `coerced`, and say in `issues` what you repaired): amounts sent as "
        "strings with a currency, thousands separators or European decimals (`\"NT$ 52,000\"`, "
        "`\"52,000\"`, `\"52.000,00\"`, `\"52000 TWD\"`); "
        + (", ".join(f"`{f.name}`" for f in periodic) + " sent per month and marked so "
           "(`\"4,300/month\"`: multiply by 12); " if periodic else "")
        + "categories in another case or with stray whitespace (`\" single\"`, `\"MALE\"`); "
        + ("codes outside the documented set (" + "; ".join(
            f"`{f.name}` " + ", ".join(f"`{c}`" for c in f.undocumented) for f in coded)
           + "): treat the field as missing and say so; " if coded else "")
        + "".join(f"`{f.name}` in other spellings ({other_spellings(recipe, kind, f.name, 3)}); " for f in dates)
        + f"timestamps in other spellings ({other_spellings(recipe, kind, recipe.time_field)}, epoch seconds); every "
        "spelling of a date or timestamp is listed under *Dates and times* below; a missing or blank field "
        "(every field is optional); extra fields you do not know.",
        "- **invalid** (answer `invalid` with a null prediction, and say why in `issues`): a numeric field "
        "that is not a number and cannot be parsed as one (e.g. `\"pending\"`, a list); a value outside its "
        "valid range (" + "; ".join(f"`{f.name}` {_fmt(f.valid[0])} to {_fmt(f.valid[1])}" for f in numeric)
        + (("; " + "; ".join(f"`{f.name}` an age of {_fmt(f.valid_age[0])} to {_fmt(f.valid_age[1])}"
                             for f in dates)) if dates else "") + ").",
        "- **unfamiliar** (answer `fallback`): usable, but outside what training covered — for example "
        "a category value that never appears in training. Serve a safe default and flag it for review.",
        "",
        beyond_training_rule(kind),
        SEVERAL_PROBLEMS,
        "",
        "In `train.csv` a missing value is an empty cell; in JSON it may be absent, `null` or blank.",
        "The same application may arrive twice under different ids.",
        "",
        "Traffic changes over time, and so may outcomes, for everyone or for one group only. Watch your "
        "inputs and your " + ("accuracy" if recipe.classes else "error") + ", overall and per group (labels "
        "arrive late via `POST /feedback`).",
        "",
        *spellings_section(recipe, kind),
    ]
    if source is not None:
        lines += ["## Source", "", f"Rows are resampled from a real public table: {source.citation} "
                  f"Licence: {source.licence}. Amounts are slightly jittered; fields the table lacks "
                  "are synthetic: " + ", ".join(
                      f"`{f.name}`" for f in recipe.fields
                      if isinstance(f, (CategoricalField, NumericField)) and not f.source) + ".", ""]
    return "\n".join(lines)
