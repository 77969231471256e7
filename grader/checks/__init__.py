"""Grading checks: small typed classes in a registry, named in exercise.toml.

Importing the package registers every check (each module registers its classes as it defines
them); `resolve` and `unmet` answer from the full registry.
"""
from __future__ import annotations

from grader.checks import accuracy, degradation, monitoring, operations, selective, slices, validation  # noqa: F401
from grader.checks.base import (NEEDS, REGISTRY, Check, CheckContext, CheckResult, FieldTruth, Scored, provided,
                                register)
from grader.errors import ConfigError

__all__ = ["NEEDS", "REGISTRY", "Check", "CheckContext", "CheckResult", "FieldTruth", "Scored", "provided",
           "register", "resolve", "unmet"]


def resolve(ids: list[str]) -> list[Check]:
    """Instantiate the named checks; unknown names fail here, before any container starts."""
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(f"unknown check(s) {', '.join(unknown)}; known: {known}")
    return [REGISTRY[i]() for i in ids]


def unmet(check_ids: list[str], have: set[str]) -> dict[str, set[str]]:
    """{check id: its needs the scenario set does not meet} for the checks that cannot be measured."""
    return {i: set(REGISTRY[i].needs) - have for i in check_ids if i in REGISTRY and not REGISTRY[i].needs <= have}
