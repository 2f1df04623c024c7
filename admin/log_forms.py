"""Forms of the API keys page and of the request-log filters (CSRF through Flask-WTF where they change state)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, SelectChoice, SelectField
from wtforms.validators import Optional, ValidationError

from admin.forms import name_field

STATUS_CHOICES = [("", "Any status"), ("2xx", "2xx success"), ("4xx", "4xx client error"), ("5xx", "5xx server error")]
METHOD_CHOICES = [("", "Any method")] + [(m, m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")]


class IssueApiKeyForm(FlaskForm):
    name = name_field("Give the key a name.")
    expires = DateField(
        "Expires on (optional)",
        validators=[Optional()],
        format="%Y-%m-%d",
        render_kw={"placeholder": "YYYY-MM-DD"},
    )


class LogFilterForm(FlaskForm):
    """Filters of a credential's request log: read from the query string, no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField("Status", choices=[SelectChoice(v, label) for v, label in STATUS_CHOICES], default="")
    method = SelectField("Method", choices=[SelectChoice(v, label) for v, label in METHOD_CHOICES], default="")
    since = DateTimeLocalField("From (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    until = DateTimeLocalField("Until (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()])

    def validate_until(self, field) -> None:
        if field.data and self.since.data and field.data <= self.since.data:
            raise ValidationError("Choose a time after “From”.")

    def query_args(self) -> dict:
        """Return the filters as query-string values, for links that keep them (empty ones left out)."""
        args = {"status": self.status.data, "method": self.method.data}
        for name in ("since", "until"):
            moment = getattr(self, name).data
            args[name] = moment.strftime("%Y-%m-%dT%H:%M") if moment else ""
        return {name: value for name, value in args.items() if value}
