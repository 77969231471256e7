"""The data engine's public API: training data, scenario traffic, and clean samples for calibration.

Same recipe + seed -> the same bytes: every random draw comes from a numpy Generator seeded
from (seed, a fixed stream key, the scenario's seed_offset and a CRC of its name).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import TypeAdapter

from grader.errors import ConfigError
from grader.scenario import Phase, Scenario
from grader.truth import PhaseTraffic, PhaseTruth, RecordTruth, ScenarioTraffic
from harness.data.kinds import Pool, kind_for
from harness.data.mess import ABSENT, Mode, duplicate_pairs, record_kind
from harness.data.recipe import Recipe, load_recipe
from harness.data.sampler import Sample, World, world_for

log = logging.getLogger(__name__)

__all__ = [
    "Recipe", "TrainingData", "load_recipe", "generate_training", "generate_scenario", "scenario_with_frames",
    "sample_clean", "reference_clean", "phase_windows",
]

_TRAIN_STREAM = 1
_SCENARIO_STREAM = 2
_REFERENCE_STREAM = 3
_SAMPLE_STREAM = 4
_TRUTHS = TypeAdapter(list[RecordTruth])


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in key]))


def _name_key(name: str) -> int:
    return zlib.crc32(name.encode())


@dataclass
class TrainingData:
    recipe: Recipe
    seed: int
    frame: pd.DataFrame  # wire values as written to train.csv (None = empty cell), noisy labels
    clean: pd.DataFrame  # typed values before mess, true labels
    truths: list[RecordTruth]

    def to_csv(self, path: Path) -> None:
        Path(path).write_text(self.csv_text(), encoding="utf-8")

    def csv_text(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.frame.columns)
        for row in self.frame.itertuples(index=False, name=None):
            writer.writerow([_cell(v) for v in row])
        return buf.getvalue()


def _cell(v: Any) -> str:
    if v is None or v is ABSENT:
        return ""
    if isinstance(v, float) and v != v:
        return ""
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


# --- wire conversion -------------------------------------------------------------------

def _wire_records(recipe: Recipe, sample: Sample, ids: list[str], mode: Mode,
                  rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[list[tuple[str, str]]]]:
    """Clean wire records (JSON-typed) plus the shift injections already in them."""
    df = sample.frame
    n = len(df)
    cols: list[list[Any]] = []
    names: list[str] = []
    for f in recipe.fields:
        if f.kind == "id":
            values: list[Any] = list(ids)
        elif f.kind == "timestamp":
            ts = df[f.name].dt.tz_convert(None).to_numpy().astype("datetime64[s]")
            values = [s + "Z" for s in np.datetime_as_string(ts, unit="s").tolist()]
        elif f.kind == "date":
            days = df[f.name].to_numpy(dtype="datetime64[D]")
            values = [None if s == "NaT" else s for s in np.datetime_as_string(days, unit="D").tolist()]
        elif f.kind == "numeric":
            arr = df[f.name].to_numpy(dtype=float)
            if f.dtype == "int":  # type: ignore[union-attr]
                values = [None if x != x else int(x) for x in arr.tolist()]
            else:
                values = [None if x != x else x for x in arr.tolist()]
        else:
            values = [None if (isinstance(x, float) and x != x) else x for x in df[f.name].tolist()]
        cols.append(values)
        names.append(f.name)
    records = [dict(zip(names, row)) for row in zip(*cols)]
    injections: list[list[tuple[str, str]]] = [[] for _ in range(n)]
    for name, mask in sample.new_category.items():
        for i in np.flatnonzero(mask):
            injections[i].append((name, "new_category"))
    for name, mask in sample.unit_changed.items():
        lo, hi = recipe.field(name).valid  # type: ignore[union-attr]
        for i in np.flatnonzero(mask):
            injections[i].append((name, "unit_change"))
            v = records[i][name]
            if v is not None and not (lo <= v <= hi):
                injections[i].append((name, "out_of_range"))
    # after the unit change it may explain: what the record looks like (mess.CODE_KINDS) comes
    # from this code, never from unit_change itself
    for name, mask in sample.beyond_range.items():
        for i in np.flatnonzero(mask):
            injections[i].append((name, "beyond_range"))
    absent = rng.random(n) < 0.5
    for name, mask in sample.burst_missing.items():
        for i in np.flatnonzero(mask):
            if mode == "json" and absent[i]:
                del records[i][name]
            else:
                records[i][name] = None
            injections[i].append((name, "missing"))
    return records, injections


def _rename(records: list[dict[str, Any]], injections: list[list[tuple[str, str]]], old: str, new: str) -> None:
    for rec, inj in zip(records, injections):
        present = old in rec
        if present:
            # keep the key order upstream would send: the new name where the old one was
            items = [(new if k == old else k, v) for k, v in rec.items()]
            rec.clear()
            rec.update(items)
        # whatever the mess did to the old field now hides inside a field nobody knows:
        # the service can only see "old missing, new unknown"
        inj[:] = [(f, c) for f, c in inj if f != old]
        inj.extend([(old, "renamed_field"), (old, "missing")] + ([(new, "extra_field")] if present else []))


def _build(recipe: Recipe, sample: Sample, ids: list[str], *, mode: Mode, mess: float,
           rng: np.random.Generator, renames=()) -> tuple[list[dict[str, Any]], list[list[tuple[str, str]]], dict[int, int]]:
    records, injections = _wire_records(recipe, sample, ids, mode, rng)
    kind_for(recipe).messer(recipe, mess, mode).apply(records, injections, rng)
    dup_of: dict[int, int] = {}
    for i, j in duplicate_pairs(len(records), recipe.mess.duplicate * mess, rng):
        records[j] = {**json.loads(json.dumps(records[i])), recipe.id_field: ids[j]}
        injections[j] = list(injections[i])
        dup_of[j] = i
    for r in renames:
        _rename(records, injections, r.field, r.to)
    return records, injections, dup_of


# --- training ---------------------------------------------------------------------------

def generate_training(recipe: Recipe, seed: int) -> TrainingData:
    rng = _rng(seed, _TRAIN_STREAM)
    n = recipe.time.training_records
    sample = kind_for(recipe).sample(recipe, World(prior=dict(recipe.label_prior)), n, rng, recipe.start, recipe.end)
    prefix = recipe.field(recipe.id_field).prefix  # type: ignore[union-attr]
    ids = [f"{prefix}-{i + 1:06d}" for i in range(n)]
    records, injections, dup_of = _build(recipe, sample, ids, mode="csv", mess=1.0, rng=rng)
    labels = sample.frame[recipe.label].to_numpy(dtype=object)
    flip = np.flatnonzero(rng.random(n) < recipe.mess.label_noise)
    wire_labels = kind_for(recipe).noisy_labels(recipe, labels, flip, rng)
    for j, i in dup_of.items():
        labels[j] = labels[i]
        wire_labels[j] = wire_labels[i]
    required = kind_for(recipe).required(recipe)
    rows = []
    for i in range(n):
        inj = [{"field": f, "code": c} for f, c in injections[i]]
        if wire_labels[i] != labels[i]:
            inj.append({"field": recipe.label, "code": "label_noise"})
        rows.append({
            "id": ids[i], "scenario": "training", "phase": "training", "index": i,
            "kind": record_kind(injections[i], required), "label": labels[i], "injections": inj,
            "duplicate_of": ids[dup_of[i]] if i in dup_of else None})
    truths = _TRUTHS.validate_python(rows)
    cols = recipe.columns
    names = recipe.field_names
    frame = pd.DataFrame([[rec.get(c) for c in names] for rec in records], columns=names, dtype=object)
    frame[recipe.label] = wire_labels
    frame = frame[cols]
    order = np.arange(n)
    for j, i in dup_of.items():  # a duplicate re-sends its source's payload
        order[j] = i
    clean = sample.frame.iloc[order].reset_index(drop=True)
    clean.insert(0, recipe.id_field, ids)
    return TrainingData(recipe=recipe, seed=seed, frame=frame, clean=clean, truths=truths)


def reference_clean(recipe: Recipe, seed: int, n: int | None = None, pool: Pool = "train") -> pd.DataFrame:
    """Clean typed records from the training distribution (the whole training period).

    pool="heldout" draws the same distribution from the population held-back traffic comes
    from (for a table: rows no training record was drawn from), e.g. to measure a model's
    stable accuracy out of sample.
    """
    rng = _rng(seed, _REFERENCE_STREAM)
    size = n or recipe.time.training_records
    return kind_for(recipe).sample(recipe, World(prior=dict(recipe.label_prior)), size, rng, recipe.start,
                                   recipe.end, pool=pool).frame


# --- scenarios --------------------------------------------------------------------------

def phase_windows(recipe: Recipe, scenario: Scenario) -> list[tuple[datetime, datetime]]:
    """Each phase's time span: scenarios start where training ends, phases follow each other."""
    cursor = recipe.end
    spans = []
    for phase in scenario.phases:
        length = timedelta(days=phase.records / recipe.time.records_per_day)
        spans.append((cursor, cursor + length))
        cursor += length
    return spans


def _phase_truth(recipe: Recipe, scenario: Scenario, phase: Phase, start: int, end: int,
                 onset: str | None) -> PhaseTruth:
    drift: list[str] = []
    quality: list[str] = []
    for s in phase.shifts:
        if s.kind in ("covariate", "new_category", "unit_change", "stuck_value", "sensor_offset", "extreme_days"):
            drift.append(s.field)  # type: ignore[union-attr]
        elif s.kind == "label_prior":
            drift.extend(f.name for f in recipe.categorical() + recipe.numeric() if f.by_label)
        elif s.kind == "missing_burst":
            quality.extend(s.fields)  # type: ignore[union-attr]
        elif s.kind == "rename_field":
            quality.extend([s.field, s.to])  # type: ignore[union-attr]
    dedup = lambda xs: list(dict.fromkeys(xs))  # noqa: E731
    return PhaseTruth(
        scenario=scenario.name, name=phase.name, kind=phase.kind, start=start, end=end,
        onset_time=onset if phase.shifts else None, shifts=dedup(s.kind for s in phase.shifts),
        drift_fields=dedup(drift), quality_fields=dedup(quality), expect=phase.expect)


def generate_scenario(recipe: Recipe, scenario: Scenario, seed: int) -> ScenarioTraffic:
    return scenario_with_frames(recipe, scenario, seed)[0]


def scenario_with_frames(recipe: Recipe, scenario: Scenario,
                         seed: int) -> tuple[ScenarioTraffic, list[pd.DataFrame | None]]:
    """generate_scenario, plus each phase's clean typed frame before mess (None for a phase without records).

    The planner reads the clean frames to see what this seed's draw itself shows (harness.draw).
    """
    base = _rng(seed, _SCENARIO_STREAM, scenario.seed_offset, _name_key(scenario.name))
    prefix = f"{int(base.integers(0, 16 ** 6)):06x}"
    required = kind_for(recipe).required(recipe)
    phases: list[PhaseTraffic] = []
    frames: list[pd.DataFrame | None] = []
    index = 0
    for k, (phase, (t0, t1)) in enumerate(zip(scenario.phases, phase_windows(recipe, scenario))):
        rng = _rng(seed, _SCENARIO_STREAM, scenario.seed_offset, _name_key(scenario.name), k + 1)
        world = world_for(recipe, phase.shifts, kind_for(recipe).reading_shifts)
        n = phase.records
        records: list[dict[str, Any]] = []
        truths: list[RecordTruth] = []
        onset = None
        frame = None
        if phase.kind != "traffic" and n == 0:
            log.debug("%s/%s: %s phase without records", scenario.name, phase.name, phase.kind)
        if n:
            # held-back traffic comes from the held-back pool (tables: rows training never had)
            sample = kind_for(recipe).sample(recipe, world, n, rng, t0, t1, pool="heldout")
            ids = [f"{prefix}-{index + i:06d}" for i in range(n)]
            records, injections, dup_of = _build(
                recipe, sample, ids, mode="json", mess=phase.mess, rng=rng, renames=world.renames)
            labels = sample.frame[recipe.label].to_numpy(dtype=object)
            original = sample.original_label
            rows = []
            for i in range(n):
                src = dup_of.get(i, i)
                rows.append({
                    "id": ids[i], "scenario": scenario.name, "phase": phase.name, "index": index + i,
                    "kind": record_kind(injections[i], required), "label": labels[src],
                    "original_label": original[src],
                    "injections": [{"field": f, "code": c} for f, c in injections[i]],
                    "duplicate_of": ids[src] if src != i else None})
            # one validation call for the whole list: pydantic-core is fast in bulk, slow per object
            truths = _TRUTHS.validate_python(rows)
            first = sample.frame[recipe.time_field].iloc[0]
            onset = first.strftime("%Y-%m-%dT%H:%M:%SZ")
            frame = sample.frame.iloc[[dup_of.get(i, i) for i in range(n)]].reset_index(drop=True)
        frames.append(frame)
        phases.append(PhaseTraffic.model_construct(
            truth=_phase_truth(recipe, scenario, phase, index, index + n, onset), records=records, truths=truths))
        index += n
    return ScenarioTraffic(scenario=scenario.name, seed=seed, phases=phases), frames


def sample_clean(recipe: Recipe, scenario: Scenario, phase_name: str, n: int, seed: int) -> pd.DataFrame:
    """Post-shift, pre-mess typed records of one phase under wire field names (NaN = missing)."""
    spans = phase_windows(recipe, scenario)
    for phase, (t0, t1) in zip(scenario.phases, spans):
        if phase.name == phase_name:
            break
    else:
        raise ConfigError(f"scenario {scenario.name!r} has no phase {phase_name!r}")
    world = world_for(recipe, phase.shifts, kind_for(recipe).reading_shifts)
    rng = _rng(seed, _SAMPLE_STREAM, scenario.seed_offset, _name_key(scenario.name), _name_key(phase_name))
    if t1 <= t0:
        t1 = t0 + timedelta(days=max(n, 1) / recipe.time.records_per_day)
    frame = kind_for(recipe).sample(recipe, world, n, rng, t0, t1, pool="heldout").frame
    return frame.rename(columns={r.field: r.to for r in world.renames})
