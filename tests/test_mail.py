"""Outgoing mail: SMTP when configured, else a readable file in the outbox; never lost silently."""

from __future__ import annotations

import email
import logging
import shutil
import smtplib
import stat
from email import policy
from pathlib import Path

import pytest

from services import mail
from services.errors import InvalidInput

LINK = "https://acme.example.com/admin/verify/" + "x" * 60


@pytest.fixture
def outbox(app) -> Path:
    directory = Path(app.config["MAIL_OUTBOX_DIR"])
    shutil.rmtree(directory, ignore_errors=True)
    return directory


class FakeSMTP:
    """Stands in for smtplib.SMTP and records what the service did with it."""

    sent: list = []
    calls: list = []
    fail_with: Exception | None = None

    def __init__(self, host, port, timeout=None):
        FakeSMTP.calls.append(("connect", host, port, timeout))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        FakeSMTP.calls.append(("starttls",))

    def login(self, user, password):
        FakeSMTP.calls.append(("login", user, password))

    def send_message(self, message):
        if FakeSMTP.fail_with:
            raise FakeSMTP.fail_with
        FakeSMTP.sent.append(message)


@pytest.fixture
def fake_smtp(monkeypatch):
    FakeSMTP.sent, FakeSMTP.calls, FakeSMTP.fail_with = [], [], None
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    return FakeSMTP


def test_without_smtp_the_mail_is_written_to_the_outbox(app, outbox, caplog):
    caplog.set_level(logging.INFO)
    path = mail.send("ada@example.com", "Confirm your email address", f"Open this:\n\n{LINK}\n")

    assert path is not None and path.parent == outbox
    assert [p.name for p in outbox.iterdir()] == [path.name]
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "ada@example.com"
    assert message["From"] == app.config["MAIL_FROM"]
    assert message["Subject"] == "Confirm your email address"
    # The link stays on one line in the file, so an operator can copy it as is.
    assert LINK in path.read_text(encoding="utf-8")
    assert LINK in message.get_content()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    logged = [r.getMessage() for r in caplog.records if r.name == "services.mail"]
    assert any(str(path) in line for line in logged)
    assert not any(LINK in line for line in logged)


def test_outbox_defaults_to_instance_mail(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_DIR", None)
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    path = mail.send("ada@example.com", "Hi", "Body")
    assert path.parent == tmp_path / "mail"


def test_non_ascii_body_is_kept_readable(app, outbox):
    path = mail.send("zoe@example.com", "Bienvenue", "Bonjour Zoë,\n\nÀ bientôt.\n")
    text = path.read_text(encoding="utf-8")
    assert "Bonjour Zoë" in text
    assert email.message_from_bytes(path.read_bytes(), policy=policy.default).get_content().startswith("Bonjour Zoë")


def test_two_mails_in_a_row_get_two_files(app, outbox):
    first = mail.send("a@example.com", "One", "1")
    second = mail.send("b@example.com", "Two", "2")
    assert first != second
    assert sorted(p.name for p in outbox.iterdir()) == sorted([first.name, second.name])


def test_smtp_is_used_when_configured(app, outbox, fake_smtp, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "smtp.example.com")
    monkeypatch.setitem(app.config, "MAIL_SMTP_PORT", 2525)

    assert mail.send("ada@example.com", "Subject", f"Body {LINK}") is None

    assert fake_smtp.calls == [("connect", "smtp.example.com", 2525, 10.0)]
    (message,) = fake_smtp.sent
    assert message["To"] == "ada@example.com"
    assert LINK in message.get_content()
    assert not outbox.exists() or not any(outbox.iterdir())


def test_smtp_starttls_and_login_when_configured(app, outbox, fake_smtp, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "smtp.example.com")
    monkeypatch.setitem(app.config, "MAIL_SMTP_STARTTLS", True)
    monkeypatch.setitem(app.config, "MAIL_SMTP_USERNAME", "relay")
    monkeypatch.setitem(app.config, "MAIL_SMTP_PASSWORD", "relay-pw")

    mail.send("ada@example.com", "Subject", "Body")

    assert fake_smtp.calls[1:] == [("starttls",), ("login", "relay", "relay-pw")]
    assert len(fake_smtp.sent) == 1


@pytest.mark.parametrize("failure", [smtplib.SMTPRecipientsRefused({}), ConnectionRefusedError()])
def test_smtp_failure_falls_back_to_the_outbox(app, outbox, fake_smtp, monkeypatch, caplog, failure):
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "smtp.example.com")
    fake_smtp.fail_with = failure

    path = mail.send("ada@example.com", "Subject", f"Body {LINK}")

    assert path is not None and path.exists()
    assert LINK in path.read_text(encoding="utf-8")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "smtp.example.com" in errors[0].getMessage()
    assert not any(LINK in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "to",
    [
        "ada@example.com\r\nBcc: eve@evil.test",
        "ada@example.com\nBcc: eve@evil.test",
        "ada@exa\u2028mple.com",
        "ada@example.com, eve@evil.test",
        "undisclosed-recipients:;",
    ],
    ids=["crlf", "lf", "line-separator", "two-addresses", "empty-group"],
)
@pytest.mark.parametrize("smtp", [False, True], ids=["outbox", "smtp"])
def test_an_address_mail_cannot_carry_is_invalid_input_and_nothing_is_sent(
    app, outbox, fake_smtp, monkeypatch, to, smtp
):
    if smtp:
        monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "smtp.example.com")
    with pytest.raises(InvalidInput, match="cannot receive mail"):
        mail.send(to, "Subject", f"Body {LINK}")
    assert fake_smtp.sent == [] and fake_smtp.calls == []
    assert not outbox.exists() or not any(outbox.iterdir())
