"""The text kind's data dictionary (candidate-facing wording)."""
from __future__ import annotations

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
from harness.data.recipe import Recipe


def text_dictionary(recipe: Recipe, kind: DataKind) -> str:
    lines = opening(recipe, kind, train_csv_with_label(recipe))
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
        "`\"1250.00 USD\"`, `\"30 days\"`); categories in another case or with stray whitespace "
        f"(`\" email\"`, `\"CHAT\"`); timestamps in other spellings ({other_spellings(recipe, kind, recipe.time_field)}, "
        "epoch seconds: every spelling is listed under *Dates and times*); "
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
        beyond_training_rule(kind),
        SEVERAL_PROBLEMS,
        "",
        "In `train.csv` a missing value is an empty cell; in JSON it may be absent, `null` or blank.",
        "The same record may arrive twice under different ids.",
        "",
        "Traffic changes over time: the training period already shows mild drift, and the world "
        "after it keeps moving. Watch your inputs and your accuracy (labels arrive late via `POST /feedback`).",
        "",
        *spellings_section(recipe, kind),
    ]
    return "\n".join(lines)
