"""The inferred schema as the author reads it in the terminal."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.authoring.new import Written
from harness.authoring.schema import TableSchema


def print_schema(console: Console, schema: TableSchema) -> None:
    what = schema.target_kind + (f": {', '.join(schema.classes)}" if schema.classes else "")
    table = Table(title=f"{schema.rows} rows; target {schema.target} ({what})", title_justify="left")
    for head in ("column", "kind", "role", "missing", "distinct", "why left out"):
        table.add_column(head, overflow="fold")
    for c in schema.columns:
        table.add_row(c.name, c.kind, c.role.replace("_", " "), f"{c.missing_share:.1%}", str(c.distinct), c.left_out)
    console.print(table, highlight=False)


def print_tuned(console: Console, written: Written) -> None:
    tuned = written.tuned
    for p in tuned.kept:
        console.print(f"  kept     {p.name}: {p.said}", highlight=False, markup=False)
    for p in tuned.dropped:
        console.print(f"  dropped  {p.name}: {p.why_dropped}", highlight=False, markup=False)
    console.print(f"wrote {written.exercise} ({len(tuned.kept)} held-back scenarios and a public self-check) and its "
                  f"calibration {tuned.shipped}; `shiftwork scenarios check {written.exercise.name}` reads it",
                  highlight=False, markup=False)
