"""Layers import one way, and no two files import each other, directly or round a loop.

LAYERS is the table, bottom first: a module may import its own layer and the ones below it,
never one above. Inside a layer the files form no cycle. Project modules are imported at the
top of a file; only the CLI edge (CLI_EDGE) imports them inside functions, so `shiftwork --help`
loads what one command needs. A test plants a violation of each rule and sees it found.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (layer, module prefixes), bottom first. A module belongs to the layer of its longest matching prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("grader", ("grader",)),  # the grading library: contract, replay, checks, reports
    ("data", ("harness.data", "harness.secret")),  # recipes, kinds, the engine; seeds
    ("runtime", ("harness.runtime", "harness.submission")),  # running and reading a submission
    # what is decided before a container starts
    ("planning", ("harness.baseline", "harness.calibration", "harness.calibration_store", "harness.draw",
                  "harness.plan_cache", "harness.planning", "harness.sources")),
    ("grading", ("harness.grading", "harness.cohort", "harness.selfcheck", "harness.solutions", "harness.demo",
                 "harness.datacmd", "harness.bundle", "harness.calibration_render")),  # commands' work
    ("authoring", ("harness.authoring",)),  # an author's table turned into an exercise
    ("store", ("harness.store",)),  # models, database, settings, timeline, migrations
    ("notify", ("harness.notify",)),  # e-mail, webhooks, Greenhouse callbacks: the outbox and its sender
    ("queue", ("harness.queue",)),
    ("web", ("harness.web",)),
    ("cli", ("harness.cli", "harness.web.serve", "harness.web.admin_cli")),  # the edge
]
# Where a function may import a project module (lazy loading at the edge), and why.
CLI_EDGE = {
    "harness.cli": "each command loads its own layer only when it runs",
    "harness.web.serve": "serve starts the embedded queue only when asked to",
}
PACKAGES = ("grader", "harness")


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    line: int
    in_function: bool


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in sorted((root / pkg).rglob("*.py")):
            # migrations are run by Alembic, templates copied into bundles: neither is imported
            if not {"migrations", "templates", "__pycache__"} & set(p.parts):
                out[module_name(p, root)] = p
    return out


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The project module an import names (`from a.b import c` is a.b.c when c is a module)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def edges(known: dict[str, Path]) -> list[Edge]:
    out = []
    for src, path in known.items():
        def visit(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue  # annotations only: never imported at run time
                inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                targets: list[str] = []
                if isinstance(child, ast.Import):
                    targets = [a.name for a in child.names]
                elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                    targets = [f"{child.module}.{a.name}" for a in child.names]
                for t in targets:
                    dst = _owner(t, known)
                    if dst and dst != src:
                        out.append(Edge(src, dst, child.lineno, in_function))
                visit(child, inner)

        visit(ast.parse(path.read_text(), str(path)), False)
    return out


def layer_of(name: str) -> int:
    if name in PACKAGES:  # a package's own __init__ (a docstring) sits under everything in it
        return 0
    best, rank = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    assert rank >= 0, f"{name} is in no layer: add it to LAYERS"
    return rank


def upward(found: list[Edge]) -> list[str]:
    return [f"{e.src}:{e.line} imports {e.dst} ({LAYERS[layer_of(e.src)][0]} -> {LAYERS[layer_of(e.dst)][0]})"
            for e in found if layer_of(e.dst) > layer_of(e.src)]


def cycles(found: list[Edge]) -> list[list[str]]:
    """Strongly connected groups of two or more files (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for e in found:
        graph.setdefault(e.src, set()).add(e.dst)
        graph.setdefault(e.dst, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    group = []
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        group.append(x)
                        if x == v:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
            elif w not in index:
                index[w] = low[w] = counter
                counter += 1
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(graph[w]))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return groups


def hidden(found: list[Edge]) -> list[str]:
    return [f"{e.src}:{e.line} imports {e.dst} inside a function" for e in found
            if e.in_function and e.src not in CLI_EDGE]


def test_every_module_has_a_layer() -> None:
    for name in modules():
        layer_of(name)


def test_no_module_imports_a_layer_above_its_own() -> None:
    wrong = upward(edges(modules()))
    assert not wrong, "\n".join(wrong)


def test_no_files_import_each_other_round_a_loop() -> None:
    found = cycles(edges(modules()))
    assert not found, "\n".join(" <-> ".join(g) for g in found)


def test_project_modules_are_imported_at_the_top_outside_the_cli_edge() -> None:
    wrong = hidden(edges(modules()))
    assert not wrong, "\n".join(wrong)


def test_grader_never_imports_harness() -> None:
    assert all(not e.dst.startswith("harness") for e in edges(modules()) if e.src.startswith("grader"))


def _plant(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir(exist_ok=True)
        (tmp_path / pkg / "__init__.py").touch()
    return modules(tmp_path)


def test_each_rule_finds_a_planted_violation(tmp_path: Path) -> None:
    known = _plant(tmp_path, {
        # a library module that reaches up into the web layer
        "grader/scoring.py": "from harness.web.app import create_app\n",
        "harness/web/app.py": "def create_app():\n    from harness.queue import jobs\n",
        "harness/queue/jobs.py": "from harness.queue.runner import run\n",
        "harness/queue/runner.py": "import harness.queue.jobs\n",
        "harness/grading.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harness.cli import app\n",
        "harness/cli.py": "def main():\n    from harness.web import app\n",
    })
    found = edges(known)
    assert upward(found) == ["grader.scoring:1 imports harness.web.app (grader -> web)"]
    assert cycles(found) == [["harness.queue.jobs", "harness.queue.runner"]]
    # the web app's function-level import is hidden structure; the CLI's is the allowed edge
    assert hidden(found) == ["harness.web.app:2 imports harness.queue.jobs inside a function"]
    # an annotation-only import is no edge (harness.grading -> harness.cli would be upward)
    assert not [e for e in found if e.src == "harness.grading"]


def _exception_classes(path: Path) -> list[str]:
    """Classes whose bases name an exception (Exception, *Error, a class of the error tree)."""
    tree = ast.parse(path.read_text(), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
            if any(b in ("Exception", "BaseException", "LookupError") or b.endswith(("Error", "Failure", "Violation"))
                   for b in bases):
                names.append(f"{module_name(path)}.{node.name}")
    return names


def test_every_exception_class_is_in_the_error_tree() -> None:
    elsewhere = [n for name, p in modules().items() if name != "grader.errors" for n in _exception_classes(p)]
    assert not elsewhere, elsewhere
    assert "grader.errors.RuntimeFailure" in _exception_classes(ROOT / "grader" / "errors.py")
