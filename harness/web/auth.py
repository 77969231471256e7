"""Who is asking: an account's session (pages) or an API token (JSON API), and the form token (CSRF).

Two roles: a recruiter sees their teams' invites; an interviewer only the invites assigned to
them (harness.web.scorecards), so every recruiter page and API route refuses an interviewer.

A session cookie holds a random session id (the CSRF scope), the recruiter's id and a
fingerprint of their password hash, so changing a password ends every older session.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Iterator
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import PageNotFound
from harness.store.models import ApiToken, Recruiter, utcnow
from harness.web.security import csrf_ok, csrf_token, hash_password, hash_token, verify_password

log = logging.getLogger(__name__)
CSRF_FIELD = "csrf_token"
CSRF_REFUSED = "refused: this form's security token is missing or wrong (reload the page and try again)"
INTERVIEWERS_REFUSED = "an interviewer sees only the invites assigned to them (/reviews, /api/v1/reviews)"
_bearer = HTTPBearer(auto_error=False, description="An API token from `shiftwork admin token EMAIL` (swt_...)")
# verify_password runs on this when the e-mail is unknown, so timing does not tell which e-mails exist
_DUMMY_HASH: list[str] = []


def db(request: Request) -> Iterator[Session]:
    """A session of the app's database for one request; routes commit what they change."""
    with request.app.state.sessions() as session:
        yield session


def _fingerprint(recruiter: Recruiter) -> str:
    return hashlib.sha256(recruiter.password_hash.encode()).hexdigest()[:16]


def session_id(request: Request) -> str:
    sid = request.session.get("sid")
    if not isinstance(sid, str) or len(sid) < 16:
        sid = secrets.token_urlsafe(18)
        request.session["sid"] = sid
    return sid


def csrf_for(request: Request) -> str:
    return csrf_token(request.app.state.settings.secret_key, session_id(request))


async def require_csrf(request: Request) -> None:
    """Refuse a form whose token was not made for this very session (forged, stale or copied)."""
    given = None
    sid = request.session.get("sid")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            form = await request.form()
        except Exception:  # a malformed body is as good as no token
            form = None
        value = form.get(CSRF_FIELD) if form is not None else None
        given = value if isinstance(value, str) else None
    if not isinstance(sid, str) or not csrf_ok(request.app.state.settings.secret_key, sid, given):
        log.info("CSRF refusal on %s %s", request.method, request.url.path)
        raise HTTPException(status_code=403, detail=CSRF_REFUSED)


def safe_next(target: str | None) -> str:
    """Only a path of this site (never //host or a scheme): the login form must not redirect away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def page_account(request: Request, session: Session = Depends(db)) -> Recruiter:
    """The logged-in account (recruiter or interviewer), or a redirect to /login that comes back here."""
    rid = request.session.get("rid")
    recruiter = session.get(Recruiter, rid) if isinstance(rid, int) else None
    if recruiter is None or request.session.get("pw") != _fingerprint(recruiter):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(status_code=303, detail="log in first",
                            headers={"Location": "/login?next=" + quote(target, safe="")})
    request.state.recruiter = recruiter
    return recruiter


def page_recruiter(request: Request, recruiter: Recruiter = Depends(page_account)) -> Recruiter:
    """The logged-in recruiter. An interviewer sees only the invites assigned to them: a page of theirs
    sends them to /reviews (so sign-in lands there), anything else is refused."""
    if recruiter.is_interviewer:
        if request.method == "GET":
            raise HTTPException(status_code=303, detail="interviewers see their reviews",
                                headers={"Location": "/reviews"})
        raise HTTPException(status_code=403, detail=INTERVIEWERS_REFUSED)
    return recruiter


def page_interviewer(recruiter: Recruiter = Depends(page_account)) -> Recruiter:
    """The logged-in interviewer; anyone else is told there is nothing here (as for an unassigned invite)."""
    if not recruiter.is_interviewer:
        raise PageNotFound("no reviews: this account is not an interviewer's")
    return recruiter


def admin_recruiter(recruiter: Recruiter = Depends(page_recruiter)) -> Recruiter:
    if not recruiter.is_admin:
        raise HTTPException(status_code=403, detail="only administrators see this page")
    return recruiter


def api_account(creds: HTTPAuthorizationCredentials | None = Depends(_bearer),
                session: Session = Depends(db)) -> Recruiter:
    """The account an API token belongs to; 401 for a missing, unknown or revoked token."""
    token = creds.credentials if creds is not None and creds.scheme.lower() == "bearer" else ""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token))) if token else None
    if row is None or row.revoked_at is not None:
        raise HTTPException(status_code=401, detail="a valid API token is required (Authorization: Bearer swt_...)",
                            headers={"WWW-Authenticate": "Bearer"})
    row.last_used_at = utcnow()
    session.commit()
    return row.recruiter


def api_recruiter(recruiter: Recruiter = Depends(api_account)) -> Recruiter:
    """A recruiter's token; an interviewer's is refused (403) on the recruiter API: /api/v1/reviews is theirs."""
    if recruiter.is_interviewer:
        raise HTTPException(status_code=403, detail=INTERVIEWERS_REFUSED)
    return recruiter


def api_interviewer(recruiter: Recruiter = Depends(api_account)) -> Recruiter:
    """An interviewer's token; a recruiter's has no reviews (404, as for an invite not assigned)."""
    if not recruiter.is_interviewer:
        raise HTTPException(status_code=404, detail="no reviews: this token is not an interviewer's")
    return recruiter


def signed_in(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer),
              session: Session = Depends(db)) -> Recruiter:
    """An account by API token when one is sent, else by its page session (401 for neither)."""
    if creds is not None:
        return api_account(creds, session)
    rid = request.session.get("rid")
    recruiter = session.get(Recruiter, rid) if isinstance(rid, int) else None
    if recruiter is None or request.session.get("pw") != _fingerprint(recruiter):
        raise HTTPException(status_code=401, detail="sign in, or send an API token (Authorization: Bearer swt_...)",
                            headers={"WWW-Authenticate": "Bearer"})
    return recruiter


def client_of(request: Request) -> str:
    """The client's address: behind a trusted proxy, the real client's (uvicorn's proxy_headers)."""
    return request.client.host if request.client is not None else ""


def find_recruiter(session: Session, email: str) -> Recruiter | None:
    address = email.strip().lower()
    # PostgreSQL refuses a NUL in a text parameter (an error, not "no row"): such an e-mail is no one's.
    return session.scalar(select(Recruiter).where(Recruiter.email == address)) if "\x00" not in address else None


def authenticate(session: Session, email: str, password: str) -> Recruiter | None:
    recruiter = find_recruiter(session, email)
    if recruiter is None:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(12)))
        verify_password(_DUMMY_HASH[0], password)
        return None
    return recruiter if verify_password(recruiter.password_hash, password) else None


def start_session(request: Request, recruiter: Recruiter) -> None:
    # A new session id at login: a token or cookie planted before login is worth nothing after.
    request.session.clear()
    request.session["sid"] = secrets.token_urlsafe(18)
    request.session["rid"] = recruiter.id
    request.session["pw"] = _fingerprint(recruiter)


def end_session(request: Request) -> None:
    request.session.clear()
