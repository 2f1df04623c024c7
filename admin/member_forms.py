"""Forms for the members, cohorts and email-verification pages (CSRF through Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SearchField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from admin.forms import email_address, new_password
from models import Role
from services.validation import EMAIL_MAX_LENGTH


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class UserFilterForm(FlaskForm):
    """Search and filters of the members list: read from the query string, no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    q = SearchField("Search", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=_choices([("", "Any role")] + [(str(r.value), r.label) for r in Role]))
    scim = SelectField("Source", choices=_choices([("", "Any source"), ("yes", "SCIM"), ("no", "Local")]))
    verified = SelectField("Email", choices=_choices([("", "Any email"), ("yes", "Verified"), ("no", "Not verified")]))


class RoleForm(FlaskForm):
    """Change one user's role."""

    # Banning is its own button; the select only moves between member and super-admin.
    role = SelectField("Role", coerce=int, choices=_choices((r.value, r.label) for r in Role if r > Role.BANNED))
    next = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes state (ban, unban, resend): only the CSRF token and where to go back to."""

    next = HiddenField()


class InviteForm(FlaskForm):
    """Invite someone as a local member; they get a link to choose a password."""

    email = StringField(
        "Email", validators=[DataRequired("Enter an email address."), Length(max=EMAIL_MAX_LENGTH), email_address]
    )
    display_name = StringField("Display name (optional)", validators=[Optional(), Length(max=255)])


class ResendForm(FlaskForm):
    """Ask for a new verification link."""

    email = StringField(
        "Email", validators=[DataRequired("Enter an email address."), Length(max=EMAIL_MAX_LENGTH), email_address]
    )


class ConfirmForm(FlaskForm):
    """One button that uses up a link, so a mail scanner fetching it with GET changes nothing."""


class SetPasswordForm(FlaskForm):
    """Choose a password through a set-password link."""

    password = PasswordField("New password", validators=[DataRequired("Choose a password."), new_password])
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")],
    )
