"""datasets/<id>/ from an inspected table: the table itself, a tabular recipe, a README.

The recipe reads the real rows from the table beside it (resampled, as credit-default's are)
and writes every choice as plain TOML with a comment where an author may want to edit:
field names, descriptions, valid ranges, the mess's spellings. The table stays in the
grader's checkout: packaging writes a candidate's train.csv from it, never the table.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import tomlkit

from grader.errors import TableRefused
from harness.authoring.names import wire_name
from harness.authoring.schema import Column, TableSchema, class_name, numbers

# the codes written here are read back by the engine's own rule (1, 1.0 and "1" are one code): one function
from harness.data.table import _code

TABLE_FILE = "table.csv.gz"
TRAINING_RECORDS = 12_000
START, END = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 7, 1, tzinfo=timezone.utc)
MISSING = "unknown"  # the category a missing source value becomes


def _categorical(frame: pd.DataFrame, col: Column) -> dict:
    values = frame[col.name]
    codes = {_code(v): str(v).strip() for v in values.dropna().unique()}  # spellings as the table has them
    if values.isna().any():
        codes["nan"] = MISSING
    return {"name": wire_name(col.name), "kind": "categorical", "source": col.name,
            "codes": dict(sorted(codes.items())), "description": f"{col.name} (from the table)"}


def _decimals(v: pd.Series) -> int:
    for d in range(0, 4):
        if np.allclose(v, np.round(v, d)):
            return d
    return 4


def _numeric(frame: pd.DataFrame, col: Column) -> dict:
    v = numbers(frame[col.name]).dropna()
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, 1.0)
    whole = bool(np.all(np.mod(v, 1) == 0))
    # a value the table never had is still valid up to a span beyond its range; below 0 only if it had negatives
    valid = [lo - span if lo < 0 else 0.0, hi + span]
    field = {"name": wire_name(col.name), "kind": "numeric", "source": col.name,
             "dtype": "int" if whole else "float", "decimals": 0 if whole else _decimals(v.head(2000)),
             "valid": [_tidy(x) for x in valid]}
    if v.nunique() > 50:  # a measurement, not a code: no record is a verbatim copy of a table row
        field["jitter"] = 0.02
    field["string_formats"] = ["{v}", " {v} ", "{v:,}"] if v.abs().max() >= 1000 else ["{v}", " {v} "]
    field["out_of_range"] = [_tidy(valid[0] - 10 * span), _tidy(valid[1] + 10 * span)]
    field["description"] = f"{col.name} (from the table)"
    return field


def _tidy(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(float(x), 4)


def recipe_document(exercise_id: str, schema: TableSchema, frame: pd.DataFrame, *, title: str,
                    licence: str, citation: str) -> tomlkit.TOMLDocument:
    rows = frame.dropna(subset=[schema.target])
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"{exercise_id}: written by `shiftwork exercise new` from {licence or 'an author table'}."))
    doc.add(tomlkit.comment("Records are real rows of table.csv.gz (beside this file), resampled with their real"))
    doc.add(tomlkit.comment("labels. Edit names, descriptions and ranges freely; keep `source` as the table's column."))
    doc["name"] = exercise_id
    doc["description"] = title
    doc["kind"] = "tabular"
    target = wire_name(schema.target)
    doc["label"] = target if target not in {wire_name(c.name) for c in schema.features} else f"{target}_label"
    source = {"file": TABLE_FILE, "label": schema.target}
    if schema.target_kind == "classification":
        prior = rows[schema.target].map(class_name).value_counts(normalize=True)
        doc["classes"] = schema.classes
        doc["label_prior"] = {c: round(float(prior.get(c, 0.0)), 4) for c in schema.classes}
        source["label_codes"] = {_code(v): class_name(v) for v in rows[schema.target].unique()}
    else:
        doc.add(tomlkit.comment("No classes: the target is a number, read from the table as it is."))
    doc["source"] = {**source, "heldout_share": 0.3333, "licence": licence, "citation": citation}
    start, end = _period(frame, schema)
    per_day = max(1, TRAINING_RECORDS // max(1, (end - start).days))
    doc["time"] = {"start": start, "end": end, "training_records": TRAINING_RECORDS,
                   "records_per_day": per_day, "example": start + (end - start) * 0.4}
    fields = tomlkit.aot()
    fields.append(tomlkit.item({"name": "id", "kind": "id", "prefix": exercise_id[:3],
                                "description": "Record id (unique per record; a duplicate re-sends one)"}))
    fields.append(tomlkit.item({"name": "observed_at", "kind": "timestamp", "description": "When the record arrived"}))
    for col in schema.features:
        fields.append(tomlkit.item(_numeric(frame, col) if col.kind == "number" else _categorical(frame, col)))
    doc["fields"] = fields
    doc["mess"] = {"missing": 0.04, "numeric_string": 0.05, "category_variant": 0.04, "timestamp_format": 0.025,
                   "extra_field": 0.015, "duplicate": 0.015, "out_of_range": 0.012, "unparseable": 0.008,
                   "label_noise": 0.02, "unparseable_values": ["n/a", "pending", "#VALUE!", "--"],
                   "extra_fields": {"channel": ["web", "partner", "batch"]}}
    return doc


def _period(frame: pd.DataFrame, schema: TableSchema) -> tuple[datetime, datetime]:
    """The table's own period (--time), else six months: the span the records' timestamps are spread over."""
    column = next((c.name for c in schema.columns if c.role == "time"), None)
    if column is None:
        return START, END
    when = pd.to_datetime(frame[column], errors="coerce", format="mixed", utc=True).dropna()
    start = when.min().to_pydatetime().replace(microsecond=0)
    end = when.max().to_pydatetime().replace(microsecond=0)
    if (end - start).days < 7:
        raise TableRefused(f"--time {column!r} spans {(end - start).days} days; an exercise needs at least a week")
    return start, end


def write_dataset(folder: Path, exercise_id: str, schema: TableSchema, frame: pd.DataFrame, *, title: str,
                  licence: str, citation: str, source_name: str) -> list[Path]:
    """Write the table (kept columns only), recipe.toml and README.md into `folder`; the paths written."""
    doc = recipe_document(exercise_id, schema, frame, title=title, licence=licence, citation=citation)
    folder.mkdir(parents=True, exist_ok=True)
    kept = [c.name for c in schema.columns if c.role in ("feature", "group", "target")]
    table = folder / TABLE_FILE
    frame[kept].to_csv(table, index=False, compression={"method": "gzip", "mtime": 0})
    recipe = folder / "recipe.toml"
    recipe.write_text(tomlkit.dumps(doc))
    readme = folder / "README.md"
    readme.write_text(_readme(exercise_id, schema, source_name, licence, citation))
    return [table, recipe, readme]


def _readme(exercise_id: str, schema: TableSchema, source_name: str, licence: str, citation: str) -> str:
    lines = [f"# {exercise_id}: the dataset", "",
             f"Written by `shiftwork exercise new` from `{source_name}` ({schema.rows} rows with a target).", "",
             f"- Source and licence: {licence or 'not stated (pass --licence)'}"]
    if citation:
        lines.append(f"- Citation: {citation}")
    lines += ["", f"Target `{schema.target}` ({schema.target_kind}"
              + (f": {', '.join(schema.classes)})" if schema.classes else ")"), "",
              "| column | kind | role | note |", "|---|---|---|---|"]
    for c in schema.columns:
        lines.append(f"| {c.name} | {c.kind} | {c.role.replace('_', ' ')} | {c.left_out} |")
    lines += ["", "Columns left out are not in table.csv.gz: personal data never reaches an exercise.", ""]
    return "\n".join(lines)
