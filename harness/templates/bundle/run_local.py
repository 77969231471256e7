"""Run this service the way its Dockerfile would, without Docker (used by `make run`).

Reads the Dockerfile's last stage: sets its ENV, replays plain `RUN python ...` steps
(training, say), then starts ENTRYPOINT/CMD from this folder with PORT set (default
8000), bound to 127.0.0.1. Standard library only: it runs before anything else is
installed. It does not isolate anything; `make run DOCKER=1` builds the real image.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

SHELL_CHARS = re.compile(r"[|&;<>$`(){}*?~]")
PYTHON = re.compile(r"python(3(\.\d+)?)?")
SERVERS = ("uvicorn", "gunicorn", "hypercorn")


def logical_lines(text: str) -> list[tuple[str, str]]:
    lines, buf = [], ""
    for raw in text.splitlines():
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        lines.append(buf + s)
        buf = ""
    if buf.strip():
        lines.append(buf.strip())
    return [(w.upper(), rest.strip()) for w, _, rest in (line.partition(" ") for line in lines)]


def argv_of(form: str) -> list[str]:
    if form.startswith("["):
        try:
            value = json.loads(form)
            if isinstance(value, list):
                return [str(v) for v in value]
        except ValueError:
            pass
    return shlex.split(form) if not SHELL_CHARS.search(form) else ["/bin/sh", "-c", form]


def parse(text: str, here: str | None = None) -> tuple[list[str], dict[str, str], list[list[str]]]:
    """(command, ENV, python build steps) of the last stage. ENV paths inside WORKDIR
    (e.g. MODEL_DIR=/app/model) are mapped into `here`, this folder, when given."""
    entry: list[str] = []
    cmd: list[str] = []
    env: dict[str, str] = {}
    runs: list[list[str]] = []
    workdir = "/"
    for word, rest in logical_lines(text):
        if word == "FROM":
            entry, cmd, env, workdir = [], [], {}, "/"
        elif word == "WORKDIR":
            workdir = rest if rest.startswith("/") else f"{workdir.rstrip('/')}/{rest}"
        elif word == "ENTRYPOINT":
            entry = argv_of(rest)
        elif word == "CMD":
            cmd = argv_of(rest)
        elif word == "ENV":
            parts = shlex.split(rest)
            if parts and "=" not in parts[0]:
                env[parts[0]] = " ".join(parts[1:])
            else:
                env.update(p.split("=", 1) for p in parts if "=" in p)
        elif word == "RUN" and not SHELL_CHARS.search(rest) and not rest.startswith("["):
            step = shlex.split(rest)
            if step and PYTHON.fullmatch(Path(step[0]).name) and step[1:3] not in (["-m", "pip"], ["-m", "venv"]):
                runs.append([sys.executable, *step[1:]])
    top = workdir.rstrip("/")
    if here is not None and top:
        env = {k: here + v[len(top):] if v == top or v.startswith(top + "/") else v for k, v in env.items()}
    return entry + cmd, env, runs


def local(argv: list[str], port: str) -> list[str]:
    """Use this venv's Python, and bind uvicorn/gunicorn/hypercorn to 127.0.0.1:PORT."""
    exe = Path(argv[0]).name
    if PYTHON.fullmatch(exe):
        argv = [sys.executable, *argv[1:]]
    elif exe in SERVERS:
        argv = [sys.executable, "-m", exe, *argv[1:]]
    server = argv[2] if len(argv) > 2 and argv[1] == "-m" and argv[2] in SERVERS else None
    if server == "uvicorn":
        return drop(drop(argv, "--host"), "--port") + ["--host", "127.0.0.1", "--port", port]
    if server:
        return drop(drop(argv, "--bind"), "-b") + ["--bind", f"127.0.0.1:{port}"]
    return argv


def drop(argv: list[str], flag: str) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            out.append(arg)
    return out


def main() -> None:
    here = Path(__file__).resolve().parent.parent
    argv, env, runs = parse((here / "Dockerfile").read_text(), str(here))
    if not argv:
        sys.exit("error: the Dockerfile has no CMD or ENTRYPOINT to run")
    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    port = os.environ.setdefault("PORT", "8000")
    os.environ.setdefault("HOST", "127.0.0.1")  # for services that read HOST; uvicorn et al. are rebound below
    os.chdir(here)
    for step in runs:
        print(f"build step: {shlex.join(step)}", flush=True)
        if subprocess.run(step).returncode != 0:
            sys.exit(f"error: build step failed: {shlex.join(step)}")
    argv = local(argv, port)
    print(f"running without Docker (no isolation) on http://127.0.0.1:{port}: {shlex.join(argv)}", flush=True)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.exit(f"error: cannot run {argv[0]!r}: {exc.strerror}")


if __name__ == "__main__":
    main()
