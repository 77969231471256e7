"""Mess: what real upstreams do to records, injected on top of clean typed values.

Each injection edits one field of one record and is listed in the record's truth as
(field, code). A record's kind follows from its injections alone (see `record_kind`), so
the truth can never disagree with what was done to the record.
"""
from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import numpy as np

from harness.data.recipe import MessSpec, NumericField, Recipe

log = logging.getLogger(__name__)

Mode = Literal["json", "csv"]
ABSENT = object()  # a key removed from the wire record (JSON); an empty cell in CSV

# One truth per injection: every code the engine writes maps to exactly one record kind, and a
# record with several injections takes the strongest of their kinds (KIND_PRECEDENCE). The data
# dictionaries state the same rules to candidates (harness.data.dictionary.SEVERAL_PROBLEMS);
# tests/unit/test_data_truth.py walks every injection of every exercise against this table.
# a usable value the service has never seen: a new category, a reading beyond the training range
UNFAMILIAR_CODES = frozenset({"new_category", "beyond_range"})
INVALID_CODES = frozenset({"out_of_range", "unparseable", "wrong_type"})
RECOVERABLE_CODES = frozenset({
    "missing", "numeric_string", "category_variant", "timestamp_format", "html", "mojibake", "extra_field",
    "date_format", "undocumented_code", "monthly_amount",
})
# Codes that say what happened upstream but change nothing a single record can show: a value in
# another unit that is still a plausible value of the field (whatever the record then looks like
# is carried by its other injections: out_of_range outside the valid range, beyond_range where
# the kind treats a reading beyond training as unfamiliar), a renamed field (carried by `missing`
# and `extra_field`), a wrong training label (the inputs are fine).
CLEAN_CODES = frozenset({"unit_change", "renamed_field", "label_noise"})
SHIFT_CODES = frozenset({"new_category", "unit_change", "renamed_field"})
CODE_KINDS: dict[str, str] = {
    **{c: "clean" for c in CLEAN_CODES}, **{c: "recoverable" for c in RECOVERABLE_CODES},
    **{c: "unfamiliar" for c in UNFAMILIAR_CODES}, **{c: "invalid" for c in INVALID_CODES},
}
# strongest first. Unfamiliar beats recoverable: repairing a record does not make the model know
# it, so a repairable record with an unseen value is still answered `fallback`.
KIND_PRECEDENCE = ("invalid", "unfamiliar", "recoverable", "clean")

# the canonical wire forms of a timestamp (UTC) and of a date; every other spelling the mess
# writes is listed by the data-kind plug-in (DataKind.spellings) and in the data dictionary
ISO_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
ISO_DATE = "%Y-%m-%d"
# none of these is ISO 8601 (a service reading ISO with an offset or a space separator is right
# to call it clean, so those variants would make the truth unfair)
TS_FORMATS = ["%m/%d/%Y %H:%M", "epoch", "%d %b %Y %H:%M", "%d.%m.%Y %H:%M", "%B %d, %Y %H:%M:%S"]
HTML_WRAPS = ["<p>{}</p>", "<div>{}</div>", "<p>{}<br></p>", "<html><body>{}</body></html>", "{}<br/>"]
VARIANTS = [str.upper, str.title, lambda v: " " + v, lambda v: v + " ", lambda v: " " + v.upper() + " "]
TEXT_TYPES: list[Any] = [12345, ["refund", "please"], {"text": "help"}, 0, True]


@dataclass
class Messed:
    records: list[dict[str, Any]]
    injections: list[list[tuple[str, str]]]


def record_kind(injections: list[tuple[str, str]], required_any: list[str]) -> str:
    """The record's kind: the strongest kind among its injections' codes (CODE_KINDS), except that
    a record whose required fields are all missing is invalid (nothing is left to score from),
    although each missing field alone is recoverable. An unknown code is a bug, not clean."""
    kinds = set()
    for _, code in injections:
        if code not in CODE_KINDS:
            raise ValueError(f"injection code {code!r} has no record kind in CODE_KINDS")
        kinds.add(CODE_KINDS[code])
    missing = {f for f, c in injections if c == "missing"}
    if required_any and all(f in missing for f in required_any):
        return "invalid"
    return next((k for k in KIND_PRECEDENCE if k in kinds), "clean")


def format_timestamp(dt: datetime, fmt: str) -> str | int:
    if fmt == "epoch":
        return int(dt.timestamp())
    return dt.strftime(fmt)


def mojibake(text: str) -> str | None:
    """UTF-8 bytes read as cp1252 ("café" -> "cafÃ©"); None when the text has nothing to garble."""
    if text.isascii():
        return None
    try:
        return text.encode("utf-8").decode("cp1252")
    except UnicodeDecodeError:
        return None


def numeric_string(f: NumericField, value: float, u: float) -> str:
    v: int | float = int(value) if f.dtype == "int" else float(value)
    fmt = f.string_formats[int(u * len(f.string_formats))]
    if fmt.startswith("eu|"):
        # continental European separators ("52.000,00"): format the usual way, then swap , and .
        return fmt[3:].format(v=v).translate(str.maketrans({",": ".", ".": ","}))
    return fmt.format(v=v)


def out_of_range_value(f: NumericField, u: float) -> float | int:
    choices = f.out_of_range or [f.valid[0] - 1, f.valid[1] * 10]
    v = choices[int(u * len(choices))]
    return int(v) if f.dtype == "int" and float(v).is_integer() else v


# The text kind's mess kinds, in the order their random draws are made: changing this tuple
# changes every text dataset's bytes. Other kinds pass their own tuple (harness.data.kinds).
TEXT_MESS_KINDS: tuple[str, ...] = (
    "missing", "numeric_string", "category_variant", "timestamp_format", "html", "mojibake",
    "extra_field", "subject_blank", "out_of_range", "unparseable", "text_blank", "text_type")


class Messer:
    """Applies a MessSpec (times a multiplier) to wire records, row by row, in place."""

    def __init__(self, recipe: Recipe, spec: MessSpec, multiplier: float, mode: Mode,
                 kinds: tuple[str, ...] = TEXT_MESS_KINDS) -> None:
        self.recipe = recipe
        self.mode = mode
        rate = lambda r: min(1.0, r * multiplier)  # noqa: E731
        self.rates = {k: rate(getattr(spec, k)) for k in kinds}
        if mode == "csv":
            # CSV has fixed columns and no types: no extra keys, no non-string texts
            for k in ("extra_field", "text_type"):
                if k in self.rates:
                    self.rates[k] = 0.0
        self.spec = spec
        self.numeric = recipe.numeric()
        self.categorical = [f for f in recipe.categorical()]
        self.texts = [f.name for f in recipe.text_fields()]
        self.required = list(recipe.text.required_any) if recipe.text else []
        self.body = next((f.name for f in recipe.text_fields() if f.part == "body"), None)
        self.optional = [f.name for f in self.categorical + self.numeric] + [recipe.time_field]
        self.kinds = list(self.rates)

    def apply(self, records: list[dict[str, Any]], injections: list[list[tuple[str, str]]],
              rng: np.random.Generator) -> None:
        n = len(records)
        probs = np.array([self.rates[k] for k in self.kinds])
        hits = rng.random((n, len(self.kinds))) < probs
        draws = rng.random((n, 6))
        rows = np.flatnonzero(hits.any(axis=1))
        for i in rows:
            touched = {f for f, _ in injections[i]}
            for k in np.flatnonzero(hits[i]):
                getattr(self, "_" + self.kinds[k])(records[i], injections[i], touched, draws[i])

    # --- helpers --------------------------------------------------------------------
    @staticmethod
    def _choose(options: list[str], rec: dict, touched: set[str], u: np.ndarray) -> str | None:
        free = [f for f in options if f not in touched and rec.get(f, ABSENT) not in (ABSENT, None)]
        if not free:
            return None
        return free[int(u[0] * len(free))]

    def _blank(self, rec: dict, name: str, u: float) -> None:
        choice = int(u * 4)
        if choice == 0 and self.mode == "json":
            del rec[name]
        else:
            rec[name] = [None, "", "  ", ""][choice]

    def _add(self, inj: list, touched: set, name: str, code: str) -> None:
        inj.append((name, code))
        touched.add(name)

    # --- recoverable ----------------------------------------------------------------
    def _missing(self, rec, inj, touched, u) -> None:
        name = self._choose(self.optional, rec, touched, u)
        if name:
            self._blank(rec, name, u[1])
            self._add(inj, touched, name, "missing")

    def _numeric_string(self, rec, inj, touched, u) -> None:
        name = self._choose([f.name for f in self.numeric], rec, touched, u)
        if name and isinstance(rec[name], (int, float)):
            rec[name] = numeric_string(self.recipe.field(name), rec[name], u[1])  # type: ignore[arg-type]
            self._add(inj, touched, name, "numeric_string")

    def _category_variant(self, rec, inj, touched, u) -> None:
        name = self._choose([f.name for f in self.categorical], rec, touched, u)
        if name:
            value = VARIANTS[int(u[1] * len(VARIANTS))](rec[name])
            if value != rec[name]:
                rec[name] = value
                self._add(inj, touched, name, "category_variant")

    def _timestamp_format(self, rec, inj, touched, u) -> None:
        name = self.recipe.time_field
        if name in touched or not isinstance(rec.get(name), str):
            return
        dt = datetime.strptime(rec[name], ISO_TIMESTAMP).replace(tzinfo=timezone.utc)
        value = format_timestamp(dt, TS_FORMATS[int(u[1] * len(TS_FORMATS))])
        rec[name] = str(value) if self.mode == "csv" else value
        self._add(inj, touched, name, "timestamp_format")

    def _html(self, rec, inj, touched, u) -> None:
        options = [self.body] if self.body and u[2] < 0.8 else self.texts
        name = self._choose([f for f in options if f], rec, touched, u)
        if name and isinstance(rec[name], str) and rec[name].strip():
            rec[name] = HTML_WRAPS[int(u[1] * len(HTML_WRAPS))].format(html.escape(rec[name], quote=False))
            self._add(inj, touched, name, "html")

    def _mojibake(self, rec, inj, touched, u) -> None:
        name = self._choose(self.texts, rec, touched, u)
        if name and isinstance(rec[name], str):
            garbled = mojibake(rec[name])
            if garbled is not None:
                rec[name] = garbled
                self._add(inj, touched, name, "mojibake")

    def _extra_field(self, rec, inj, touched, u) -> None:
        extras = self.spec.extra_fields
        key = sorted(extras)[int(u[0] * len(extras))]
        if key in rec:
            return
        rec[key] = extras[key][int(u[1] * len(extras[key]))]
        self._add(inj, touched, key, "extra_field")

    def _subject_blank(self, rec, inj, touched, u) -> None:
        # one of several required texts blank: still scorable from the others
        if len(self.required) < 2:
            return
        name = self._choose([f for f in self.required if f != self.body], rec, touched, u)
        if name:
            self._blank(rec, name, u[1])
            self._add(inj, touched, name, "missing")

    # --- invalid --------------------------------------------------------------------
    def _out_of_range(self, rec, inj, touched, u) -> None:
        name = self._choose([f.name for f in self.numeric], rec, touched, u)
        if name:
            rec[name] = out_of_range_value(self.recipe.field(name), u[1])  # type: ignore[arg-type]
            self._add(inj, touched, name, "out_of_range")

    def _unparseable(self, rec, inj, touched, u) -> None:
        name = self._choose([f.name for f in self.numeric], rec, touched, u)
        if name:
            if self.mode == "json" and u[1] < 0.25:
                rec[name] = [rec[name]]
            else:
                vals = self.spec.unparseable_values
                rec[name] = vals[int(u[2] * len(vals))]
            self._add(inj, touched, name, "unparseable")

    def _text_blank(self, rec, inj, touched, u) -> None:
        for j, name in enumerate(self.required):
            if name in touched and (name, "missing") not in inj:
                return
        for j, name in enumerate(self.required):
            if (name, "missing") not in inj:
                self._blank(rec, name, u[(j + 1) % 6])
                self._add(inj, touched, name, "missing")

    def _text_type(self, rec, inj, touched, u) -> None:
        name = self._choose(self.texts, rec, touched, u)
        if name:
            value = TEXT_TYPES[int(u[1] * len(TEXT_TYPES))]
            rec[name] = json.loads(json.dumps(value))  # a fresh copy per record
            self._add(inj, touched, name, "wrong_type")


def duplicate_pairs(n: int, rate: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """(source, copy) positions: a copy replaces a later record, a few positions after its source."""
    if n < 2 or rate <= 0:
        return []
    hit = np.flatnonzero(rng.random(n) < min(1.0, rate))
    gaps = rng.integers(1, 25, size=len(hit))
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for j, gap in zip(hit, gaps):
        i = int(j) - int(gap)
        if i < 0 or i in used or j in used:
            continue
        pairs.append((i, int(j)))
        used.update((i, int(j)))
    return pairs
