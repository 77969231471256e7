"""The raw input fields (see data/data_dictionary.md)."""

ID = "id"
LABEL = "load_mw"  # only in data/train.csv and /feedback, never sent to /predict
TIME_FIELD = "interval_start"  # canonical form: "2025-03-14T09:30:00Z" (UTC); the demand follows local time, UTC+10
CATEGORICAL_FIELDS = ("site", "workday")  # site: metro, coast, valley; workday: yes, no
NUMERIC_FIELDS = {  # name -> valid range (inclusive)
    "temperature_c": (-20.0, 55.0),  # °C
    "load_yesterday_mw": (0.0, 10_000.0),  # MW, the same half-hour one day earlier
    "load_last_week_mw": (0.0, 10_000.0),  # MW, the same half-hour seven days earlier
}
SEASONAL_NAIVE = "load_yesterday_mw"  # the demand one day earlier: a safe default forecast
KNOWN_FIELDS = (TIME_FIELD, *CATEGORICAL_FIELDS, *NUMERIC_FIELDS)
