"""Outgoing mail: SMTP when an operator configured it, otherwise a file outbox in instance/.

A mail is never dropped silently: without SMTP, or when the SMTP server refuses it, the message is
written to the outbox directory and one log line says where, so a self-hosting operator can read it.
"""

from __future__ import annotations

import os
import secrets
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app

import logsafe
from models import utcnow
from services.errors import InvalidInput

log = logsafe.logger(__name__)

UNSENDABLE = "this email address cannot receive mail: it must be a single address without line breaks"


def send(to: str, subject: str, body: str) -> Path | None:
    """Send a plain-text mail; return the outbox file when it went there instead of SMTP.

    Raises InvalidInput when the address (or subject) cannot go into a mail header, e.g. with a line break.
    """
    config = current_app.config
    sender = config.get("MAIL_FROM") or "mobieuslearn@localhost"
    host = config.get("MAIL_SMTP_HOST")
    try:
        message = _build(sender, to, subject, body, readable=not host)
    except ValueError:
        # EmailMessage refuses header values with CR or LF (header injection); nothing was sent.
        raise InvalidInput(UNSENDABLE) from None
    if len(message["To"].addresses) != 1:
        # A comma or a group in the stored address would send the link to a second mailbox.
        raise InvalidInput(UNSENDABLE)
    if not host:
        return _write_outbox(message, reason="SMTP is not configured")
    try:
        _deliver(host, int(config.get("MAIL_SMTP_PORT") or 25), message)
    except (OSError, smtplib.SMTPException) as error:
        # Only the kind of failure is logged: the message itself holds a live link.
        log.error("mail: SMTP delivery to %s failed (%s)", host, type(error).__name__)
        return _write_outbox(_build(sender, to, subject, body, readable=True), reason="SMTP delivery failed")
    log.info("mail: %r sent through %s", subject, host)
    return None


def outbox_dir() -> Path:
    """Return the directory unsent mails are written to (MAIL_OUTBOX_DIR, else instance/mail)."""
    configured = current_app.config.get("MAIL_OUTBOX_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "mail"


def _build(sender: str, to: str, subject: str, body: str, *, readable: bool = False) -> EmailMessage:
    """Build the message; `readable` keeps the body unencoded so an operator can copy a link from the file."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # Quoted-printable would break long links across lines with "=", which no one can paste back together.
    message.set_content(body, cte="8bit" if readable else None)
    return message


def _deliver(host: str, port: int, message: EmailMessage) -> None:
    """Hand the message to the SMTP server, with STARTTLS and login when configured."""
    config = current_app.config
    with smtplib.SMTP(host, port, timeout=float(config.get("MAIL_SMTP_TIMEOUT") or 10)) as smtp:
        if config.get("MAIL_SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("MAIL_SMTP_USERNAME"):
            smtp.login(config["MAIL_SMTP_USERNAME"], config.get("MAIL_SMTP_PASSWORD") or "")
        smtp.send_message(message)


def _write_outbox(message: EmailMessage, *, reason: str) -> Path:
    """Write the message as an .eml file readable only by the service account (it holds a link)."""
    directory = outbox_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Sortable by time; the random part keeps two mails in the same microsecond apart.
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.eml"
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(message.as_bytes())  # bytes keep an 8bit UTF-8 body as is (as_string would re-encode it)
    log.warning("mail: %s; %r written to %s", reason, str(message["Subject"]), path)
    return path
