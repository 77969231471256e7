"""An invites CSV (name,email,exercise,deadline): every row checked before anything is created."""
from __future__ import annotations

import csv
import io
import logging

from pydantic import ValidationError

from grader.errors import UsageError
from harness.web.invites import InviteIn, one_line

log = logging.getLogger(__name__)
CSV_MAX_ROWS = 2000
CSV_COLUMNS = ("name", "email", "exercise", "deadline")


def parse_csv(data: bytes, *, show_score: bool = False) -> list[InviteIn]:
    """Every row of an invites CSV (name,email,exercise,deadline), or UsageError naming the first bad row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError("the CSV file is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise UsageError("the CSV file is empty (expected a header row: name,email,exercise,deadline)") from None
    except csv.Error as exc:
        raise UsageError(f"row 1: not CSV: {exc}") from None
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in ("name", "exercise", "deadline") if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise UsageError(f"row 1: the header must name the columns name,email,exercise,deadline"
                         f"{' (unknown: ' + ', '.join(u[:30] for u in unknown) + ')' if unknown else ''}"
                         f"{' (missing: ' + ', '.join(missing) + ')' if missing else ''}")
    specs: list[InviteIn] = []
    try:
        for cells in reader:
            row = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise UsageError(f"row {row}: {len(cells)} fields, the header has {len(header)}")
            if len(specs) >= CSV_MAX_ROWS:
                raise UsageError(f"row {row}: more than {CSV_MAX_ROWS} invites in one file")
            values = dict(zip(header, cells))
            try:
                specs.append(InviteIn(candidate_name=values["name"], email=values.get("email") or None,
                                      exercise=values["exercise"], deadline=values["deadline"],
                                      show_score=show_score))
            except ValidationError as exc:
                raise UsageError(f"row {row}: {one_line(exc)}") from None
    except csv.Error as exc:
        raise UsageError(f"row {reader.line_num}: not CSV: {exc}") from None
    if not specs:
        raise UsageError("the CSV file has a header but no invites")
    return specs
