"""Reading a submission's Dockerfile: the one instruction parser both runtimes use.

parse_instructions() splits a Dockerfile into instructions (the docker runtime's
policy checks read these); parse_dockerfile() reads just enough of the final stage
to run the service without Docker (the local runtime).
"""
from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath

_SHELL_CHARS = re.compile(r"[|&;<>$`(){}*?~]")
_PYTHON = re.compile(r"python(3(\.\d+)?)?")
_SERVERS = ("uvicorn", "gunicorn", "hypercorn")


@dataclass
class DockerfileInfo:
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    runs: list[str] = field(default_factory=list)
    copies: list[tuple[list[str], str, str]] = field(default_factory=list)  # sources, dest, workdir then

    def argv(self) -> list[str] | None:
        """The start command as Docker would run it (ENTRYPOINT + CMD)."""
        if self.entrypoint:
            return self.entrypoint + (self.cmd or [])
        return self.cmd or None

    def app_subdir(self) -> str | None:
        """When the image's last COPY into the final WORKDIR copies one sub-folder, the service runs there."""
        for sources, dest, at in reversed(self.copies):
            target = dest if dest.startswith("/") else str(PurePosixPath(at) / dest)
            if target.rstrip("/") != self.workdir.rstrip("/") or len(sources) != 1:
                continue
            src = sources[0].strip("/")
            return None if src in ("", ".") else src
        return None


@dataclass
class Instruction:
    line: int
    keyword: str
    args: str


def parse_instructions(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped (both runtimes read these)."""
    escape = "\\"
    lines = text.splitlines()
    for raw in lines[:5]:  # parser directives come first
        m = re.match(r"^\s*#\s*escape\s*=\s*(\S)\s*$", raw, re.IGNORECASE)
        if m:
            escape = m.group(1)
    out: list[Instruction] = []
    buf, start = "", 0
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comments inside a continued instruction are dropped by Docker too
        if not buf:
            start = number
        if stripped.endswith(escape):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        keyword, _, args = buf.partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
        buf = ""
    if buf:
        keyword, _, args = buf.partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
    return out


def _command(rest: str) -> list[str]:
    rest = rest.strip()
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    # Shell form: split plainly when no shell feature is used, else hand it to sh.
    if not _SHELL_CHARS.search(rest):
        return shlex.split(rest)
    return ["/bin/sh", "-c", rest]


def _env(rest: str, into: dict[str, str]) -> None:
    parts = shlex.split(rest)
    if parts and "=" not in parts[0]:
        if len(parts) >= 2:
            into[parts[0]] = " ".join(parts[1:])
        return
    for part in parts:
        key, _, value = part.partition("=")
        if key:
            into[key] = value


def parse_dockerfile(text: str) -> DockerfileInfo:
    """Just enough of the final stage to run it without Docker (the local runtime)."""
    info = DockerfileInfo()
    for ins in parse_instructions(text):
        word, rest = ins.keyword, ins.args
        if word == "CMD":
            info.cmd = _command(rest)
        elif word == "ENTRYPOINT":
            info.entrypoint = _command(rest)
        elif word == "ENV":
            _env(rest, info.env)
        elif word == "WORKDIR":
            path = rest.strip()
            info.workdir = path if path.startswith("/") else str(PurePosixPath(info.workdir) / path)
        elif word == "RUN":
            info.runs.append(rest.strip())
        elif word in ("COPY", "ADD"):
            args = [a for a in _command(rest) if not a.startswith("--")]
            if len(args) >= 2:
                info.copies.append((args[:-1], args[-1], info.workdir))
        elif word == "FROM":
            # A new stage starts from scratch; only the last stage's settings count.
            info = DockerfileInfo(runs=info.runs, copies=[])
    return info


def local_argv(argv: list[str], host: str, port: int) -> list[str]:
    """Rewrite a container start command to run with the grader's Python on host:port."""
    exe = PurePosixPath(argv[0]).name
    if _PYTHON.fullmatch(exe):
        out = [sys.executable, *argv[1:]]
    elif exe in _SERVERS:
        out = [sys.executable, "-m", exe, *argv[1:]]
    else:
        out = list(argv)
    server = None
    if len(out) >= 3 and out[0] == sys.executable and out[1] == "-m" and out[2] in _SERVERS:
        server = out[2]
    if server == "uvicorn":
        out = _force_flag(out, "--host", host)
        out = _force_flag(out, "--port", str(port))
    elif server in ("gunicorn", "hypercorn"):
        out = _force_flag(out, "--bind", f"{host}:{port}", short="-b")
    return out


def _force_flag(argv: list[str], flag: str, value: str, short: str | None = None) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == flag or (short and arg == short):
            skip = True
            continue
        if arg.startswith(flag + "="):
            continue
        out.append(arg)
    return out + [flag, value]


def python_run_step(step: str) -> list[str] | None:
    """A RUN step the local runtime can replay: a plain `python something` (training, say)."""
    if step.startswith("[") or _SHELL_CHARS.search(step):
        return None
    argv = shlex.split(step)
    if not argv or not _PYTHON.fullmatch(PurePosixPath(argv[0]).name):
        return None
    if len(argv) >= 3 and argv[1] == "-m" and argv[2] in ("pip", "ensurepip", "venv"):
        return None
    return [sys.executable, *argv[1:]]
