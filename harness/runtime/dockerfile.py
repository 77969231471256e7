"""Reading a submission's Dockerfile exactly as Docker does: the one parser both runtimes use.

parse_instructions() is BuildKit's own parser (the `dockerfile` package wraps its Go
code), so tabs, parser directives, continuations, heredocs and JSON forms are read as
the engine reads them; expand() is a port of BuildKit's shell lexer (quotes, escapes,
$V, ${V}, ${V:-w}, ${V-w}, ${V:+w}, ${V+w}, ${V:?w}) for ARG/ENV values. The policy
(harness.runtime.policy) checks what these give; parse_dockerfile() reads just enough
of the final stage to run the service without Docker (the local runtime).
"""
from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from grader.errors import DockerfileError, Unresolvable  # noqa: F401  (re-exported)

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
    """One instruction as BuildKit's own parser reads it (via the `dockerfile` package)."""

    line: int
    keyword: str                 # upper case
    args: str                    # the text after the keyword, continuation lines joined
    flags: tuple[str, ...] = ()  # --name=value flags, as written
    value: tuple[str, ...] = ()  # the words (shell form: as written, quotes kept; JSON form: the strings)
    json: bool = False
    heredocs: tuple[str, ...] = ()   # names of the heredocs this instruction opens
    sub_keyword: str | None = None   # ONBUILD's instruction


_DIRECTIVE = re.compile(r"^\s*(#|//)\s*syntax\s*=", re.IGNORECASE)
_KEYWORD = re.compile(r"^\s*\S+\s*")


def syntax_directive(text: str) -> bool:
    """True when a `# syntax=` directive may apply: BuildKit then pulls that frontend image.

    BuildKit reads directives only at the very top; this looks at every comment before the
    first instruction, which is a superset (refusing more, never less).
    """
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped and not stripped.startswith(("#", "//")):
            return False
        if _DIRECTIVE.match(stripped):
            return True
    return False


def parse_instructions(text: str) -> list[Instruction]:
    """Instructions as Docker reads them: BuildKit's Go parser, through the `dockerfile` package.

    It knows what a hand-written parser keeps getting wrong: tabs as separators, the
    escape directive only at the very top, comments inside continuations, heredocs,
    JSON forms. DockerfileError when it cannot be read.
    """
    import dockerfile  # BuildKit's parser, compiled; imported here so nothing loads at import time

    if "\x00" in text:
        # The Go parser stops at a NUL (C string); Docker would read on: never let them differ.
        raise DockerfileError("the Dockerfile contains a NUL character")
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        if "no instructions" in str(exc):
            return []
        raise DockerfileError(f"the Dockerfile cannot be parsed: {str(exc).splitlines()[0][:200]}") from None
    out = []
    for c in commands:
        out.append(Instruction(
            line=c.start_line, keyword=c.cmd.upper(), args=_KEYWORD.sub("", c.original, count=1).strip(),
            flags=tuple(c.flags), value=tuple(c.value), json=bool(c.json),
            heredocs=tuple(h.name for h in c.heredocs), sub_keyword=c.sub_cmd.upper() if c.sub_cmd else None,
        ))
    return out


# -- BuildKit's shell lexer (frontend/dockerfile/shell/lex.go), for ARG/ENV expansion --------
class Scope:
    """Variables a word may use. `closed`: a name not listed is unset (else its value is unknown).

    A value of None means "set, but not knowable before the build" (e.g. ENV PATH=$PATH:/x,
    where PATH comes from the base image).
    """

    def __init__(self, values: dict[str, str | None] | None = None, closed: bool = False) -> None:
        self.values: dict[str, str | None] = dict(values or {})
        self.closed = closed

    def get(self, name: str) -> tuple[str, bool]:
        if name in self.values:
            value = self.values[name]
            if value is None:
                raise Unresolvable(f"${name} has no value known before the build")
            return value, True
        if self.closed:
            return "", False
        raise Unresolvable(f"${name} is not defined in the Dockerfile")

    def copy(self) -> "Scope":
        return Scope(self.values, self.closed)


_SPECIAL = set("*#@?-$!0")


class _Lexer:
    def __init__(self, word: str, scope: Scope, escape: str) -> None:
        self.s, self.i, self.scope, self.escape = word, 0, scope, escape

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1 if ch else 0
        return ch

    def process(self, stop: str = "", raw_escapes: bool = False) -> str:
        out: list[str] = []
        while self.peek():
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
            elif ch == "'":
                out.append(self.single_quote())
            elif ch == '"':
                out.append(self.double_quote())
            else:
                ch = self.next()
                if ch == self.escape:
                    if raw_escapes:
                        out.append(ch)
                    ch = self.next()
                    if not ch:
                        break
                out.append(ch)
        if stop:
            raise DockerfileError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out)

    def single_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.next()
            if not ch:
                raise DockerfileError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise DockerfileError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                nxt = self.peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        out: list[str] = []
        while self.peek():
            ch = self.peek()
            if not out and ch.isdigit():
                while self.peek().isdigit():
                    out.append(self.next())
                return "".join(out)
            if not out and ch in _SPECIAL:
                return self.next()
            if not (ch.isalnum() or ch == "_"):
                break
            out.append(self.next())
        return "".join(out)

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.scope.get(name)[0]
        self.next()
        if self.peek() in ("", "{", "}", ":"):
            raise DockerfileError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.scope.get(name)[0]
        null_is_unset = False
        modifier = ch
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
        if ch not in ("-", "+", "?"):
            # ${V#p} ${V%p} ${V/p/r} and anything newer: refuse rather than guess.
            raise Unresolvable(f"${{{name}{modifier}...}} is not a substitution the grader evaluates")
        word = self.process(stop="}")
        value, is_set = self.scope.get(name)
        empty = not is_set or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if empty:  # "?"
            raise DockerfileError(f"{name}: {word or 'is not allowed to be unset or empty'}")
        return value


def expand(word: str, scope: Scope, escape: str = "\\") -> str:
    """One word as BuildKit's ProcessWord sees it: quotes removed, escapes and $VAR forms applied."""
    return _Lexer(word, scope, escape).process()


def escape_token(text: str) -> str:
    """The escape character: a `# escape=` directive on the first lines, before any other line."""
    for raw in text.splitlines():
        m = re.match(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$", raw)
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("`", "\\"):
            return m.group(2)
    return "\\"


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


def _word(raw: str, env: dict[str, str]) -> str:
    """Expand one word for the local runtime; what cannot be known expands to nothing."""
    try:
        return expand(raw, Scope({k: v for k, v in env.items()}, closed=True))
    except DockerfileError:
        return raw


def _cmd_argv(ins: Instruction) -> list[str]:
    if ins.json:
        return list(ins.value)
    return _command(ins.value[0] if ins.value else "")


def parse_dockerfile(text: str) -> DockerfileInfo:
    """Just enough of the final stage to run it without Docker (the local runtime)."""
    info = DockerfileInfo()
    for ins in parse_instructions(text):
        word = ins.keyword
        if word == "CMD":
            info.cmd = _cmd_argv(ins)
        elif word == "ENTRYPOINT":
            info.entrypoint = _cmd_argv(ins)
        elif word == "ENV":
            pairs = list(ins.value)
            for key, value in zip(pairs[::2], pairs[1::2]):
                info.env[key] = _word(value, info.env)
        elif word == "WORKDIR" and ins.value:
            path = _word(ins.value[0], info.env)
            info.workdir = path if path.startswith("/") else str(PurePosixPath(info.workdir) / path)
        elif word == "RUN":
            info.runs.append(ins.args if ins.json else (ins.value[0] if ins.value else ""))
        elif word in ("COPY", "ADD"):
            args = [_word(a, info.env) for a in ins.value]
            if len(args) >= 2 and not ins.heredocs:
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
