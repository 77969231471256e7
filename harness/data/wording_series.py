"""The series kind's candidate-facing data dictionary (what is clean, recoverable, invalid, unfamiliar).

Like the other kinds', it reads only the recipe's public parts (fields, valid ranges, the
source's citation), never heldout.toml or scenarios.
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
)
from harness.data.kind_base import DataKind
from harness.data.recipe import Recipe
from harness.data.series import LOCAL, ZONED_FORMATS

log = logging.getLogger(__name__)


def series_dictionary(recipe: Recipe, kind: DataKind) -> str:
    numeric = recipe.numeric()
    lags = [f.name for f in numeric if f.source and f.source.startswith("lag_")]
    spec = recipe.series
    assert spec is not None
    sites = ", ".join(f"`{s}`" for s in spec.sites)
    when = kind.example_time(recipe)
    zoned = when.astimezone(LOCAL).strftime(ZONED_FORMATS[0])
    lines = [
        *opening(recipe, kind, f"`train.csv` has one row per record: {len(recipe.field_names)} input fields and "
                 f"the actual `{recipe.label}` (MW) of the half-hour the record asks about. The same fields arrive "
                 "as JSON objects in `POST /predict`, without the actual; actuals arrive later through "
                 "`POST /feedback`."),
        f"| `{recipe.label}` | number | 0 to 10000 (MW) | the measured demand of that half-hour "
        "(train.csv and /feedback only) |",
        "",
        "## Target",
        "",
        f"`{recipe.label}` is the site's measured demand in MW, averaged over the half-hour starting at "
        "`interval_start`. Your `prediction` is that number (a JSON number); `confidence` may be null. "
        "A prediction interval may be sent as an extra result field `interval: [low, high]`. Meter "
        "readings are not perfect: a small share of the training actuals is wrong (a glitch reads 0, "
        "or ten times the real value).",
        "",
        f"Sites: {sites}; each has its own size and its own temperature sensor. The demand follows the "
        "day (people's routines in local time, UTC+10), the week and public holidays (`workday`), and "
        "the temperature (heating when cold, air conditioning when hot).",
        "",
        *RECORD_KINDS_HEAD,
        "- **recoverable** (answer `coerced`, and say in `issues` what you repaired): readings sent as "
        "strings with units or thousands separators (`\"1,234.5 MW\"`, `\"1234.5MW\"`, `\"18.2°C\"`, "
        "`\"18.2 degC\"`); categories in another case or with stray whitespace (`\" metro\"`, `\"YES\"`); "
        f"timestamps in other spellings ({other_spellings(recipe, kind, recipe.time_field, 1)}, epoch seconds) or in local "
        f"time with a zone (`{zoned}`, which is {when:%H:%M} UTC; every spelling is listed under *Dates and times* "
        "below); a missing or blank field; extra fields you do "
        "not know. A timestamp you cannot read makes the record `coerced` if you can still forecast "
        "without the time of day (say so with an issue on `interval_start`), never `ok`.",
        "- **invalid** (answer `invalid` with a null prediction, and say why in `issues`): "
        + " and ".join(f"`{n}`" for n in lags) + " both missing (nothing to forecast from); a numeric "
        "field that is not a number and cannot be parsed as one (`\"lots\"`, a list); a reading outside "
        "its valid range (" + "; ".join(f"`{f.name}` {_fmt(f.valid[0])} to {_fmt(f.valid[1])}" for f in numeric)
        + "): a negative or impossible reading is a broken meter or sensor, not a value to forecast from.",
        "- **unfamiliar** (answer `fallback`): usable, but outside what training covered — for example a "
        "temperature hotter, or a demand one day or one week earlier lower or higher, than any in the "
        "training data. Serve a safe default (say, the demand one day earlier, when that reading is "
        "familiar) and flag it for review.",
        "",
        beyond_training_rule(kind),
        SEVERAL_PROBLEMS,
        "",
        "Issues about the whole record (a low-confidence forecast, say) name the field `record`.",
        "In `train.csv` a missing value is an empty cell; in JSON it may be absent, `null` or blank.",
        "The same reading may arrive twice under different ids, and records arrive in any order.",
        "",
        "Traffic changes over time: sensors fail, upstream systems change, and the demand itself moves. "
        "Watch your inputs and your error (actuals arrive late via `POST /feedback`; report the mean "
        "absolute error as `performance.metric = \"mae\"`).",
        "",
        *spellings_section(recipe, kind),
        "## Source",
        "",
        f"Built from a real series: {spec.citation} Licence: {spec.licence}.",
        "",
    ]
    return "\n".join(lines)
