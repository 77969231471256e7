"""What a submission's build may do, checked before Docker sees it.

Two things a no-network build does not stop: `ADD <url>` is fetched by dockerd itself
(network_mode="none" only cuts off RUN steps), and a `FROM` image that is not local
starts a pull. Both are refused here. The build context is a fresh copy of the
submission, capped in size and file count, with permissions made readable so the
service can run as an arbitrary non-root user.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Callable

from harness.runtime.dockerfile import Instruction, parse_instructions

log = logging.getLogger(__name__)

# The instruction parser lives in harness.runtime.dockerfile; these names stay importable here.
parse_dockerfile = parse_instructions
__all__ = ["Instruction", "PolicyViolation", "check_dockerfile", "copy_context", "parse_dockerfile"]

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://|^git@", re.ASCII)
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache"}


class PolicyViolation(Exception):
    """The submission asks for something the grader refuses (reported as build_failed)."""


def _words(args: str) -> list[str]:
    if args.startswith("["):
        try:
            parsed = json.loads(args)
            if isinstance(parsed, list):
                return [str(x) for x in parsed]
        except ValueError:
            pass
    return args.split()


def _substitute(value: str, env: dict[str, str]) -> str | None:
    """Expand $VAR / ${VAR} / ${VAR:-default}; None when a variable has no value."""
    missing = False

    def repl(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1) or m.group(2)
        if name in env:
            return env[name]
        default = re.match(r"\$\{[^:}-]+:?-([^}]*)\}", m.group(0))
        if default:
            return default.group(1)
        missing = True
        return ""

    result = _VAR.sub(repl, value)
    return None if missing else result


def check_dockerfile(text: str, buildargs: dict[str, str], image_exists: Callable[[str], bool]) -> list[str]:
    """Every reason to refuse this Dockerfile (empty when it may be built)."""
    problems: list[str] = []
    instructions = parse_instructions(text)
    if not any(i.keyword == "FROM" for i in instructions):
        problems.append("Dockerfile has no FROM instruction")
    global_args: dict[str, str] = {}
    stages: list[str] = []
    seen_from = False
    for ins in instructions:
        words = _words(ins.args)
        if ins.keyword == "ARG" and not seen_from and words:
            name, eq, default = words[0].partition("=")
            if name in buildargs:
                global_args[name] = buildargs[name]
            elif eq:
                global_args[name] = default.strip("\"'")
        elif ins.keyword == "FROM":
            seen_from = True
            rest = [w for w in words if not w.startswith("--")]
            if not rest:
                problems.append(f"line {ins.line}: FROM without an image")
                continue
            image = _substitute(rest[0], global_args)
            if image is None:
                problems.append(f"line {ins.line}: FROM {rest[0]}: a build argument has no value")
            elif image.lower() != "scratch" and image not in stages and not image_exists(image):
                problems.append(f"line {ins.line}: FROM {image}: not available on this machine (images are never pulled)")
            if len(rest) >= 3 and rest[1].lower() == "as":
                stages.append(rest[2])
        elif ins.keyword in ("ADD", "COPY", "ONBUILD"):
            if ins.keyword == "ONBUILD":
                inner = parse_instructions(ins.args)
                if inner and inner[0].keyword == "ADD" and any(_URL.match(w) for w in _words(inner[0].args)):
                    problems.append(f"line {ins.line}: ONBUILD ADD from a URL is not allowed")
                continue
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            if ins.keyword == "ADD" and any(_URL.match(p) for p in paths[:-1] or paths):
                problems.append(f"line {ins.line}: ADD from a URL is not allowed (the build has no network; "
                                "put the file in the submission and COPY it)")
            for flag in flags:
                if flag.startswith("--from="):
                    src = flag.split("=", 1)[1]
                    if src not in stages and not src.isdigit() and not image_exists(src):
                        problems.append(f"line {ins.line}: COPY --from={src}: not a stage nor a local image")
    return problems


def copy_context(src: Path, dst: Path, max_bytes: int, max_files: int) -> tuple[int, int]:
    """Copy the submission into a fresh build context; (files, bytes). Raises PolicyViolation over a cap.

    Symlinks are dropped (Docker would not follow them out of the context anyway), VCS and
    virtualenv folders skipped, and modes made world-readable for the non-root runtime user.
    """
    files = total = 0
    dst.mkdir(parents=True, exist_ok=True)
    for root, dirs, names in os.walk(src, followlinks=False):
        rel = Path(root).relative_to(src)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not (Path(root) / d).is_symlink())
        (dst / rel).mkdir(exist_ok=True)
        os.chmod(dst / rel, 0o755)
        for name in sorted(names):
            path = Path(root) / name
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            files += 1
            total += st.st_size
            if files > max_files:
                raise PolicyViolation(f"submission has more than {max_files} files (limit for the build context)")
            if total > max_bytes:
                raise PolicyViolation(f"submission is over {max_bytes // 1_000_000} MB (limit for the build context)")
            target = dst / rel / name
            shutil.copyfile(path, target)
            os.chmod(target, 0o755 if st.st_mode & 0o111 else 0o644)
    return files, total
