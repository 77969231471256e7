"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1) that keeps what it received, can refuse
recipients, and can speak STARTTLS with AUTH (a trustme certificate)."""
from __future__ import annotations

import email
import email.policy
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    sender: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        body = self.message.get_body((subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content()).replace("\r\n", "\n")


@dataclass
class Keeper:
    """The aiosmtpd handler: keeps every message; refuses the addresses in `refuse` at RCPT (550)."""

    kept: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.kept.append(Received(sender=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                                  message=msg))  # type: ignore[arg-type]
        return "250 OK kept"


class Logins:
    """An authenticator that takes one user and password, and remembers who logged in."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password, self.seen = user, password, []  # type: ignore[var-annotated]

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.user
              and auth_data.password.decode() == self.password)
        self.seen.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)


class SmtpServer:
    """Start, stop and start again on the same port (a server that goes down and comes back)."""

    def __init__(self, port: int | None = None, **smtp_kwargs: Any) -> None:
        self.handler = Keeper()
        self.port = port or free_port()
        self.kwargs = smtp_kwargs
        self.controller: Controller | None = None

    @property
    def kept(self) -> list[Received]:
        return self.handler.kept

    def start(self) -> "SmtpServer":
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def server_tls_context(ca: Any) -> ssl.SSLContext:
    """A trustme certificate for 127.0.0.1, as the server's STARTTLS context."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx
