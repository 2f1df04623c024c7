"""Who is signed in, for which tenant, and how a page answers htmx versus a full load."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, redirect, render_template, request, session, url_for
from htmx_flask import request as htmx_request

from models import Role, Tenant, User, db
from services import tenants


def current_tenant() -> Tenant:
    """Return the tenant the Host names (DESIGN §8); 404 when it names none."""
    # Cached on the request, not on `g`: an app context can outlive one request (as in tests).
    cached = getattr(request, "_admin_tenant", None)
    if cached is None:
        cached = tenants.resolve_host(request.host, current_app.config.get("TENANT_BASE_DOMAIN"))
        if cached is None:
            abort(404)
        request._admin_tenant = cached
    return cached


def current_admin() -> User | None:
    """Return the signed-in admin of this tenant, or None.

    Re-checked on every request: a demoted, unverified or other-tenant account loses access at once.
    """
    if not hasattr(request, "_admin_user"):
        user = None
        user_id = session.get("user_id")
        if user_id is not None:
            user = db.session.get(User, user_id)
            tenant = current_tenant()
            if (
                user is None
                or user.tenant_id != tenant.id
                or user.role < Role.ADMIN
                or not user.email_verified
                or user.deprovisioned_at is not None
            ):
                session.clear()
                user = None
        request._admin_user = user
    return request._admin_user


def login_required(view):
    """Send anonymous visitors to the sign-in page (htmx requests get a client-side redirect)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_admin() is None:
            target = url_for("admin.login", next=request.full_path if request.method == "GET" else None)
            if htmx_request.htmx:
                response = current_app.response_class(status=204)
                response.headers["HX-Redirect"] = target
                return response
            return redirect(target)
        return view(*args, **kwargs)

    return wrapped


def render_page(template: str, fragment: str | None = None, **context):
    """Render the full page, or only `fragment` when htmx asks for a partial swap."""
    if fragment is not None and htmx_request.htmx and not htmx_request.htmx.boosted:
        return render_template(fragment, **context)
    return render_template(template, **context)
