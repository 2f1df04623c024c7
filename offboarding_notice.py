"""The mail to a tenant's super-admins when the IdP offboarded someone SCIM could not (docs/design.md R3).

SCIM opens the item (scim/refused.py) and sends this after its answer; the dashboard's "Needs attention"
panel (admin/offboarding.py), which the mail links to, closes it.
"""

from __future__ import annotations

from contextlib import suppress

from flask import render_template
from sqlalchemy import select

from models import Role, User, db
from origins import link_origin, mail_link
from services import mail, offboarding
from services.errors import DomainError

SUBJECT = "Your identity provider offboarded someone mobieusLearn could not"


def notify_super_admins(request_id: int) -> None:
    """Mail every verified super-admin of the tenant about a newly opened item (runs after the SCIM answer)."""
    row = offboarding.get(request_id)
    if row is None or row.resolved_at is not None:
        return
    user, tenant = row.user, row.user.tenant
    link = None
    if link_origin(tenant) is not None:  # only a configured origin, never the IdP's Host header
        link = mail_link(tenant, "admin.credentials_index", _anchor="attention")
    recipients = db.session.scalars(
        select(User).where(
            User.tenant_id == tenant.id,
            User.role == Role.SUPER_ADMIN,
            User.email_verified_at.is_not(None),
            User.deprovisioned_at.is_(None),
            User.email.is_not(None),
        )
    )
    for admin in recipients:
        context = {"admin": admin, "user": user, "tenant": tenant, "row": row, "link": link}
        body = render_template("mail/offboarding.txt", **context, role_name=user.role.label)
        assert admin.email is not None  # the query selects only admins with an address
        with suppress(DomainError):  # an address a mail header cannot carry: the others still get theirs
            mail.send(admin.email, SUBJECT, body)
