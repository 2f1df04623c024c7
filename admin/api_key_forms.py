"""Forms of the API keys page (CSRF through Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length, Optional


class IssueApiKeyForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(message="Give the key a name."), Length(max=100)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )
    expires = DateField(
        "Expires on (optional)",
        validators=[Optional()],
        format="%Y-%m-%d",
        render_kw={"placeholder": "YYYY-MM-DD"},
    )
