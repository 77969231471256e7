"""One e-mail through SMTP (smtplib): STARTTLS, implicit TLS or plain, a login when a user is set.

TLS is verified against the system's CAs (ssl.create_default_context; SSL_CERT_FILE names another
bundle, as OpenSSL reads it). A failure is MailNotSent with a one-line reason that never holds the
password, and says whether trying again can help (a recipient refused with 5xx cannot).
"""
from __future__ import annotations

import datetime as dt
import email.utils
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from grader.errors import MailNotSent
from harness.store.settings import SmtpSettings


@dataclass(frozen=True)
class Outgoing:
    recipient: str
    subject: str
    text: str
    html: str = ""


def compose(smtp: SmtpSettings, out: Outgoing, now: dt.datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = out.recipient
    msg["Subject"] = out.subject
    msg["Date"] = email.utils.format_datetime(now.replace(tzinfo=dt.timezone.utc))
    msg["Message-ID"] = email.utils.make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    msg.set_content(out.text)
    if out.html:
        msg.add_alternative(out.html, subtype="html")
    return msg


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    if smtp.security == "tls":
        return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=ssl.create_default_context())
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    if smtp.security == "starttls":
        try:
            client.ehlo()
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        except BaseException:
            client.close()
            raise
    return client


def send(smtp: SmtpSettings, out: Outgoing, now: dt.datetime) -> str:
    """Send one message; returns its Message-ID, or raises MailNotSent."""
    msg = compose(smtp, out, now)
    try:
        with _connect(smtp) as client:
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(msg)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the message, in one line
        raise MailNotSent(_scrub(reason(smtp, exc), smtp.password), permanent=permanent(exc)) from None
    return str(msg["Message-ID"])


def permanent(exc: BaseException) -> bool:
    """Only a 5xx about this message itself: its recipient refused, or its content. A refused login or
    sender is the server's settings (an admin fixes them), so those are tried again."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def reason(smtp: SmtpSettings, exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, said = next(iter(exc.recipients.values()), (0, b""))
        text = f"recipient refused: {code} {_text(said)}"
    elif isinstance(exc, smtplib.SMTPAuthenticationError):
        text = f"the SMTP server refused the login of {smtp.user}: {exc.smtp_code} {_text(exc.smtp_error)}"
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        text = f"TLS with {smtp.host}:{smtp.port}: certificate not trusted ({exc.verify_message or exc.reason})"
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS with {smtp.host}:{smtp.port}: {exc.reason or exc}"
    elif isinstance(exc, smtplib.SMTPException):
        text = f"{type(exc).__name__}: {exc}"
    elif isinstance(exc, OSError):
        text = f"cannot reach the SMTP server {smtp.host}:{smtp.port}: {exc.strerror or exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


def _scrub(text: str, secret: str) -> str:
    # No server echoes a password, but a reason is shown on pages and logged: make sure.
    return text.replace(secret, "••••••••") if secret else text
