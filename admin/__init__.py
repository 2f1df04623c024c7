"""The admin dashboard at /admin: server-rendered pages enhanced with htmx (docs/design.md §5)."""

from flask import Blueprint

from models import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")
# Templates compare roles by name (`user.role >= Role.ADMIN`), never by number.
bp.add_app_template_global(Role, "Role")

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
