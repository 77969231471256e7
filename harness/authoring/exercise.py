"""exercises/<id>/: exercise.toml, the proposed scenarios and the public self-check, as plain TOML.

The checks and weights are the tabular classification exercise's (credit-default's), for a
numeric target too (graded on mean absolute error, as load-forecast is): what is scored does not
depend on the table, only which fields the scenarios move does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Collection

import pandas as pd
import tomlkit

from harness.authoring.names import wire_name
from harness.authoring.scenarios import SHIFTED, Proposal, operations, stable_phase
from harness.authoring.schema import TableSchema
from harness.authoring.starter import render

WEIGHTS = {"validation": 0.30, "monitoring": 0.30, "degradation": 0.15, "operations": 0.15, "accuracy": 0.10}
BUDGETS = {"startup_s": 60, "p95_ms": 500, "request_timeout_s": 10, "max_response_bytes": 5_000_000,
           "grading_timeout_s": 900}
LIMITS = {"memory_mb": 1024, "cpus": 1.0, "pids": 128, "tmpfs_mb": 64, "build_timeout_s": 600, "context_mb": 200,
          "context_files": 5000, "image_mb": 3000}
CHECKS: list[dict[str, Any]] = [
    {"id": "no_server_errors"}, {"id": "invalid_flagged", "weight": 2}, {"id": "valid_served", "weight": 2},
    {"id": "recoverable_coerced", "weight": 1.5}, {"id": "malformed_rejected"},
    {"id": "drift_alarm_delay", "weight": 2}, {"id": "drift_false_alarms", "weight": 2}, {"id": "drift_attribution"},
    {"id": "quality_alarms", "weight": 1.5}, {"id": "performance_alarm"}, {"id": "slice_alarm"},
    {"id": "unfamiliar_fallback"}, {"id": "selective_fallback", "weight": 0.5}, {"id": "shift_accuracy"},
    {"id": "startup_time"}, {"id": "latency_p95"}, {"id": "memory_limit"}, {"id": "restart_recovery"},
    {"id": "in_distribution_accuracy"}]
PUBLIC = "public/self-check.toml"
PUBLIC_NAME = "self-check"
_SEED_BASE = 2101


def exercise_document(exercise_id: str, schema: TableSchema, title: str, label: str,
                      proposals: list[Proposal]) -> tomlkit.TOMLDocument:
    groups = [wire_name(c.name) for c in schema.columns if c.role == "group"]
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"{exercise_id}: written by `shiftwork exercise new`; edit the weights and the scenario"))
    doc.add(tomlkit.comment("list freely, then run `shiftwork scenarios check` and `make calibration`."))
    doc["id"] = exercise_id
    doc["version"] = "0.1.0"
    doc["title"] = title
    doc["dataset"] = exercise_id
    doc["label"] = label
    if schema.target_kind == "regression":
        doc["target"] = "regression"
        doc["metric"] = "mae"  # the error checks compare mean absolute errors with the plain baseline's
    if groups:
        doc["slices"] = groups
    doc["scenarios"] = [f"{p.name}.toml" for p in proposals]
    doc["public_scenario"] = PUBLIC
    doc["weights"] = WEIGHTS
    doc["budgets"] = BUDGETS
    doc["limits"] = LIMITS
    checks = tomlkit.aot()
    for c in CHECKS:
        if c["id"] != "slice_alarm" or groups:
            checks.append(tomlkit.item(c))
    doc["checks"] = checks
    return doc


def public_scenario(schema: TableSchema, frame: pd.DataFrame, proposals: list[Proposal],
                    skip: Collection[str] = ()) -> dict[str, Any]:
    """The self-check candidates run: the same kinds of shift as the held-back set, on other fields where it can."""
    held = {p.name: p for p in proposals}
    features = sorted((c for c in schema.columns if c.role == "feature"), key=lambda c: -c.signal)
    phases: list[dict[str, Any]] = [
        stable_phase(1000),
        {"name": "messy", "records": 600, "mess": 2.5,
         "expect": {"drift": "silent", "quality": "unscored", "performance": "silent"}}]
    numeric = [c for c in features if c.kind == "number"]
    moved = numeric[1] if len(numeric) > 1 else (numeric[0] if numeric else None)
    if moved is not None:
        phases.append({"name": "moved", "records": 700, "shifts": [
            {"kind": "covariate", "field": wire_name(moved.name), "scale": 2.0}],
            "expect": {**SHIFTED, "drift": "detect"}})
    empty = features[-1] if features else None
    if empty is not None and "upstream-outage" in held:
        phases.append({"name": "empty-field", "records": 700, "shifts": [
            {"kind": "missing_burst", "fields": [wire_name(empty.name)], "rate": 0.5}],
            "expect": {**SHIFTED, "quality": "detect"}})
    phases += operations().phases[1:]  # concurrent load, then a restart: as the held-back operations
    phases = [ph for ph in phases if ph["name"] not in skip]  # what calibration found unfair
    if any(p.slices for p in proposals):
        for ph in phases:
            if ph.get("kind", "traffic") == "traffic":
                # as the overall performance: a shift whose error rise is not scored (a numeric target's inputs
                # moving) leaves every group's unscored too
                ph["expect"].setdefault("slices", ph["expect"]["performance"])
    parts = ", ".join(ph["name"] for ph in phases)
    return {"name": PUBLIC_NAME, "description": f"Public self-check, in order: {parts}.", "public": True,
            "seed_offset": 9101, "batch_size": 100, "label_delay": 3, "window": 500, "phases": phases}


def brief(title: str, label: str, schema: TableSchema, classes: list[str]) -> str:
    """brief.md from its template: what the service predicts, for whom, and how it is graded. It ships to the
    candidate: it names no field a held-back scenario moves."""
    weights = ", ".join(f"{d} {round(w * 100)} %" for d, w in WEIGHTS.items())
    groups = [wire_name(c.name) for c in schema.columns if c.role == "group"]
    return render("brief.md.j2",
        title=title.rstrip("."), label=label, classes_said=" or ".join(f"`{c}`" for c in classes), weights=weights,
        groups=groups, groups_said=" and ".join(f"`{g}`" for g in groups), regression=not classes)


def write_exercise(folder: Path, exercise_id: str, schema: TableSchema, frame: pd.DataFrame, title: str, label: str,
                   proposals: list[Proposal], skip_public: Collection[str] = ()) -> None:
    """exercise.toml, scenarios/<name>.toml (held back) and public/self-check.toml, replacing what was there."""
    (folder / "scenarios").mkdir(parents=True, exist_ok=True)
    (folder / "public").mkdir(exist_ok=True)
    for old in (folder / "scenarios").glob("*.toml"):
        old.unlink()
    (folder / "exercise.toml").write_text(tomlkit.dumps(exercise_document(exercise_id, schema, title, label,
                                                                          proposals)))
    for k, p in enumerate(proposals):
        body = tomlkit.dumps(p.document(_SEED_BASE + 101 * k))
        (folder / "scenarios" / f"{p.name}.toml").write_text("# HELD BACK: never shipped to candidates.\n" + body)
    (folder / PUBLIC).write_text(tomlkit.dumps(public_scenario(schema, frame, proposals, skip_public)))
    (folder / "brief.md").write_text(brief(title, label, schema, schema.classes))
