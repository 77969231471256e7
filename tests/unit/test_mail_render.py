"""The e-mail templates (harness.notify.mail_render): the shipped ones render, HTML is escaped and text is
not, an override wins, and every way a template can break is one line naming the file."""
from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from grader.errors import MailTemplateError
from harness.notify import mail_render, mail_smtp
from harness.store.settings import SmtpSettings


def test_every_shipped_template_renders_with_its_variables_and_escapes_only_html(tmp_path: Path) -> None:
    for kind in mail_render.KINDS:
        context = {**mail_render.sample(kind), "candidate_name": "Ada <b>&</b>"}
        out = mail_render.render(tmp_path, kind, context)
        assert out.subject and "\n" not in out.subject
        assert "Ada <b>&</b>" in out.text and "Ada &lt;b&gt;&amp;&lt;/b&gt;" in out.html
        if "link" in context:
            assert context["link"] in out.text and f'href="{context["link"]}"' in out.html
    assert not [r for r in mail_render.template_rows(tmp_path) if r.problem or r.overridden]


def test_an_override_wins_and_a_broken_one_is_one_line_naming_the_file(tmp_path: Path) -> None:
    overrides = mail_render.override_dir(tmp_path)
    overrides.mkdir()
    (overrides / "reminder.subject.j2").write_text("Soon:\n  {{ exercise }}\n")
    assert mail_render.render(tmp_path, "reminder", mail_render.sample("reminder")).subject == "Soon: Support triage"
    cases = {"{{ link }}": "'link' is undefined",  # a notice has no link
             "{% for %}": "line 1",
             "{{ recruiter.__class__.__mro__ }}": "",  # the sandbox refuses it, or it is undefined: an error either way
             "{{ 1 / 0 }}": "ZeroDivisionError",
             "   ": "the subject is empty"}
    for body, said in cases.items():
        (overrides / "graded_notice.subject.j2").write_text(body)
        with pytest.raises(MailTemplateError) as caught:
            mail_render.render(tmp_path, "graded_notice", mail_render.sample("graded_notice"))
        reason = str(caught.value)
        assert "graded_notice.subject.j2" in reason and str(overrides) in reason and said in reason, reason
        assert "\n" not in reason
    rows = {r.name: r for r in mail_render.template_rows(tmp_path)}
    assert rows["graded_notice.subject.j2"].overridden and rows["graded_notice.subject.j2"].problem
    assert rows["reminder.subject.j2"].overridden and rows["reminder.subject.j2"].problem is None
    assert not rows["invite_link.txt.j2"].overridden


def test_a_send_failure_is_one_line_without_the_password_and_permanent_only_for_5xx_on_the_message() -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=1, sender="a@example.com", user="u", password="hunter2-hunter2")
    refused = smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"5.1.1 no\nsuch user")})
    greylisted = smtplib.SMTPRecipientsRefused({"x@example.com": (450, b"try later")})
    login = smtplib.SMTPAuthenticationError(535, b"bad credentials for hunter2-hunter2")
    assert mail_smtp.permanent(refused) and not mail_smtp.permanent(greylisted) and not mail_smtp.permanent(login)
    assert mail_smtp.permanent(smtplib.SMTPDataError(554, b"rejected")) and not mail_smtp.permanent(OSError())
    assert mail_smtp.reason(smtp, refused) == "recipient refused: 550 5.1.1 no such user"
    with pytest.raises(mail_smtp.MailNotSent) as caught:  # nothing listens on port 1
        mail_smtp.send(smtp, mail_smtp.Outgoing("x@example.com", "s", "t"), mail_smtp.dt.datetime(2030, 1, 1))
    assert "cannot reach the SMTP server 127.0.0.1:1" in caught.value.reason and not caught.value.permanent
    assert "hunter2" not in mail_smtp._scrub(mail_smtp.reason(smtp, login), smtp.password)
