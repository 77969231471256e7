"""The raw input fields (see the data dictionary in the brief)."""

ID = "id"
LABEL = "queue"  # only in data/train.csv, never sent to /predict
QUEUES = ("billing", "technical", "account", "shipping", "refunds")
TEXT_FIELDS = ("subject", "body")
CATEGORICAL_FIELDS = ("channel", "customer_tier", "product", "language")
NUMERIC_FIELDS = {  # name -> valid range (inclusive)
    "account_age_days": (0, 20_000),
    "prior_tickets": (0, 1_000),  # an integer
    "order_value": (0, 50_000),  # USD
}
TIMESTAMP_FIELDS = ("created_at",)  # canonical form: "2026-03-14T10:22:05Z"
KNOWN_FIELDS = (*TIMESTAMP_FIELDS, *CATEGORICAL_FIELDS, *TEXT_FIELDS, *NUMERIC_FIELDS)
