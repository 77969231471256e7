"""The inferred schema as the author reads it in the terminal."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.authoring.schema import TableSchema


def print_schema(console: Console, schema: TableSchema) -> None:
    what = schema.target_kind + (f": {', '.join(schema.classes)}" if schema.classes else "")
    table = Table(title=f"{schema.rows} rows; target {schema.target} ({what})", title_justify="left")
    for head in ("column", "kind", "role", "missing", "distinct", "why left out"):
        table.add_column(head, overflow="fold")
    for c in schema.columns:
        table.add_row(c.name, c.kind, c.role.replace("_", " "), f"{c.missing_share:.1%}", str(c.distinct), c.left_out)
    console.print(table, highlight=False)
