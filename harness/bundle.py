"""`shiftwork package`: one candidate's exercise repository (one git commit) and a .zip of it.

The bundle is built ONLY from an explicit allowlist: generated files (README, Makefile,
data, public self-check material, .exercise.json), the starter files matching
STARTER_ALLOW and a wheel of the harness/ and grader/ code. Nothing is ever copied from
the exercise folder wholesale, so held-back scenarios, solutions and the grader secret
cannot slip in. Identical inputs give identical bytes (fixed git identity and dates,
fixed zip timestamps, wheels built with SOURCE_DATE_EPOCH).
"""
from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from rich.console import Console

from grader.errors import ShiftworkError, UsageError
from grader.exercise import Exercise, load_exercise
from harness.data.engine import generate_scenario, generate_training, load_recipe
from harness.datacmd import data_dictionary
from harness.secret import derive_seed, load_secret, sign_token
from harness.selfcheck import SETTINGS_PATH, TRAFFIC_PATH, settings_for

log = logging.getLogger(__name__)

# Starter files a candidate receives; anything else in starter/ is left out, loudly.
# Patterns match whole path segments: "*" never crosses a "/", "**" spans any number of folders.
STARTER_ALLOW: tuple[str, ...] = (
    "Dockerfile", ".dockerignore", "requirements.txt", "contract/openapi.json", "contract/schemathesis.toml",
    "*.py", "app/**/*.py", "service/**/*.py", "tests/**/*.py",
)
# Bundle-only folders the image never needs (added to the starter's .dockerignore).
DOCKERIGNORE_EXTRA = (".git", ".venv", "tools", "selfcheck", "reports", "submission.tar.gz")
STARTER_SKIP_PARTS = {"__pycache__", ".venv", ".pytest_cache", "data", "reports"}

CANDIDATE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FIXED_DATE = "2026-01-01T00:00:00+0000"
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
SOURCE_DATE_EPOCH = "1767225600"  # FIXED_DATE as epoch seconds
GIT_IDENTITY = ("shiftwork", "shiftwork@localhost")

_WHEEL_CACHE: dict[str, bytes] = {}  # source digest -> wheel bytes (one build per process)


def validate_candidate(candidate: str) -> str:
    cand = candidate.strip()
    if not cand:
        raise UsageError("the candidate id is empty")
    if not CANDIDATE_RE.match(cand) or ".." in cand:
        raise UsageError(
            f"unsafe candidate id {candidate!r}: use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"
        )
    return cand


def _ensure_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".shiftwork-write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from exc


def package_command(exercise_id: str, *, candidate: str, out: Path, console: Console) -> None:
    """Write OUT/<exercise>-<candidate>/ (a one-commit git repo) and OUT/<exercise>-<candidate>.zip."""
    final, zip_path = package_bundle(exercise_id, candidate=candidate, out=out, console=console)
    console.print(f"wrote {final} and {zip_path} ({zip_path.stat().st_size // 1024} KiB)", highlight=False)


def package_bundle(exercise_id: str, *, candidate: str, out: Path, console: Console) -> tuple[Path, Path]:
    """What `package_command` writes, returned as (bundle folder, zip); the web app builds links' bundles with it."""
    cand = validate_candidate(candidate)
    ex = load_exercise(exercise_id)
    out = Path(out)
    _ensure_writable(out)
    if shutil.which("git") is None:
        raise UsageError("git is not installed; `shiftwork package` needs it to write the bundle repository")
    name = f"{ex.id}-{cand}"
    final, stage = out / name, out / f".{name}.tmp-{os.getpid()}"
    if final.exists() and not (final / ".exercise.json").is_file():
        raise UsageError(f"{final} exists and is not a bundle; move it away or choose another --out")
    secret = load_secret()
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        files = build_files(
            ex, candidate=cand,
            train_seed=derive_seed(secret, ex.id, cand),
            public_seed=derive_seed(secret, f"{ex.id}/public", cand),
            token=sign_token(secret, ex.id, ex.version, cand),
            console=console,
        )
        _refuse_secret(files, secret)
        write_tree(stage, files)
        console.print("committing the bundle repository", highlight=False)
        git_commit(stage, f"{ex.title}\n\nExercise {ex.id} {ex.version} for candidate {cand}.\n")
        shutil.rmtree(final, ignore_errors=True)
        stage.rename(final)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    zip_path = out / f"{name}.zip"
    write_zip(final, zip_path, top=name)
    return final, zip_path


def _refuse_secret(files: dict[str, bytes], secret: bytes) -> None:
    """Last line of defence: the grader secret must never be written into a bundle."""
    if len(secret) < 16:  # a toy secret would match by chance
        return
    leaked = [rel for rel, data in files.items() if secret in data]
    if leaked:
        raise ShiftworkError(f"refusing to write the bundle: the grader secret appears in {leaked[0]}")


def build_files(
    ex: Exercise, *, candidate: str, train_seed: int, public_seed: int, token: str, console: Console
) -> dict[str, bytes]:
    """Every file of the bundle (relative path -> bytes). The only place content is chosen."""
    files: dict[str, bytes] = {}
    starter = starter_files(ex.root / "starter")
    files.update(starter)

    recipe = load_recipe(ex.dataset)
    console.print(f"generating training data for {candidate}", highlight=False)
    train = generate_training(recipe, seed=train_seed)
    files["data/train.csv"] = train.csv_text().encode()
    files["data/data_dictionary.md"] = data_dictionary(recipe).encode()

    console.print("generating the public self-check traffic", highlight=False)
    scenario = ex.public()
    traffic = generate_scenario(recipe, scenario, seed=public_seed)
    files[TRAFFIC_PATH] = (traffic.model_dump_json() + "\n").encode()
    settings = settings_for(ex, scenario, traffic, recipe, console=console)
    files[SETTINGS_PATH] = (settings.model_dump_json(indent=2) + "\n").encode()

    console.print("building the shiftwork wheel", highlight=False)
    wheel_name, wheel = build_wheel(repo_source_root())
    files[f"tools/{wheel_name}"] = wheel
    files["tools/run_local.py"] = _template_bytes("run_local.py")

    meta = {"exercise": ex.id, "version": ex.version, "candidate": candidate, "token": token}
    files[".exercise.json"] = (json.dumps(meta, indent=2) + "\n").encode()
    brief = ex.root / "brief.md"
    if not brief.is_file():
        log.warning("%s has no brief.md: the README carries a generic problem statement", ex.id)
    ctx: dict[str, Any] = {
        "ex": ex, "candidate": candidate, "wheel": wheel_name, "settings": settings,
        "brief": brief.read_text() if brief.is_file() else "",
        "starter_entries": sorted({k.split("/")[0] + ("/" if "/" in k else "") for k in starter}
                                  - {"contract/", ".dockerignore"}),
    }
    files["README.md"] = render("README.md.j2", ctx).encode()
    files["Makefile"] = render("Makefile.j2", ctx).encode()
    files[".gitignore"] = render("gitignore.j2", ctx).encode()
    # Keep the build context small: without this, `COPY . .` would ship .venv, .git and tools/.
    current = starter.get(".dockerignore")
    files[".dockerignore"] = dockerignore(current.decode() if current is not None else None).encode()
    return files


def starter_files(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        raise UsageError(f"the exercise has no starter folder at {folder}")
    picked: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_dir() or STARTER_SKIP_PARTS.intersection(path.relative_to(folder).parts):
            continue
        if path.is_symlink():
            log.warning("starter: %s is a symlink; not shipped", rel)
            continue
        if any(allowed(rel, pat) for pat in STARTER_ALLOW):
            picked[rel] = path.read_bytes()
        else:
            log.warning("starter: %s is not in the bundle allowlist; not shipped", rel)
    for required in ("Dockerfile", "requirements.txt"):
        if required not in picked:
            raise UsageError(f"the exercise's starter has no {required} ({folder})")
    return picked


def allowed(rel: str, pattern: str) -> bool:
    """Segment-wise glob: fnmatch's "*" would match across "/" and let any deep file through."""
    def match(parts: list[str], pats: list[str]) -> bool:
        if not pats:
            return not parts
        if pats[0] == "**":
            return any(match(parts[i:], pats[1:]) for i in range(len(parts) + 1))
        return bool(parts) and fnmatch.fnmatchcase(parts[0], pats[0]) and match(parts[1:], pats[1:])

    return match(rel.split("/"), pattern.split("/"))


def dockerignore(starter_text: str | None) -> str:
    """The starter's .dockerignore plus the bundle-only folders it cannot know about."""
    text = starter_text if starter_text is not None else "__pycache__/\n*.pyc\n"
    have = {line.strip().strip("/") for line in text.splitlines()}
    extra = [e for e in DOCKERIGNORE_EXTRA if e not in have]
    if not extra:
        return text
    sep = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{sep}# bundle-only folders (added by shiftwork package)\n" + "".join(f"{e}\n" for e in extra)


def repo_source_root() -> Path:
    """The project checkout the wheel is built from (not $SHIFTWORK_HOME: code, not exercises)."""
    return Path(__file__).resolve().parent.parent


def _template_bytes(name: str) -> bytes:
    return (Path(__file__).parent / "templates" / "bundle" / name).read_bytes()


def render(name: str, ctx: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates" / "bundle"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
    )
    return env.get_template(name).render(**ctx)


def build_wheel(project: Path) -> tuple[str, bytes]:
    """`pip wheel --no-deps` of an allowlisted copy of the project (pyproject + harness/ + grader/).

    Copying first keeps build/ and *.egg-info out of the shared checkout and guarantees
    the wheel cannot pick up exercises/ or datasets/ whatever setuptools' discovery does.
    """
    import hashlib
    import tempfile

    sources: dict[str, bytes] = {"pyproject.toml": (project / "pyproject.toml").read_bytes()}
    for pkg in ("harness", "grader"):
        # code and its package data (the report and bundle templates): the self-check in a
        # candidate's bundle writes selfcheck/report.md with the grader's own templates
        for path in sorted(p for p in (project / pkg).rglob("*") if p.is_file()):
            if "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
                sources[path.relative_to(project).as_posix()] = path.read_bytes()
    digest = hashlib.sha256(b"".join(k.encode() + b"\0" + v for k, v in sorted(sources.items()))).hexdigest()
    if digest in _WHEEL_CACHE:
        data = _WHEEL_CACHE[digest]
    else:
        with tempfile.TemporaryDirectory(prefix="shiftwork-wheel-") as tmp:
            src, dist = Path(tmp) / "project", Path(tmp) / "dist"
            write_tree(src, sources)
            env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
            import sys

            proc = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
                capture_output=True, text=True, env=env, timeout=600,
            )
            wheels = sorted(dist.glob("shiftwork-*.whl"))
            if proc.returncode != 0 or len(wheels) != 1:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                raise ShiftworkError(f"building the shiftwork wheel failed: {tail[0]}")
            data = wheels[0].read_bytes()
            _WHEEL_CACHE[digest] = data
            _WHEEL_CACHE[f"name:{digest}"] = wheels[0].name.encode()
    name = _WHEEL_CACHE[f"name:{digest}"].decode()
    _check_wheel(name, data)
    return name, data


def _check_wheel(name: str, data: bytes) -> None:
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        stray = [n for n in zf.namelist() if not n.startswith(("harness/", "grader/", "shiftwork-"))]
    if stray:
        raise ShiftworkError(f"the wheel {name} holds files outside harness/ and grader/: {', '.join(stray[:3])}")


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in sorted(files.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)


def _git_env() -> dict[str, str]:
    name, email = GIT_IDENTITY
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"), "LC_ALL": "C",
        # No system/user config: a user's hooks, templates or autocrlf must not change the bytes.
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": FIXED_DATE,
        "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": FIXED_DATE,
    }


def git_commit(root: Path, message: str) -> None:
    def git(*args: str) -> None:
        proc = subprocess.run(["git", "-C", str(root), *args], env=_git_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise ShiftworkError(f"git {args[0]} failed in {root}: {proc.stderr.strip().splitlines()[-1:]}")

    git("init", "-q", "--template=", "-b", "main")
    git("add", "-A")
    git("-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message)
    # The index caches stat data (inode, ctime): rebuild it from the tree with zeroed stat
    # fields so the zipped .git is byte-identical too. git re-stats files on first use.
    (root / ".git" / "index").unlink()
    git("read-tree", "HEAD")


def write_zip(folder: Path, zip_path: Path, *, top: str) -> None:
    tmp = zip_path.with_name(f".{zip_path.name}.tmp-{os.getpid()}")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(folder.rglob("*")):
            rel = f"{top}/{path.relative_to(folder).as_posix()}"
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                info = zipfile.ZipInfo(rel + "/", FIXED_ZIP_TIME)
                info.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(info, b"")
            elif stat.S_ISREG(mode):
                info = zipfile.ZipInfo(rel, FIXED_ZIP_TIME)
                info.external_attr = ((0o100755 if mode & 0o111 else 0o100644) << 16)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    os.replace(tmp, zip_path)
