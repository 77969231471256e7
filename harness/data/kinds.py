"""Data-kind plug-ins, found by the name a recipe gives (`recipe.kind`).

The interface is harness.data.kind_base.DataKind; each kind is its own module (kind_text,
kind_tabular, kind_series) with its wording (wording_*). Adding a kind: a module here and one
line in PLUGINS.
"""
from __future__ import annotations

from grader.errors import ConfigError
from harness.data.kind_base import DataKind, Monitored, Pool, Spelling
from harness.data.kind_series import SeriesKind
from harness.data.kind_tabular import TabularKind
from harness.data.kind_text import TextKind
from harness.data.recipe import Recipe

__all__ = ["DataKind", "Monitored", "Pool", "Spelling", "PLUGINS", "data_dictionary", "kind_for"]

PLUGINS: dict[str, type[DataKind]] = {"text": TextKind, "tabular": TabularKind, "series": SeriesKind}
_MADE: dict[str, DataKind] = {}


def kind_for(recipe: Recipe) -> DataKind:
    """The plug-in for this recipe's kind (one instance per kind per process)."""
    name = recipe.kind
    if name not in _MADE:
        if name not in PLUGINS:  # the recipe model allows no other value; a plug-in added there must be added here
            raise ConfigError(f"recipe {recipe.name}: no data-kind plug-in named {name!r}")
        _MADE[name] = PLUGINS[name]()
    return _MADE[name]


def data_dictionary(recipe: Recipe) -> str:
    """The candidate-facing data dictionary, in the recipe's data-kind wording."""
    return kind_for(recipe).dictionary(recipe)
