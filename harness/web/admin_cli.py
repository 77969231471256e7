"""`shiftwork admin create-user` and `shiftwork admin token`: accounts made from the command line
(the first administrator cannot be made from a page no one can log in to yet); `partner-key(s)`:
Greenhouse partner keys."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy import func, select

from grader.errors import NotFound, UsageError
from harness.store.db import make_engine, migrate, session_factory, transaction
from harness.store.models import RECRUITER, Recruiter
from harness.store.settings import build_settings
from harness.web.accounts import MIN_PASSWORD, add_to_team, create_api_token, create_recruiter, normalize_email
from harness.web.partner_keys import SHOWN, create_key, list_keys, revoke_key

log = logging.getLogger(__name__)
PASSWORD_ENV = "SHIFTWORK_ADMIN_PASSWORD"


def _factory(data: Path):  # type: ignore[no-untyped-def]
    settings = build_settings(data)
    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine, session_factory(engine)


def _password() -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    try:
        return typer.prompt(f"Password (at least {MIN_PASSWORD} characters)", hide_input=True,
                            confirmation_prompt=True)
    except typer.Abort:
        raise UsageError(f"no password given (type it at the prompt or set {PASSWORD_ENV})") from None


def create_user_command(data: Path, email: str, *, name: str, admin: bool | None, console: Console,
                        teams: list[str] | None = None, role: str = RECRUITER) -> None:
    engine, factory = _factory(data)
    try:
        with factory() as session:  # refuse a taken e-mail before asking for a password
            taken = session.scalar(select(Recruiter.id).where(Recruiter.email == normalize_email(email)))
        if taken is not None:
            raise UsageError(f"a recruiter with the e-mail {normalize_email(email)} exists already")
        password = _password()
        with transaction(factory) as session:
            first = not session.scalar(select(func.count()).select_from(Recruiter))
            # the first account administers unless told otherwise (an interviewer never does)
            is_admin = (first and role == RECRUITER) if admin is None else admin
            recruiter = create_recruiter(session, email, password, name=name, admin=is_admin, teams=teams, role=role)
            address, team_names = recruiter.email, [t.name for t in recruiter.teams]
    finally:
        engine.dispose()
    console.print(f"{role} {address} created{' (administrator)' if is_admin else ''}, team(s): "
                  f"{', '.join(team_names)}", highlight=False, markup=False)


def team_add_command(data: Path, email: str, team: str, *, console: Console) -> None:
    engine, factory = _factory(data)
    try:
        with transaction(factory) as session:
            recruiter = add_to_team(session, email, team)
            address, team_names = recruiter.email, [t.name for t in recruiter.teams]
    finally:
        engine.dispose()
    console.print(f"{address} is in team(s): {', '.join(team_names)}", highlight=False, markup=False)


def token_command(data: Path, email: str, *, name: str, console: Console) -> None:
    engine, factory = _factory(data)
    try:
        with transaction(factory) as session:
            token = create_api_token(session, email, name=name)
    finally:
        engine.dispose()
    console.print("API token (shown only now; the server keeps its hash):", highlight=False, markup=False)
    # The token alone on stdout, so a script can capture it.
    print(token)


def _settings_factory(data: Path):  # type: ignore[no-untyped-def]
    """Like _factory, with the settings: a partner key is sealed with the data folder's encryption key."""
    settings = build_settings(data)
    engine = make_engine(settings.database_url)
    migrate(engine)
    return settings, engine, session_factory(engine)


def partner_key_command(data: Path, team: str, *, name: str, console: Console) -> None:
    settings, engine, factory = _settings_factory(data)
    try:
        with transaction(factory) as session:
            made = create_key(session, settings, team, name=name, by="cli")
            key_id, team_name = made.row.id, made.row.team.name
    finally:
        engine.dispose()
    console.print(f"Greenhouse partner key {key_id} of team {team_name} (shown only now; the server keeps its "
                  "hash and a sealed copy). Greenhouse sends it as the HTTP Basic username, no password:",
                  highlight=False, markup=False)
    print(made.key)  # alone on stdout, so a script can capture it


def partner_keys_command(data: Path, *, console: Console) -> None:
    engine, factory = _factory(data)
    try:
        with factory() as session:
            rows = [(k.id, k.team.name, k.name, k.created_at, k.last_used_at, k.revoked_at) for k in list_keys(session)]
    finally:
        engine.dispose()
    if not rows:
        console.print("no partner key (make one with `shiftwork admin partner-key --team TEAM`)",
                      highlight=False, markup=False)
    for key_id, team, label, made, used, revoked in rows:
        state = f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else "active"
        last = f"{used:%Y-%m-%d %H:%M}" if used else "never"
        print(f"{key_id}\t{team}\t{SHOWN}\t{state}\tmade {made:%Y-%m-%d %H:%M}\tlast used {last}\t{label}")


def partner_key_revoke_command(data: Path, key_id: int, *, console: Console) -> None:
    engine, factory = _factory(data)
    try:
        with transaction(factory) as session:
            try:
                row = revoke_key(session, key_id, by="cli")
            except NotFound as exc:
                raise UsageError(str(exc)) from None
            team = row.team.name
    finally:
        engine.dispose()
    console.print(f"partner key {key_id} of team {team} revoked", highlight=False, markup=False)
