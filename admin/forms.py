"""Forms for signing in, first-run setup and issuing SCIM credentials (Flask-WTF, CSRF included)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, Field, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from services.validation import EMAIL_MAX_LENGTH, SLUG, is_email

# bcrypt reads at most 72 bytes of a password (bcrypt 5 refuses more); refusing longer ones beats
# silently ignoring the rest.
BCRYPT_MAX_BYTES = 72
PASSWORD_MIN_LENGTH = 10


def email_address(_form: FlaskForm, field: Field) -> None:
    """The one email check of every dashboard form: trims the value, then wants a single plausible address."""
    field.data = (field.data or "").strip()
    if not is_email(field.data, typed=True):  # deliberately loose: the mailbox proves the address
        raise ValidationError("Enter an email address like name@example.com.")


def new_password(_form: FlaskForm, field: Field) -> None:
    """The one rule for a password someone chooses: long enough, and short enough for bcrypt."""
    password = field.data or ""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError(f"Use at least {PASSWORD_MIN_LENGTH} characters.")
    if len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
        raise ValidationError(
            f"Use at most {BCRYPT_MAX_BYTES} bytes (about {BCRYPT_MAX_BYTES} letters, fewer with accents or emoji)."
        )


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email."), Length(max=EMAIL_MAX_LENGTH)])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."), Length(max=200)])


class SetupForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired(message="Enter your email."), Length(max=EMAIL_MAX_LENGTH), email_address]
    )
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password."), new_password])
    confirm = PasswordField(
        "Repeat password",
        validators=[DataRequired(message="Repeat the password."), EqualTo("password", message="The passwords differ.")],
    )


def stripped(value):
    """Field filter: drop the spaces around a typed value."""
    return value.strip() if isinstance(value, str) else value


def name_field(missing: str) -> StringField:
    """The name of something an admin issues (a credential, an API key): required, trimmed, 100 characters at most."""
    return StringField("Name", validators=[DataRequired(message=missing), Length(max=100)], filters=[stripped])


class IssueCredentialForm(FlaskForm):
    name = name_field("Give the credential a name.")
    slug = StringField(
        "Slug (optional)",
        validators=[
            Optional(),
            Length(max=63),
            Regexp(SLUG, message="Use lowercase letters, digits and hyphens, not at either end."),
        ],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
    )
