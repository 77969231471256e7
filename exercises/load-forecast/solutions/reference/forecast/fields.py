"""The wire schema: fields, units and valid ranges (data/data_dictionary.md)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone

ID = "id"
LABEL = "load_mw"  # train.csv and /feedback only
TIME = "interval_start"
LOCAL = timezone(timedelta(hours=10))  # the series is Victoria's demand: routines follow UTC+10
# zone names upstream writes after local times ("14/03/2025 19:30 AEST")
ZONES = {"aest": 10, "aedt": 11, "utc": 0, "gmt": 0, "z": 0}

SITES: tuple[str, ...] = ("metro", "coast", "valley")
WORKDAY_CODES = {"yes": "yes", "no": "no", "1": "yes", "0": "no", "true": "yes", "false": "no", "y": "yes",
                 "n": "no"}
CATEGORICAL_FIELDS: tuple[str, ...] = ("site", "workday")


@dataclass(frozen=True)
class NumericSpec:
    lo: float
    hi: float
    units: tuple[str, ...]  # unit spellings that may trail the number; all mean the documented unit


NUMERIC_FIELDS: dict[str, NumericSpec] = {
    "temperature_c": NumericSpec(-20.0, 55.0, ("°c", "ºc", "degc", "deg c", "c")),
    "load_yesterday_mw": NumericSpec(0.0, 10_000.0, ("mw",)),
    "load_last_week_mw": NumericSpec(0.0, 10_000.0, ("mw",)),
}
LAGS: tuple[str, ...] = ("load_yesterday_mw", "load_last_week_mw")  # at least one is needed to forecast
LOAD_FIELDS = LAGS

KNOWN_FIELDS: tuple[str, ...] = (TIME, "site", "temperature_c", "workday", *LAGS)
# what the monitor compares with training: workday follows the calendar (a holiday week is no drift)
MONITORED_NUMERIC: tuple[str, ...] = tuple(NUMERIC_FIELDS)
MONITORED_CATEGORICAL: tuple[str, ...] = ("site",)
