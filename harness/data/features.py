"""What the grader's plain baseline reads: given by each data-kind plug-in, fitted in harness.baseline."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class BaselineSpec(BaseModel):
    """Which raw fields the plain model reads, and how: given by the recipe's data-kind plug-in.

    What the model reads (`inputs`) is the data kind's; what it predicts (`target`) is the label's,
    a class or a number, whatever the kind of data."""

    inputs: Literal["text", "columns"] = Field(description="text: the text fields as words; columns: typed fields")
    target: Literal["classification", "regression"]
    text: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    dates: list[str] = Field(default_factory=list)
    hour_of: str | None = Field(default=None, description="Timestamp field whose hour of day is a feature")
    seasonal: str | None = Field(default=None, description="Field holding the value one season earlier")

    @property
    def regression(self) -> bool:
        return self.target == "regression"

    @property
    def describe(self) -> str:
        """The plain model in a few words, for evidence a person reads."""
        if self.inputs == "text":
            return f"a plain TF-IDF + logistic regression on {' and '.join(self.text)}"
        if self.regression:
            on = "the readings and the hour of day" if self.hour_of else "the fields"
            return f"plain gradient-boosted trees (absolute error) on {on}"
        return "a plain one-hot + standardised numbers + logistic regression"
