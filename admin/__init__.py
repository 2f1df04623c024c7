"""The admin dashboard at /admin: server-rendered pages enhanced with htmx (docs/design.md §5)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from admin import (  # noqa: E402, F401 - route registration
    api_keys,
    auth,
    cohorts,
    credentials,
    guards,
    handover,
    lockout,
    offboarding,
    request_log,
    users,
    verification,
)
