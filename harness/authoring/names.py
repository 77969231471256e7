"""Names on the wire: what a table's column is called in the records a candidate's service receives."""
from __future__ import annotations

import re


def wire_name(column: str) -> str:
    """A column's name on the wire: snake_case, e.g. "yearVeh" -> "year_veh", "Loan Amount" -> "loan_amount"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column.strip())
    name = re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_")
    return name if name and not name[0].isdigit() else f"f_{name}"
