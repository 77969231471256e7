"""The audit log: sign-ins and their refusals, lockouts, invite changes, score visibility."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from harness.store.models import AuditEvent, utcnow


def _text(value: str, limit: int) -> str:
    # What a client typed (an e-mail on the sign-in form) is hostile: PostgreSQL refuses a NUL, and a
    # lone surrogate cannot be encoded at all.
    return value[:limit].replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def audit(session: Session, action: str, *, actor: str = "", target: str = "", detail: str = "",
          client: str = "") -> AuditEvent:
    ev = AuditEvent(at=utcnow(), actor=_text(actor, 320), action=action[:40], target=_text(target, 200),
                    detail=_text(detail, 2000), client=_text(client, 64))
    session.add(ev)
    return ev


def recent(session: Session, limit: int = 200) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
