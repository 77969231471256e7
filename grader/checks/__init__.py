"""Grading checks: small typed classes in a registry, named in exercise.toml."""


def load_all() -> None:
    """Import every check module so its classes register (done on demand, not at import)."""
    from grader.checks import accuracy, degradation, monitoring, operations, selective, slices, validation  # noqa: F401
