"""The raw input fields (see data/data_dictionary.md)."""

ID = "id"
LABEL = "outcome"  # only in data/train.csv, never sent to /predict
CLASSES = ("no_default", "default")
PROTECTED = "sex"  # a protected attribute: never a reason on its own; watch outcomes per group
CATEGORICAL_FIELDS = ("sex", "education", "marital_status", "employment_type")
NUMERIC_FIELDS = {  # name -> valid range (inclusive)
    "credit_limit": (1_000, 5_000_000),  # NT$
    "annual_income": (0, 50_000_000),  # NT$ per year
    "repayment_status": (-2, 9),  # an integer
    "repayment_status_prev": (-2, 9),  # an integer
    "bill_amount": (-1_000_000, 5_000_000),  # NT$
    "paid_amount": (0, 5_000_000),  # NT$
}
DATE_FIELDS = ("date_of_birth",)  # canonical form: "1987-06-30"; an age of 18 to 100 on the record's date
TIMESTAMP_FIELDS = ("applied_at",)  # canonical form: "2025-03-14T10:22:05Z"
KNOWN_FIELDS = (*TIMESTAMP_FIELDS, *CATEGORICAL_FIELDS, *DATE_FIELDS, *NUMERIC_FIELDS)
