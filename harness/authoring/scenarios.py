"""A scenario set proposed from a table's schema: the shifts tables really go through.

Each held-back scenario is a stable stretch, then one shift, with what the monitoring should
notice; a strength (`Proposal.strength`) names the one number calibration may raise until
the reference detector finds the shift at the window size. Fields are chosen by their
signal (how much of the target a column explains alone): an outage of the strongest
fields hurts, a covariate shift on a strong field moves predictions. With --group, two more:
a concept drift hitting one group only, and opposite moves in two groups that leave overall
accuracy flat while one group's drops.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.authoring.names import wire_name
from harness.authoring.schema import Column, TableSchema, class_name


def stable_phase(records: int = 1200, slices: bool = False) -> dict[str, Any]:
    expect = {"drift": "silent", "quality": "silent", "performance": "silent"}
    return {"name": "stable", "records": records, "expect": {**expect, "slices": "silent"} if slices else expect}



SHIFTED = {"drift": "unscored", "quality": "unscored", "performance": "unscored"}


@dataclass
class Proposal:
    """One scenario file's content; `strength` says where calibration may turn it up: (path, steps)."""

    name: str
    description: str
    phases: list[dict[str, Any]]
    strength: tuple[tuple[Any, ...], list[float]] | None = None
    slices: bool = False
    why_dropped: str = field(default="")

    def document(self, seed_offset: int) -> dict[str, Any]:
        return {"name": self.name, "description": self.said, "seed_offset": seed_offset, "batch_size": 100,
                "label_delay": 3, "window": 500, "phases": self.phases}

    def _slot(self) -> tuple[Any, Any]:
        """(the dict or list holding the strength, its key there)."""
        assert self.strength is not None
        where: Any = self.phases
        *path, last = self.strength[0]
        for key in path:
            where = where[key]
        return where, last

    @property
    def value(self) -> float | None:
        """The current strength (None for a scenario calibration may not turn up)."""
        if self.strength is None:
            return None
        where, key = self._slot()
        return float(where[key])

    @property
    def said(self) -> str:
        """The description at the current strength ({v} in it is the strength)."""
        return self.description.format(v=self.value)

    def set_strength(self, value: float) -> None:
        where, key = self._slot()
        where[key] = value


def _shifted(name: str, shift: dict[str, Any], **expect: str) -> dict[str, Any]:
    return {"name": name, "records": 1200, "shifts": [shift], "expect": {**SHIFTED, **expect}}


def _strongest(schema: TableSchema, kind: str, n: int = 1) -> list[Column]:
    cols = [c for c in schema.columns if c.role == "feature" and c.kind == kind]
    return sorted(cols, key=lambda c: -c.signal)[:n]


def propose(schema: TableSchema, frame: pd.DataFrame) -> list[Proposal]:
    out = [Proposal("stable-messy", "Stable traffic, then the same kind of records with three times the usual mess.",
                    [stable_phase(), {"name": "messy", "records": 1200, "mess": 3.0,
                                 "expect": {"drift": "silent", "quality": "unscored", "performance": "silent"}}])]
    for col in _strongest(schema, "number"):
        name = wire_name(col.name)
        out.append(Proposal("unit-change", f"An upstream system starts sending {name} in another unit: every "
                            "value is {v:g} times what it was.",
                            [stable_phase(), _shifted("new-unit", {"kind": "unit_change", "field": name,
                                                                   "factor": 100.0}, drift="detect")],
                            strength=((1, "shifts", 0, "factor"), [100.0, 1000.0])))
        out.append(Proposal("covariate-shift", f"The population moves: {name} runs {{v:g}} times as high as in "
                            "training.",
                            [stable_phase(), _shifted("moved", {"kind": "covariate", "field": name, "scale": 1.6},
                                                    drift="detect")],
                            strength=((1, "shifts", 0, "scale"), [1.6, 2.2, 3.0])))
    for col in _strongest(schema, "category"):
        name = wire_name(col.name)
        out.append(Proposal("new-category", f"A {name} never seen in training takes {{v:.0%}} of the records.",
                            [stable_phase(), _shifted("new-value", {"kind": "new_category", "field": name,
                                                                  "value": f"new_{name}", "share": 0.3},
                                                    drift="detect")],
                            strength=((1, "shifts", 0, "share"), [0.3, 0.5, 0.7])))
    strong = [wire_name(c.name) for c in sorted(schema.features, key=lambda c: -c.signal)
              if c.role == "feature"][:4]
    if strong:
        out.append(Proposal("upstream-outage", f"An upstream feed goes down: {', '.join(strong)} arrive empty "
                            "{v:.0%} of the time.",
                            [stable_phase(), _shifted("outage", {"kind": "missing_burst", "fields": strong,
                                                                 "rate": 0.6}, quality="detect")],
                            strength=((1, "shifts", 0, "rate"), [0.6, 0.8, 0.95])))
    numeric = schema.target_kind == "regression"
    if numeric:
        out.append(Proposal("target-shift", "Outcomes change for everyone: for the same inputs the target runs {v:g} "
                            "times what it was. Inputs do not move.",
                            [stable_phase(), _shifted("new-outcomes", {"kind": "target_scale", "factor": 1.3},
                                                      drift="silent", quality="silent", performance="detect")],
                            strength=((1, "shifts", 0, "factor"), [1.3, 1.6, 2.0])))
    for k, g in enumerate(c for c in schema.columns if c.role == "group"):
        out += (_numeric_group_scenarios if numeric else _group_scenarios)(frame, schema, g, first=k == 0)
    out.append(operations())
    return out


def _classes(schema: TableSchema, frame: pd.DataFrame) -> tuple[str, str]:
    """(the commonest class, the rarest): a drift turns the first into the second."""
    counts = frame[schema.target].dropna().map(class_name).value_counts()
    return str(counts.index[0]), str(counts.index[-1])


def _numeric_group_scenarios(frame: pd.DataFrame, schema: TableSchema, g: Column, first: bool) -> list[Proposal]:
    """A numeric target's two group scenarios: the largest group's outcomes move, which overall error shows too;
    and a small group's, which it barely does (an error is never negative: opposite moves cannot cancel)."""
    values = frame[g.name].dropna().astype(str).str.strip().value_counts()
    # the smallest group a 500-record window still holds some 50 records of (a rarer one cannot be watched)
    small = str(next((v for v, n in values[::-1].items() if n >= 0.1 * values.sum()), values.index[1]))
    big = str(values.index[0])
    name = wire_name(g.name)
    suffix = "" if first else "-" + name.replace("_", "-")
    said_big, said_small = (v.replace("{", "{{").replace("}", "}}") for v in (big, small))  # format()ted later
    one_group = {"drift": "silent", "quality": "silent", "performance": "detect", "slices": "detect"}
    drift = Proposal(f"group-drift{suffix}", f"Outcomes change for one group only: with {name} = {said_big} the "
                     "target runs {v:g} times what it was for the same inputs; other groups do not move. Inputs do "
                     "not move.",
                     [stable_phase(slices=True), {"name": "one-group", "records": 1500, "shifts": [
                         {"kind": "target_scale", "factor": 1.3, "where": {name: big}}], "expect": one_group}],
                     strength=((1, "shifts", 0, "factor"), [1.3, 1.6, 2.0]), slices=True)
    hidden = Proposal(f"hidden-group-drop{suffix}", f"Outcomes change for a small group ({name} = {said_small}, "
                      f"{values[small] / values.sum():.0%} of the table): its target runs {{v:g}} times what it was, "
                      "which the overall error barely shows. Inputs do not move.",
                      [stable_phase(slices=True), {"name": "small-group", "records": 1500, "shifts": [
                          {"kind": "target_scale", "factor": 1.6, "where": {name: small}}],
                          "expect": {**one_group, "performance": "unscored"}}],
                      strength=((1, "shifts", 0, "factor"), [1.6, 2.0, 2.5]), slices=True)
    return [drift, hidden]


def _group_scenarios(frame: pd.DataFrame, schema: TableSchema, g: Column, first: bool) -> list[Proposal]:
    common, rare = _classes(schema, frame)
    values = frame[g.name].dropna().astype(str).str.strip().value_counts()
    one, other = str(values.index[0]), str(values.index[1])
    name = wire_name(g.name)
    suffix = "" if first else "-" + name.replace("_", "-")
    said_one, said_other = (v.replace("{", "{{").replace("}", "}}") for v in (one, other))  # format()ted later
    drift = Proposal(f"group-drift{suffix}", f"Outcomes change for one group only: {{v:.0%}} of the records with "
                     f"{name} = {said_one} that would have been {common} are now {rare}; other groups do not move. "
                     "Inputs do not move.",
                     [stable_phase(slices=True), {"name": "one-group", "records": 1500, "shifts": [
                         {"kind": "concept_drift", "from_label": common, "to_label": rare, "share": 0.4,
                          "where": {name: one}}],
                         "expect": {"drift": "silent", "quality": "silent", "performance": "detect",
                                    "slices": "detect"}}],
                     strength=((1, "shifts", 0, "share"), [0.4, 0.6, 0.8]), slices=True)
    # opposite moves: as many records turn from the common class to the rare one in `one` as turn back in
    # `other`, so a model that keeps predicting as before loses in one group what it gains in the other
    groups = frame[g.name].astype(str).str.strip()
    labels = frame[schema.target].map(class_name)
    turn = float(((groups == one) & (labels == common)).mean())  # records `share` of which turn rare
    back_pool = float(((groups == other) & (labels == rare)).mean())  # records that may turn back
    share = min(0.2, 0.9 * back_pool / max(turn, 1e-9))
    back = share * turn / max(back_pool, 1e-9)
    hidden = Proposal(f"hidden-group-drop{suffix}", f"Outcomes move in opposite directions for two groups "
                      f"({name} = {said_one} and {said_other}): overall accuracy stays flat while one group's drops. "
                      "Inputs do not move.",
                      [stable_phase(slices=True), {"name": "opposite-moves", "records": 1500, "shifts": [
                          {"kind": "concept_drift", "from_label": common, "to_label": rare, "share": round(share, 3),
                           "where": {name: one}},
                          {"kind": "concept_drift", "from_label": rare, "to_label": common, "share": round(back, 3),
                           "where": {name: other}}],
                          "expect": {"drift": "silent", "quality": "silent", "performance": "silent",
                                     "slices": "detect"}}],
                      slices=True)
    return [drift, hidden]


def operations() -> Proposal:
    return Proposal("operations", "Operations: steady traffic, then concurrent load, then a restart of the service.",
                    [stable_phase(1000),
                     {"name": "load", "kind": "load", "records": 500, "concurrency": 8, "requests": 40,
                      "expect": dict(SHIFTED)},
                     {"name": "restart", "kind": "restart", "records": 200, "expect": dict(SHIFTED)}])
