"""Greenhouse partner keys: an organisation's (a team's) credential for the assessment partner API.

Greenhouse sends the key as the HTTP Basic username with an empty password on every call, and
the completion callback (PATCH) sends it back to Greenhouse the same way (harness.web.greenhouse
quotes the documentation). So a key is stored twice, neither in clear: its SHA-256 to recognise
it, and sealed with the app's encryption key to send it back. It is shown once, when made (admin
page or `shiftwork admin partner-key`), and redacted everywhere after. Nothing here commits.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.errors import NotFound, UsageError
from harness.store.audit import audit
from harness.store.models import PartnerKey, Team, utcnow
from harness.store.sealed import Sealer, digest
from harness.store.settings import WebSettings
from harness.web.text import clean_text

log = logging.getLogger(__name__)
KEY_PREFIX = "ghk_"
KEY_BYTES = 32  # 43 url-safe characters: 47 with the prefix, well under Greenhouse's "fewer than 171"
MAX_KEY_CHARS = 170  # Greenhouse takes no longer key; a longer username is nobody's key
SHOWN = KEY_PREFIX + "••••••••"  # what pages and the CLI show of a key after it was made


@dataclass(frozen=True)
class NewKey:
    row: PartnerKey
    key: str  # shown this once


def create_key(session: Session, settings: WebSettings, team_name: str, *, name: str = "", by: str = "",
               client: str = "") -> NewKey:
    """A new key for an existing team (a typo must not make an empty team Greenhouse then fills)."""
    team = session.scalar(select(Team).where(Team.name == team_name.strip())) if "\x00" not in team_name else None
    if team is None:
        known = ", ".join(t for t in session.scalars(select(Team.name).order_by(Team.name))) or "none"
        raise UsageError(f"no team {team_name.strip()[:100]!r} (teams: {known})")
    try:
        label = clean_text(name, "key name", 200)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    row = PartnerKey(team_id=team.id, name=label, key_hash=digest(key),
                     key_sealed=Sealer(settings.encryption_key).seal(key), created_by=by, created_at=utcnow())
    session.add(row)
    session.flush()
    audit(session, "partner_key_created", actor=by, target=f"partner key {row.id}",
          detail=f"Greenhouse key for team {team.name}" + (f" ({label})" if label else ""), client=client)
    log.info("partner key %d made for team %s", row.id, team.name)
    return NewKey(row=row, key=key)


def revoke_key(session: Session, key_id: int, *, by: str = "", client: str = "") -> PartnerKey:
    row = session.get(PartnerKey, key_id)
    if row is None:
        raise NotFound(f"no partner key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(session, "partner_key_revoked", actor=by, target=f"partner key {row.id}",
              detail=f"team {row.team.name}" + (f" ({row.name})" if row.name else ""), client=client)
        log.info("partner key %d revoked", row.id)
    return row


def list_keys(session: Session) -> list[PartnerKey]:
    return list(session.scalars(select(PartnerKey).options(selectinload(PartnerKey.team))
                                .order_by(PartnerKey.id.desc())))


def key_for(session: Session, presented: str) -> PartnerKey | None:
    """The active key `presented` is, or None (unknown, revoked, or not a key at all)."""
    if not presented or len(presented) > MAX_KEY_CHARS:
        return None
    wanted = digest(presented)
    row = session.scalar(select(PartnerKey).where(PartnerKey.key_hash == wanted))
    if row is None or not hmac.compare_digest(row.key_hash, wanted) or row.revoked_at is not None:
        return None
    return row

