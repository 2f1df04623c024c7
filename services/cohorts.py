"""Cohorts: SCIM Groups as mobieusLearn cohorts (docs/design.md R6, R7) and the dashboard's view of them.

A SCIM Group is a cohort that SCIM created (`scim_managed`) and has not deleted. It is tied to the group's
externalId, or to its SCIM id where the IdP sends none, and named after its displayName, which is unique among
the tenant's SCIM-visible cohorts. Its owner is the tenant's lowest-id super-admin. Deleting it over SCIM only
hides it from SCIM: the cohort and its members stay for the tenant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.exc import IntegrityError

from models import Cohort, CohortMember, Role, Tenant, User, db, utcnow
from services.cohort_members import MembershipChange, MembershipResult, apply_change
from services.errors import Conflict, InvalidInput, NoSuperAdmin, NotFound

NO_OWNER = "no super-admin to own SCIM-provisioned cohorts"


@dataclass(frozen=True)
class GroupProfile:
    """What the IdP owns of a cohort: its name and the IdP's own id for it."""

    display_name: str
    external_id: str | None = None


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


def owner_for(tenant_id: int) -> User | None:
    """Return the tenant's lowest-id live super-admin, who owns every SCIM cohort (R6), or None."""
    return db.session.scalar(
        select(User)
        .where(User.tenant_id == tenant_id, User.role == Role.SUPER_ADMIN, User.deprovisioned_at.is_(None))
        .order_by(User.id)
        .limit(1)
    )


def get_scim_cohort(tenant: Tenant, scim_id: str) -> Cohort:
    """Return the SCIM-visible cohort with this id; dashboard and SCIM-deleted cohorts are NotFound alike.

    The reason says "not_visible" for a dashboard cohort of the tenant, and "not_found" otherwise, cohorts deleted
    over SCIM included: the IdP may push those again.
    """
    cohort = db.session.scalar(select(Cohort).where(scim_visible_cohort(tenant.id), Cohort.scim_id == scim_id))
    if cohort is None:
        hidden = db.session.scalar(
            select(Cohort.id).where(
                Cohort.tenant_id == tenant.id, Cohort.scim_id == scim_id, Cohort.scim_managed.is_(False)
            )
        )
        raise NotFound("group not found", reason="not_visible" if hidden is not None else "not_found")
    return cohort


def create_scim_cohort(tenant: Tenant, profile: GroupProfile, member_ids: Iterable[str] = ()) -> Cohort:
    """Create a cohort for a SCIM Group, with its first members; nothing is created if any rule fails (R6, R7)."""
    owner = owner_for(tenant.id)
    if owner is None:
        raise NoSuperAdmin(NO_OWNER)
    cohort = Cohort(tenant_id=tenant.id, owner_id=owner.id, scim_managed=True)
    with _transaction():
        _apply_profile(cohort, profile)
        db.session.add(cohort)
        db.session.flush()  # the members need the cohort's id
        change = MembershipChange()
        change.added(member_ids)
        apply_change(cohort, change)
    return cohort


def change_scim_cohort(
    cohort: Cohort, profile: GroupProfile | None = None, members: MembershipChange | None = None
) -> MembershipResult:
    """Rename and/or change the members of a SCIM cohort in one transaction (PUT, PATCH); all or nothing."""
    with _transaction():
        # Changes to one cohort queue up behind each other on PostgreSQL, so a replace computes its diff
        # from what the previous change committed; other writers (member inserts) are not blocked.
        db.session.execute(select(Cohort.id).where(Cohort.id == cohort.id).with_for_update(key_share=True))
        if profile is not None:
            _apply_profile(cohort, profile)
        result = apply_change(cohort, members) if members is not None else MembershipResult()
        if result.changed:
            cohort.updated_at = utcnow()
    return result


def delete_scim_cohort(cohort: Cohort) -> None:
    """DELETE over SCIM: the cohort leaves SCIM for good but stays, with its members, for the tenant."""
    with _transaction():
        cohort.scim_deleted_at = utcnow()


def _apply_profile(cohort: Cohort, profile: GroupProfile) -> None:
    name = (profile.display_name or "").strip()
    if not name:
        raise InvalidInput("displayName is required")
    external_id = profile.external_id or None
    visible = scim_visible_cohort(cohort.tenant_id)
    if cohort.id is not None:
        visible = and_(visible, Cohort.id != cohort.id)
    if db.session.scalar(select(Cohort.id).where(visible, Cohort.name_ci == name.lower()).limit(1)):
        raise Conflict("displayName is already in use by another group", "displayName")
    # The cohort is tied to its externalId, so two live groups cannot share one.
    if external_id and db.session.scalar(select(Cohort.id).where(visible, Cohort.external_id == external_id).limit(1)):
        raise Conflict("externalId is already in use by another group", "externalId")
    cohort.name = name
    cohort.name_ci = name.lower()
    cohort.external_id = external_id


@contextmanager
def _transaction() -> Iterator[None]:
    """Commit on success and roll back on any error; a race lost on the unique name becomes the same Conflict."""
    try:
        yield
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("displayName is already in use by another group", "displayName") from None
    except BaseException:
        db.session.rollback()
        raise
