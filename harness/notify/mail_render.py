"""The e-mail templates: Jinja2, a subject, a text part and an HTML part per kind, editable by an admin.

The defaults ship in harness/notify/templates/mail/; a file of the same name in DATA_DIR/mail-templates/
wins (read afresh for each message). Each kind has three files: KIND.subject.j2 (one line), KIND.txt.j2
and KIND.html.j2 (autoescaped).
Undefined variables are errors (StrictUndefined) and the environment is sandboxed; whatever goes wrong
while rendering is one MailTemplateError naming the file, so a broken override fails the message with
that reason and shows on /admin/mail instead of losing the mail or stopping the dispatcher.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from grader.errors import MailTemplateError

SHIPPED = Path(__file__).resolve().parent / "templates" / "mail"
OVERRIDES = "mail-templates"  # under the data folder
PARTS = ("subject", "txt", "html")
# What each kind's templates may use (the admin page lists them).
COMMON = ("candidate_name", "exercise", "exercise_id", "deadline", "team", "app_url")
VARIABLES: dict[str, tuple[str, ...]] = {
    "invite_link": (*COMMON, "link", "reissued"),
    "reminder": (*COMMON, "link"),
    "graded_notice": (*COMMON, "recruiter", "status", "score", "invite_url"),
}
KINDS = tuple(VARIABLES)
SUBJECT_LIMIT = 300  # Message.subject's length


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def file_name(kind: str, part: str) -> str:
    return f"{kind}.{part}.j2"


def override_dir(data_dir: Path) -> Path:
    return data_dir / OVERRIDES


@lru_cache(maxsize=8)
def _environment(overrides: str) -> SandboxedEnvironment:
    # No template cache: Jinja would notice an edited override, but not a new one in front of a cached
    # shipped file. Nine small files, compiled per message, cost nothing next to an SMTP round trip.
    return SandboxedEnvironment(
        loader=ChoiceLoader([FileSystemLoader(overrides), FileSystemLoader(str(SHIPPED))]),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")), undefined=StrictUndefined,
        keep_trailing_newline=True, cache_size=0)


def _where(data_dir: Path, name: str) -> str:
    return f"{name} (override in {override_dir(data_dir)})" if (override_dir(data_dir) / name).is_file() else name


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def render_part(data_dir: Path, kind: str, part: str, context: dict[str, Any]) -> str:
    name = file_name(kind, part)
    try:
        return _environment(str(override_dir(data_dir))).get_template(name).render(context)
    except TemplateSyntaxError as exc:
        raise MailTemplateError(f"mail template {_where(data_dir, name)}: line {exc.lineno}: "
                              f"{_one_line(exc.message or exc)}") from None
    except TemplateError as exc:  # undefined variable, not found, refused by the sandbox
        raise MailTemplateError(f"mail template {_where(data_dir, name)}: {_one_line(exc.message or exc)}") from None
    except Exception as exc:  # noqa: BLE001 - a template's own error (a filter on a wrong type, ...)
        raise MailTemplateError(f"mail template {_where(data_dir, name)}: "
                              f"{type(exc).__name__}: {_one_line(exc)}") from None


def _subject(data_dir: Path, kind: str, context: dict[str, Any]) -> str:
    subject = _one_line(render_part(data_dir, kind, "subject", context), SUBJECT_LIMIT)
    if not subject:
        raise MailTemplateError(f"mail template {_where(data_dir, file_name(kind, 'subject'))}: the subject is empty")
    return subject


def render(data_dir: Path, kind: str, context: dict[str, Any]) -> Rendered:
    if kind not in VARIABLES:
        raise MailTemplateError(f"no mail templates for the kind {kind!r}")
    return Rendered(subject=_subject(data_dir, kind, context), text=render_part(data_dir, kind, "txt", context),
                    html=render_part(data_dir, kind, "html", context))


def sample(kind: str, app_url: str = "") -> dict[str, Any]:
    """Made-up values, to check that every template renders (the admin page)."""
    base = app_url or "https://hiring.example.com"
    values: dict[str, Any] = {
        "candidate_name": "Ada Lovelace", "exercise": "Support triage", "exercise_id": "support-triage",
        "deadline": "2030-01-31 23:59 UTC", "team": "Default", "app_url": base, "link": f"{base}/i/EXAMPLE",
        "reissued": False, "recruiter": "Rita", "status": "graded", "score": "87.5",
        "invite_url": f"{base}/invites/1"}
    return {k: values[k] for k in VARIABLES[kind]}


@dataclass(frozen=True)
class TemplateRow:
    kind: str
    part: str
    name: str
    override: Path  # where an override goes (the file, whether or not it exists)
    overridden: bool
    problem: str | None  # why it does not render with the sample values


def template_rows(data_dir: Path, app_url: str = "") -> list[TemplateRow]:
    """Every template: shipped or overridden, and whether it renders."""
    rows = []
    for kind in KINDS:
        for part in PARTS:
            name = file_name(kind, part)
            problem = None
            try:
                if part == "subject":
                    _subject(data_dir, kind, sample(kind, app_url))
                else:
                    render_part(data_dir, kind, part, sample(kind, app_url))
            except MailTemplateError as exc:
                problem = str(exc)
            path = override_dir(data_dir) / name
            rows.append(TemplateRow(kind=kind, part=part, name=name, override=path, overridden=path.is_file(),
                                    problem=problem))
    return rows


# -- an admin edits a template in the app (/admin/mail/templates/NAME) --------------------------------------
MAX_TEMPLATE_CHARS = 20_000


def parse_name(name: str) -> tuple[str, str]:
    """(kind, part) of a template's file name, or MailTemplateError (a name is never a path)."""
    for kind in KINDS:
        for part in PARTS:
            if name == file_name(kind, part):
                return kind, part
    raise MailTemplateError(f"no mail template {name[:80]!r}")


def source(data_dir: Path, name: str) -> tuple[str, bool]:
    """The template's text as it is used now, and whether it is the admin's override."""
    parse_name(name)
    path = override_dir(data_dir) / name
    if path.is_file():
        return path.read_text(encoding="utf-8"), True
    return (SHIPPED / name).read_text(encoding="utf-8"), False


def save_override(data_dir: Path, name: str, text: str, app_url: str = "") -> Path:
    """Write the admin's text as the override once it renders with sample values; MailTemplateError (a one-
    line reason) otherwise, and nothing written. Atomic: a message sent meanwhile reads the old or the new."""
    kind, part = parse_name(name)
    text = text.replace("\r\n", "\n")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise MailTemplateError(f"mail template {name}: longer than {MAX_TEMPLATE_CHARS} characters")
    env = _environment(str(override_dir(data_dir)))
    try:
        rendered = env.from_string(text).render(sample(kind, app_url))
    except TemplateSyntaxError as exc:
        raise MailTemplateError(f"mail template {name}: line {exc.lineno}: {_one_line(exc.message or exc)}") from None
    except Exception as exc:  # noqa: BLE001 - undefined variable, the sandbox, a filter on a wrong type
        raise MailTemplateError(f"mail template {name}: {_one_line(getattr(exc, 'message', None) or exc)}") from None
    if part == "subject" and not _one_line(rendered):
        raise MailTemplateError(f"mail template {name}: the subject is empty")
    folder = override_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def remove_override(data_dir: Path, name: str) -> bool:
    """Back to the shipped template; False when there was no override."""
    parse_name(name)
    path = override_dir(data_dir) / name
    if not path.is_file():
        return False
    path.unlink()
    return True
