"""What a submission's build may do, checked before Docker sees it.

Two things a no-network build does not stop: `ADD <url>` is fetched by dockerd itself
(network_mode="none" only cuts off RUN steps), and a `FROM` image that is not local
starts a pull. Both are refused here. The build context is a fresh copy of the
submission, capped in size and file count, with permissions made readable so the
service can run as an arbitrary non-root user.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Callable

from grader.errors import PolicyViolation  # noqa: F401  (re-exported)
from harness.runtime.dockerfile import (
    DockerfileError,
    Instruction,
    Scope,
    escape_token,
    expand,
    parse_instructions,
    syntax_directive,
)

log = logging.getLogger(__name__)

# The instruction parser lives in harness.runtime.dockerfile; these names stay importable here.
parse_dockerfile = parse_instructions
__all__ = ["Instruction", "PolicyViolation", "check_dockerfile", "copy_context", "parse_dockerfile"]

# What BuildKit treats as a remote ADD source (HTTP, git in its several spellings), widened:
# any scheme, scp-like user@host:path, and the github.com/ shorthand.
_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://|://|^[^/]*@[^/]*:|^github\.com/", re.ASCII)
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache"}
_KNOWN = {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
          "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}


class _Stage:
    def __init__(self, name: str | None, scope: Scope) -> None:
        self.name, self.scope = name, scope


class _Checker:
    """Walks the instructions as BuildKit would, with the variables it would have at each step."""

    def __init__(self, text: str, buildargs: dict[str, str], image_exists: Callable[[str], bool]) -> None:
        self.text, self.buildargs, self.image_exists = text, buildargs, image_exists
        self.base = buildargs.get("BASE_IMAGE")
        self.escape = escape_token(text)
        self.problems: list[str] = []
        self.global_scope = Scope(closed=True)   # ARGs before the first FROM: nothing else exists there
        self.global_defaults: dict[str, str | None] = {}
        self.stages: list[_Stage] = []

    def refuse(self, ins: Instruction, why: str) -> None:
        self.problems.append(f"line {ins.line}: {why}")

    def word(self, ins: Instruction, raw: str, scope: Scope, what: str) -> str | None:
        try:
            return expand(raw, scope, self.escape)
        except DockerfileError as exc:
            self.refuse(ins, f"{what} {raw!r} cannot be resolved before the build ({exc})")
            return None

    # -- instructions ----------------------------------------------------------------------
    def arg(self, ins: Instruction, scope: Scope, is_global: bool) -> None:
        for item in ins.value:
            name, eq, default = item.partition("=")
            if name in self.buildargs:
                value: str | None = self.buildargs[name]
            elif eq:
                try:
                    value = expand(default, scope, self.escape)
                except DockerfileError:
                    value = None  # known to be set, not what to
            elif not is_global and self.global_defaults.get(name) is not None:
                value = self.global_defaults[name]
            elif is_global:
                # Declared without a value: BuildKit leaves it unset (expands to nothing).
                scope.values.pop(name, None)
                self.global_defaults[name] = None
                continue
            else:
                # Unset here, so the base image's ENV of that name (unknown to us) would show through.
                scope.values.setdefault(name, None)
                continue
            scope.values[name] = value
            if is_global:
                self.global_defaults[name] = value

    def env(self, ins: Instruction, scope: Scope) -> None:
        pairs = list(ins.value)
        for key, raw in zip(pairs[::2], pairs[1::2]):
            try:
                scope.values[key] = expand(raw, scope, self.escape)
            except DockerfileError:
                scope.values[key] = None  # e.g. PATH=$PATH:/x: set, but not knowable here

    def from_(self, ins: Instruction) -> None:
        words = list(ins.value)
        for flag in ins.flags:
            self.refuse(ins, f"FROM {flag}: flags on FROM are not allowed")
        if not words:
            self.refuse(ins, "FROM without an image")
            image = None
        else:
            image = self.word(ins, words[0], self.global_scope, "FROM")
        name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
        if image is not None:
            if not image:
                self.refuse(ins, f"FROM {words[0]}: a build argument has no value")
            elif self.find_stage(image) is not None:
                pass  # an earlier stage
            elif image.lower() == "scratch":
                pass  # the empty image: nothing is pulled
            elif self.base is not None and image == self.base:
                if not self.image_exists(image):
                    self.refuse(ins, f"FROM {image}: not available on this machine (images are never pulled)")
            else:
                self.refuse(ins, f"FROM {image}: only the grader's base image (FROM ${{BASE_IMAGE}}, "
                                 f"now {self.base or 'not set'}) or an earlier stage may be used; "
                                 "images are never pulled")
        # Each stage sees the global ARGs only when it declares them again (BuildKit's rule).
        self.stages.append(_Stage(name, Scope()))

    def find_stage(self, ref: str) -> _Stage | None:
        low = ref.lower()
        for stage in self.stages:
            if stage.name is not None and stage.name == low:
                return stage
        return None

    def stage_ref(self, ins: Instruction, ref: str, what: str) -> None:
        if ref.isdigit() and int(ref) < len(self.stages) - 1:
            return
        stage = self.find_stage(ref)
        if stage is None or stage is self.stages[-1]:
            self.refuse(ins, f"{what}={ref}: not an earlier stage (images are never pulled)")

    def copy(self, ins: Instruction, keyword: str, scope: Scope) -> None:
        for flag in ins.flags:
            key, eq, raw = flag.partition("=")
            if key == "--from":
                ref = self.word(ins, raw, scope, "--from") if eq else ""
                if ref is not None:
                    self.stage_ref(ins, ref, f"{keyword} --from")
            elif key in ("--keep-git-dir", "--checksum"):
                self.refuse(ins, f"{keyword} {key}: remote sources are not allowed")
        words = list(ins.value)
        sources = words[:-1] if len(words) > 1 else words
        for raw in sources:
            if raw.startswith("<<") and raw.lstrip("<-").strip("'\"") in ins.heredocs:
                continue  # an inline file (heredoc)
            value = self.word(ins, raw, scope, f"{keyword} source")
            if _REMOTE.search(raw) or (value is not None and _REMOTE.search(value)):
                self.refuse(ins, f"{keyword} from a URL is not allowed (the build has no network; "
                                 "put the file in the submission and COPY it)")
                return

    def run(self, ins: Instruction, scope: Scope) -> None:
        for flag in ins.flags:
            key, _, raw = flag.partition("=")
            if key == "--mount":
                options = dict(part.partition("=")[::2] for part in raw.split(","))
                if options.get("type") in ("ssh", "secret"):
                    self.refuse(ins, f"RUN --mount=type={options['type']} is not allowed")
                if "from" in options:
                    ref = self.word(ins, options["from"], scope, "--mount from")
                    if ref is not None:
                        self.stage_ref(ins, ref, "RUN --mount from")
            elif key == "--network" and raw not in ("none", "default"):
                self.refuse(ins, f"RUN --network={raw} is not allowed")
            elif key == "--security":
                self.refuse(ins, f"RUN --security={raw} is not allowed")

    def onbuild(self, ins: Instruction, scope: Scope) -> None:
        try:
            inner = parse_instructions(ins.args)
        except DockerfileError as exc:
            self.refuse(ins, f"ONBUILD: {exc}")
            return
        for sub in inner:
            sub.line = ins.line
            if sub.keyword in ("FROM", "ONBUILD", "MAINTAINER"):
                self.refuse(ins, f"ONBUILD {sub.keyword} is not allowed")
            else:
                self.instruction(sub, scope)

    def instruction(self, ins: Instruction, scope: Scope) -> None:
        k = ins.keyword
        if k not in _KNOWN:
            self.refuse(ins, f"unknown instruction {k[:40]!r}")
        elif k == "ARG":
            self.arg(ins, scope, is_global=False)
        elif k == "ENV":
            self.env(ins, scope)
        elif k in ("ADD", "COPY"):
            self.copy(ins, k, scope)
        elif k == "RUN":
            self.run(ins, scope)
        elif k == "ONBUILD":
            self.onbuild(ins, scope)

    def check(self) -> list[str]:
        if syntax_directive(self.text):
            self.problems.append("a `# syntax=` parser directive is not allowed (BuildKit would pull that "
                                 "frontend image)")
        try:
            instructions = parse_instructions(self.text)
        except DockerfileError as exc:
            return [*self.problems, str(exc)]
        if not any(i.keyword == "FROM" for i in instructions):
            self.problems.append("Dockerfile has no FROM instruction")
        for ins in instructions:
            if ins.keyword == "FROM":
                self.from_(ins)
            elif not self.stages:
                if ins.keyword == "ARG":
                    self.arg(ins, self.global_scope, is_global=True)
                else:
                    self.refuse(ins, f"{ins.keyword} before the first FROM (only ARG may come first)")
            else:
                self.instruction(ins, self.stages[-1].scope)
        return self.problems


def check_dockerfile(text: str, buildargs: dict[str, str], image_exists: Callable[[str], bool]) -> list[str]:
    """Every reason to refuse this Dockerfile (empty when it may be built).

    The engine fetches `ADD <url>` and pulls `FROM`/`COPY --from` images itself, on the
    host's network, whatever the build's network mode, so this check is the only gate:
    every FROM must be the grader's base image (`buildargs["BASE_IMAGE"]`), `scratch` or an
    earlier stage; every `COPY --from` and `RUN --mount from=` an earlier stage; no ADD
    source may be remote; and any of these that uses a variable whose value cannot be
    known here is refused rather than guessed.
    """
    return _Checker(text, buildargs, image_exists).check()


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
