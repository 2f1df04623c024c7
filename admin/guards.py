"""App-wide input guards for the pages (SCIM paths answer their own way and are left alone)."""

from __future__ import annotations

from flask import abort, request

from admin import bp

NUL = "\x00"


def _is_scim(path: str) -> bool:
    return path == "/scim" or path.startswith("/scim/")


@bp.before_app_request
def _refuse_nul_bytes() -> None:
    """Answer 400 when the path, the query or a form value holds a NUL byte.

    No page needs one, and PostgreSQL refuses them in text, which would turn a typo or a probe into a 500.
    """
    if _is_scim(request.path):
        return
    values = [request.path]
    values.extend(part for pair in request.args.items(multi=True) for part in pair)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        values.extend(part for pair in request.form.items(multi=True) for part in pair)
    if any(NUL in value for value in values):
        abort(400, description="The request contains a NUL character, which no page accepts.")
