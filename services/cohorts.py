"""Cohorts: SCIM Groups as mobieusLearn cohorts (R6, R7) and the dashboard's view of them."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, and_, select

from models import Cohort, CohortMember, db


def scim_visible_cohort(tenant_id: int) -> ColumnElement[bool]:
    """Return the clause for cohorts SCIM sees: its own, until it deletes them."""
    return and_(Cohort.tenant_id == tenant_id, Cohort.scim_managed.is_(True), Cohort.scim_deleted_at.is_(None))


def scim_groups_for(tenant_id: int, user_ids: list[int]) -> dict[int, list[Cohort]]:
    """Return, per user id, the SCIM-visible cohorts the user belongs to (one query for a whole page)."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(CohortMember.user_id, Cohort)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .where(scim_visible_cohort(tenant_id), CohortMember.user_id.in_(user_ids))
        .order_by(Cohort.id)
    )
    groups: dict[int, list[Cohort]] = defaultdict(list)
    for user_id, cohort in rows:
        groups[user_id].append(cohort)
    return groups
