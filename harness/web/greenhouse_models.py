"""The bodies of Greenhouse's assessment partner API, as its documentation names them (the field list
is in harness.web.greenhouse). Greenhouse "reserves the right to add more properties": unknown keys
are ignored, never refused."""
from __future__ import annotations

from typing import Any, Union
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# metadata: "a non-nested object ... All of the values must be Javascript primitives"
Primitive = Union[str, float, int, bool, None]
_CANDIDATE_FIELDS = ("first_name", "last_name", "resume_url", "phone_number", "email", "greenhouse_profile_url")


class PartnerTest(BaseModel):
    """One entry of list_tests' answer (a JSON array of these)."""

    partner_test_id: str = Field(description="The exercise's id; send_test names it")
    partner_test_name: str = Field(description="The exercise's title, Greenhouse's label for the test")


class Candidate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str = Field(min_length=1, max_length=320, description="The test is e-mailed to this address")
    resume_url: str | None = None  # not kept: nothing here reads a résumé
    phone_number: str | None = None  # not kept
    greenhouse_profile_url: str | None = None  # not kept: the recruiter starts from Greenhouse anyway

    @model_validator(mode="after")
    def _named(self) -> "Candidate":
        if not (self.first_name or "").strip() and not (self.last_name or "").strip():
            raise ValueError("the candidate has neither a first_name nor a last_name")
        return self

    @property
    def full_name(self) -> str:
        return " ".join(p.strip() for p in (self.first_name, self.last_name) if p and p.strip())


class SendTestIn(BaseModel):
    """send_test's body. The documentation's example nests the candidate's details under `candidate`;
    its table lists them at the top level: both are read."""

    model_config = ConfigDict(extra="ignore")
    partner_test_id: str = Field(min_length=1, max_length=100)
    candidate: Candidate
    url: str | None = Field(default=None, max_length=2000,
                            description="Where to send the PATCH when the test is complete")

    @model_validator(mode="before")
    @classmethod
    def _flat_candidate(cls, data: Any) -> Any:
        if isinstance(data, dict) and "candidate" not in data and any(k in data for k in _CANDIDATE_FIELDS):
            return {**data, "candidate": {k: data[k] for k in _CANDIDATE_FIELDS if k in data}}
        return data

    @field_validator("partner_test_id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or any(ord(c) < 33 for c in v.strip()):
            raise ValueError("not an http(s) URL")
        return v.strip()


class SendTestOut(BaseModel):
    partner_interview_id: str = Field(description="Identifies this candidate's test (test_status asks for it)")


class StatusOut(BaseModel):
    partner_status: str = Field(description="complete once the grading that counts is graded; before that "
                                            "sent, started, submitted or expired")
    partner_profile_url: str = Field(description="The recruiter's page of the invite (a sign-in protects it)")
    partner_score: float | None = Field(description="The counted grading's score, 0-100")
    metadata: dict[str, Primitive] = Field(default_factory=dict)


class ResponseErrorIn(BaseModel):
    """What Greenhouse reports when one of our answers did not validate on its side."""

    model_config = ConfigDict(extra="ignore")
    api_call: str = Field(max_length=100)
    errors: list[str] = Field(max_length=100)
    partner_test_id: str | None = None
    partner_test_name: str | None = None
    partner_interview_id: str | None = None
    candidate_email: str | None = None

    @field_validator("partner_test_id", "partner_interview_id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class ResponseErrorOut(BaseModel):
    status: int = 200
