"""The admin dashboard at /admin (server-rendered pages enhanced with htmx)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
def index():
    return "admin"
