"""Blind review: a stable pseudonym for a candidate, and text scrubbed of who they are.

A team with blind review on shows its interviewers "Candidate 7F3A" instead of a name and an
e-mail until their own scorecard is submitted, and scrubs what they read of the submission:
the uploaded file's name, git authors, and the candidate's name, e-mail and candidate id
(the id is a slug of the name: "ana-lucia-3fa2b1") wherever they appear in text shown.
The recruiters of the invite's team always see names.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from harness.store.models import Invite, Recruiter, Scorecard

REDACTED = "[redacted]"
SHORTEST_PART = 2  # "Li" is a surname; a single letter is an initial anyone's text has
GENERIC_SLUG = "candidate"  # harness.web.invites.candidate_id_for's slug for a name with no ASCII letters


def pseudonym(secret_key: str, invite_id: int) -> str:
    """"Candidate 7F3A": the same on every page and to every reviewer, unguessable from the id alone."""
    digest = hmac.new(secret_key.encode(), f"pseudonym:{invite_id}".encode(), hashlib.sha256).hexdigest()
    return f"Candidate {digest[:4].upper()}"


def is_blind(invite: Invite, viewer: Recruiter, own: Scorecard | None) -> bool:
    """Whether `viewer` reads this invite blind: an interviewer of a blind team, their scorecard not in yet."""
    submitted = own is not None and own.submitted_at is not None
    return bool(invite.team.blind_review) and viewer.is_interviewer and not submitted


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def identity_terms(invite: Invite, names: Iterable[str] = (), emails: Iterable[str] = ()) -> list[str]:
    """What names the candidate: the name whole and in parts (accents and not), the e-mail and its local
    part (never the domain: "example.com" names no one), the candidate id and its name slug, and the other
    names and e-mails given (a repository's git authors). An upload's file name is never shown blind at all
    (upload_label), so it is no term: "submission" in a README is not the candidate."""
    terms: set[str] = set()
    for name in [invite.candidate_name, *names]:
        for form in {name.strip(), _ascii(name).strip()} - {""}:
            terms.add(form)
            terms |= {p for p in re.split(r"[\s._\-,;()\"']+", form) if len(p) >= SHORTEST_PART}
    for email in [invite.email or "", *emails]:
        if "@" in email:
            terms |= {email.strip(), email.split("@", 1)[0].strip()}
    slug = invite.candidate_id.rsplit("-", 1)[0] if "-" in invite.candidate_id else invite.candidate_id
    terms.add(invite.candidate_id)
    if slug != GENERIC_SLUG:  # a name with no ASCII letters gets the id "candidate-…": that word names no one
        terms.add(slug)
    return sorted((t for t in terms if t), key=lambda t: (-len(t), t))  # longest first: "Ana Lucia" before "Ana"


@dataclass(frozen=True)
class Scrubber:
    """Replaces identity terms in text, as whole words, any case; a no-op when not blind."""

    pattern: re.Pattern[str] | None
    replacement: str

    def __call__(self, text: str) -> str:
        return text if self.pattern is None else self.pattern.sub(self.replacement, text)


def scrubber(invite: Invite, *, blind: bool, replacement: str, names: Iterable[str] = (),
             emails: Iterable[str] = ()) -> Scrubber:
    if not blind:
        return Scrubber(None, replacement)
    words = "|".join(re.escape(t) for t in identity_terms(invite, names, emails))
    # (?<!\w) / (?!\w) rather than \b: a term may begin or end with a non-word character (an e-mail)
    return Scrubber(re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE), replacement)


@dataclass(frozen=True)
class Shown:
    """Who the candidate is, as this viewer may see it."""

    name: str
    email: str | None
    candidate_id: str | None
    blind: bool


def shown_identity(invite: Invite, *, blind: bool, secret_key: str) -> Shown:
    if blind:
        return Shown(name=pseudonym(secret_key, invite.id), email=None, candidate_id=None, blind=True)
    return Shown(name=invite.candidate_name, email=invite.email, candidate_id=invite.candidate_id, blind=False)


def upload_label(filename: str, upload_id: int, *, blind: bool) -> str:
    """The uploaded file's name, or under blind review "upload N" (a file name often carries a name)."""
    return f"upload {upload_id}" if blind else filename
