"""Read an author's table and decide what each column is, or refuse the table in one line.

Nothing here sends the table anywhere: it is read from the author's disk with pandas and
looked at in this process.
"""
from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Iterable

import pandas as pd

from grader.errors import TableRefused
from harness.authoring.leakage import LEAKS, signals
from harness.authoring.names import wire_name
from harness.authoring.personal import personal_reason
from harness.authoring.schema import (
    Column,
    Role,
    TableSchema,
    TargetKind,
    class_name,
    column_kind,
    numbers,
    target_kind,
)

# A third of the rows is held back for grading and a scenario's detection window is 500
# records: below this, windows repeat held-back rows so often that a drift is the rows', not
# the scenario's.
MIN_ROWS = 2000


def _delimiter(path: Path) -> str:
    """The separator the file uses: a spreadsheet in a European locale exports `;`, some systems tabs."""
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            head = fh.read(64 * 1024)
        return csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except (csv.Error, UnicodeDecodeError, OSError, EOFError):
        return ","  # pandas says what is wrong with it


def read_table(path: Path) -> pd.DataFrame:
    """A CSV file (or .csv.gz; `,` `;` tab or `|` separated) as a frame of strings and numbers, or a one-line
    refusal."""
    if not path.is_file():
        raise TableRefused(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, sep=_delimiter(path), low_memory=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TableRefused(f"{path.name}: not a readable CSV table ({first})") from exc
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise TableRefused(f"{path.name}: the column {dup!r} appears twice")
    frame.columns = [str(c).strip() for c in frame.columns]
    names = pd.Series([wire_name(c) for c in frame.columns])
    if names.duplicated().any():
        same = [c for c, n in zip(frame.columns, names) if n == names[names.duplicated()].iloc[0]]
        raise TableRefused(f"{path.name}: the columns {' and '.join(map(repr, same))} would have the same field "
                           f"name {wire_name(same[0])!r}: rename one")
    return frame


def _need(frame: pd.DataFrame, table: str, column: str, what: str) -> None:
    if column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:12])) + (", ..." if len(frame.columns) > 12 else "")
        raise TableRefused(f"{table} has no column {column!r} for {what} (its columns: {shown})")


def _target(frame: pd.DataFrame, table: str, target: str, forced: TargetKind | None) -> tuple[TargetKind, list[str]]:
    values = frame[target].dropna()
    if values.nunique() < 2:
        only = repr(values.iloc[0]) if len(values) else "nothing"
        raise TableRefused(f"the target {target!r} holds one value ({only}) in all {len(values)} rows of {table}: "
                           "there is nothing to predict")
    kind = forced or target_kind(values)
    if kind == "regression":
        if numbers(values).notna().mean() < 0.99:
            raise TableRefused(f"the target {target!r} is not a number in every row: a regression target must be")
        return kind, []
    classes = sorted({class_name(v) for v in values})
    if len(classes) > 20:
        raise TableRefused(f"the target {target!r} has {len(classes)} classes; a classification exercise takes at "
                           "most 20 (for a numeric target, pass --task regression)")
    return kind, classes


def inspect_table(frame: pd.DataFrame, table: str, target: str, *, groups: Iterable[str] = (),
                  time: str | None = None, id_column: str | None = None, keep: Iterable[str] = (),
                  task: TargetKind | None = None) -> TableSchema:
    """The table's schema with a role for every column, or TableRefused with a one-line reason."""
    groups, keep = list(groups), set(keep)
    _need(frame, table, target, "the target")
    for g in groups:
        _need(frame, table, g, "--group")
    for name, what in ((time, "--time"), (id_column, "--id")):
        if name:
            _need(frame, table, name, what)
    for name in keep:
        _need(frame, table, name, "--keep")
    frame = frame.dropna(subset=[target])
    kind, classes = _target(frame, table, target, task)
    if len(frame) < MIN_ROWS:
        raise TableRefused(f"{table} has {len(frame)} rows with a target; an exercise needs at least {MIN_ROWS} "
                           "(a third is held back for grading, and each scenario watches 500-record windows)")
    columns = [_column(frame, str(name), target, groups, time, id_column) for name in frame.columns]
    if time and columns[list(frame.columns).index(time)].kind != "datetime":
        raise TableRefused(f"--time {time!r}: its values are not dates or times (e.g. {frame[time].iloc[0]!r})")
    for g in groups:
        if (n := frame[g].nunique()) < 2 or n > 12:
            raise TableRefused(f"--group {g!r} has {n} distinct values; a group column needs 2 to 12")
    found = signals(frame, target, kind, columns)
    for col in columns:
        col.signal = found.get(col.name, 0.0)
        if col.signal >= LEAKS and col.name not in keep:
            col.role = "left_out"
            col.left_out = (f"leaks the target: alone it closes {col.signal:.0%} of the gap from chance to a perfect "
                            f"prediction of {target!r} (--keep it if that is on purpose)")
    schema = TableSchema(rows=len(frame), target=target, target_kind=kind, classes=classes, columns=columns)
    if not schema.features:
        raise TableRefused(f"{table}: no column is left to predict {target!r} from "
                           + "; ".join(f"{c.name}: {c.left_out}" for c in columns if c.left_out))
    return schema


def _column(frame: pd.DataFrame, name: str, target: str, groups: list[str], time: str | None,
            id_column: str | None) -> Column:
    values = frame[name]
    kind = column_kind(name, values)
    role: Role = "feature"
    why = ""
    if name == target:
        role = "target"
    elif name == id_column:
        role, kind = "id", "identifier"
    elif name == time:
        role = "time"
    elif (reason := personal_reason(name, values)) and name not in groups:
        role, why = "left_out", reason
    elif name in groups:
        role, kind = "group", "category"
    elif values.nunique() < 2:
        role, why = "left_out", "one value in every row"
    elif kind == "identifier":
        role, why = "left_out", f"an identifier ({int(values.nunique())} distinct codes): a key, not a feature"
    elif kind == "text":
        role, why = "left_out", "free text (a table exercise has no text features yet)"
    elif kind == "datetime":
        role, why = "left_out", "a date/time that is not the --time column"
    return Column(name=name, kind=kind, role=role, missing_share=round(float(values.isna().mean()), 4),
                  distinct=int(values.nunique()), left_out=why)
