"""Refuse NUL bytes in what a page or the API receives (SCIM paths answer their own way and are left alone)."""

from __future__ import annotations

from flask import Flask, abort, request

from scim import is_scim_path

NUL = "\x00"


def init_app(app: Flask) -> None:
    """Check every request outside SCIM, routed or not."""
    app.before_request(_refuse_nul_bytes)


def _refuse_nul_bytes() -> None:
    """Answer 400 when the path, the query or a form value holds a NUL byte.

    No page needs one, and PostgreSQL refuses them in text, which would turn a typo or a probe into a 500.
    """
    if is_scim_path(request.path):
        return
    values = [request.path]
    values.extend(part for pair in request.args.items(multi=True) for part in pair)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        values.extend(part for pair in request.form.items(multi=True) for part in pair)
    if any(NUL in value for value in values):
        abort(400, description="The request contains a NUL character, which no page accepts.")
