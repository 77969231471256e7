"""Layers import one way: harness (the application) uses grader (the library), never the reverse."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (function-level imports included)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def test_grader_never_imports_harness() -> None:
    wrong = [f"{p.relative_to(ROOT)}:{line}: imports {mod}"
             for p in sorted((ROOT / "grader").rglob("*.py"))
             for line, mod in _imports(p) if mod == "harness" or mod.startswith("harness.")]
    assert not wrong, "\n".join(wrong)


def test_the_check_finds_a_wrong_import(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from harness.data import engine\n    import harness.cli\n")
    assert [m for _, m in _imports(bad)] == ["harness.data", "harness.cli"]
