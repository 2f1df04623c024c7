"""Cohorts page: every cohort with its owner, member count and SCIM origin (R6), and one cohort's members."""

from __future__ import annotations

from flask import abort, request

from admin import bp
from admin.context import current_tenant, login_required
from admin.pages import render_page
from services import directory
from services.errors import NotFound


@bp.get("/cohorts")
@login_required
def cohorts_index():
    """List the tenant's cohorts by name, a page at a time."""
    tenant = current_tenant()
    page = directory.list_cohorts(tenant.id, request.args.get("page", 1, type=int))
    return render_page("admin/cohorts/index.html", tenant=tenant, page=page)


@bp.get("/cohorts/<id:cohort_id>")
@login_required
def cohorts_show(cohort_id: int):
    """Show one cohort and a page of its members."""
    tenant = current_tenant()
    try:
        row = directory.get_cohort(tenant.id, cohort_id)
    except NotFound:
        abort(404)
    page = directory.cohort_members(tenant.id, cohort_id, request.args.get("page", 1, type=int))
    return render_page("admin/cohorts/show.html", tenant=tenant, row=row, page=page)
