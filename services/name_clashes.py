"""Accounts and SCIM groups whose unique name only collided when the case fold became Unicode-aware.

The migration to the Unicode fold keeps both of two live accounts named, say, "Straße" and "STRASSE" (R5 held
under lower(), which told them apart) and marks the later one with its id in `user_name_clash`. Operators list
them here to resolve them in the IdP; new writes can never create another such pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from models import Cohort, Tenant, User, db


@dataclass(frozen=True)
class Clash:
    """One grandfathered row: what it is, where, its SCIM id, and the SCIM id of the older row sharing its key."""

    kind: str  # "user" or "group"
    tenant: str
    scim_id: str
    older_scim_id: str


def name_clashes() -> list[Clash]:
    """Return every live account and SCIM group still sharing its name key with an older one, by tenant and id."""
    older_user = aliased(User)
    users = db.session.execute(
        select(Tenant.slug, User.scim_id, older_user.scim_id)
        .join(Tenant, Tenant.id == User.tenant_id)
        .join(
            older_user,
            and_(
                older_user.tenant_id == User.tenant_id,
                older_user.user_name_ci == User.user_name_ci,
                older_user.user_name_clash == 0,
                older_user.deprovisioned_at.is_(None),
            ),
        )
        .where(User.user_name_clash != 0, User.deprovisioned_at.is_(None))
        .order_by(Tenant.slug, User.id)
    )
    older_cohort = aliased(Cohort)
    groups = db.session.execute(
        select(Tenant.slug, Cohort.scim_id, older_cohort.scim_id)
        .join(Tenant, Tenant.id == Cohort.tenant_id)
        .join(
            older_cohort,
            and_(
                older_cohort.tenant_id == Cohort.tenant_id,
                older_cohort.name_ci == Cohort.name_ci,
                older_cohort.name_clash == 0,
                older_cohort.scim_managed.is_(True),
                older_cohort.scim_deleted_at.is_(None),
            ),
        )
        .where(Cohort.name_clash != 0, Cohort.scim_managed.is_(True), Cohort.scim_deleted_at.is_(None))
        .order_by(Tenant.slug, Cohort.id)
    )
    return [Clash("user", *row) for row in users] + [Clash("group", *row) for row in groups]
