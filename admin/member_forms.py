"""Forms for the members, cohorts and email-verification pages (CSRF through Flask-WTF)."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SearchField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from models import Role

# Deliberately loose: the mailbox proves the address; this only catches obvious typos.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PASSWORD_MIN = 10
PASSWORD_MAX_BYTES = 72  # bcrypt ignores (and bcrypt 5 refuses) anything longer


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _email_shape(_form, field) -> None:
    field.data = (field.data or "").strip()
    if not EMAIL_SHAPE.match(field.data):
        raise ValidationError("Enter an email address like name@example.com.")


class UserFilterForm(FlaskForm):
    """Search and filters of the members list: read from the query string, no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    q = SearchField("Search", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=_choices([("", "Any role")] + [(str(r), n) for r, n in Role.NAMES.items()]))
    scim = SelectField("Source", choices=_choices([("", "Any source"), ("yes", "SCIM"), ("no", "Local")]))
    verified = SelectField("Email", choices=_choices([("", "Any email"), ("yes", "Verified"), ("no", "Not verified")]))


class RoleForm(FlaskForm):
    """Change one user's role."""

    # Banning is its own button; the select only moves between member and super-admin.
    role = SelectField("Role", coerce=int, choices=_choices((r, n) for r, n in Role.NAMES.items() if r > Role.BANNED))
    next = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes state (ban, unban, resend): only the CSRF token and where to go back to."""

    next = HiddenField()


class InviteForm(FlaskForm):
    """Invite someone as a local member; they get a link to choose a password."""

    email = StringField("Email", validators=[DataRequired("Enter an email address."), Length(max=320), _email_shape])
    display_name = StringField("Display name (optional)", validators=[Optional(), Length(max=255)])


class ResendForm(FlaskForm):
    """Ask for a new verification link."""

    email = StringField("Email", validators=[DataRequired("Enter an email address."), Length(max=320), _email_shape])


class ConfirmForm(FlaskForm):
    """One button that uses up a link, so a mail scanner fetching it with GET changes nothing."""


class SetPasswordForm(FlaskForm):
    """Choose a password through a set-password link."""

    password = PasswordField(
        "New password",
        validators=[
            DataRequired("Choose a password."),
            Length(min=PASSWORD_MIN, message=f"Use at least {PASSWORD_MIN} characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")],
    )

    def validate_password(self, field) -> None:
        """Refuse passwords bcrypt would cut short."""
        if len((field.data or "").encode("utf-8")) > PASSWORD_MAX_BYTES:
            raise ValidationError("Use at most 72 bytes (about 72 letters, fewer with accents or emoji).")
