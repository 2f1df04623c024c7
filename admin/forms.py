"""Forms for signing in, first-run setup and issuing SCIM credentials (Flask-WTF, CSRF included)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp, ValidationError

from services.credentials import CREDENTIAL_SLUG

# bcrypt reads at most 72 bytes of a password; refusing longer ones beats silently ignoring the rest.
BCRYPT_MAX_BYTES = 72
PASSWORD_MIN_LENGTH = 10


def _fits_bcrypt(_form: FlaskForm, field: PasswordField) -> None:
    if len((field.data or "").encode("utf-8")) > BCRYPT_MAX_BYTES:
        raise ValidationError(f"Use at most {BCRYPT_MAX_BYTES} bytes (about {BCRYPT_MAX_BYTES} plain letters).")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email."), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."), Length(max=200)])


class SetupForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[DataRequired(message="Enter your email."), Email(message="Enter a valid email."), Length(max=320)],
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(message="Choose a password."),
            Length(min=PASSWORD_MIN_LENGTH, message=f"Use at least {PASSWORD_MIN_LENGTH} characters."),
            _fits_bcrypt,
        ],
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[DataRequired(message="Repeat the password."), EqualTo("password", message="The passwords differ.")],
    )


class IssueCredentialForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(message="Give the credential a name."), Length(max=100)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )
    slug = StringField(
        "Slug (optional)",
        validators=[
            Optional(),
            Length(max=63),
            Regexp(CREDENTIAL_SLUG, message="Use lowercase letters, digits and hyphens, not at either end."),
        ],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
    )
