"""The text kind (e.g. support tickets): today's engine behaviour, unchanged byte for byte.

Records are drawn from the recipe's distributions with generated text (harness.data.sampler,
harness.data.text); the mess includes HTML, mojibake and blank or mistyped texts; the plain
baseline is TF-IDF + logistic regression over the text fields; texts are monitored for
presence only (their distribution is not tested).
"""
from __future__ import annotations

import logging
from datetime import datetime

import numpy as np
import pandas as pd

from harness.data.features import BaselineSpec
from harness.data.kind_base import DataKind, Monitored, Pool
from harness.data.mess import TEXT_MESS_KINDS, Messer, Mode
from harness.data.recipe import Recipe
from harness.data.sampler import Sample, World, sample_typed
from harness.data.wording_text import text_dictionary

log = logging.getLogger(__name__)


class TextKind(DataKind):
    name = "text"

    def sample(self, recipe: Recipe, world: World, n: int, rng: np.random.Generator,
               start: datetime, end: datetime, pool: Pool = "train") -> Sample:
        # generated data has no finite pool: held-back traffic is new draws either way
        return sample_typed(recipe, world, n, rng, start, end)

    def messer(self, recipe: Recipe, multiplier: float, mode: Mode) -> Messer:
        return Messer(recipe, recipe.mess, multiplier, mode, TEXT_MESS_KINDS)

    def required(self, recipe: Recipe) -> list[str]:
        return list(recipe.text.required_any) if recipe.text else []

    def baseline_spec(self, recipe: Recipe) -> BaselineSpec:
        return BaselineSpec(inputs="text", target=recipe.target, text=[f.name for f in recipe.text_fields()])

    def monitored(self, recipe: Recipe, frame: pd.DataFrame) -> Monitored:
        m = super().monitored(recipe, frame)
        m.missing_only = [f.name for f in recipe.text_fields()]
        return m

    def dictionary(self, recipe: Recipe) -> str:
        return text_dictionary(recipe, self)
