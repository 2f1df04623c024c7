"""Cohorts: SCIM Groups as mobieusLearn cohorts (docs/design.md R6, R7) and the dashboard's view of them.

A SCIM Group is a cohort that SCIM created (`scim_managed`) and has not deleted. It is tied to the group's
externalId, or to its SCIM id where the IdP sends none, and named after its displayName; both are unique among
the tenant's SCIM-visible cohorts (unique indexes hold this under races too). Its owner is the tenant's
lowest-id super-admin. Deleting it over SCIM only hides it from SCIM: the cohort and its members stay for the
tenant, and its name and externalId are free for a new group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.exc import IntegrityError

from models import Cohort, Role, Tenant, User, db, utcnow
from services.cohort_members import MembershipChange, MembershipResult, apply_change
from services.database import BareFlag
from services.errors import Conflict, InvalidInput, NoSuperAdmin, NotFound
from services.identifiers import check_identifier, fold
from services.transactions import for_write, lock_row, write_transaction

NO_OWNER = "no super-admin to own SCIM-provisioned cohorts"
# A clash names the field, never the group that has the value (R5).
NAME_TAKEN = "displayName is already in use by another group"
EXTERNAL_ID_TAKEN = "externalId is already in use by another group"


@dataclass(frozen=True)
class GroupProfile:
    """What the IdP owns of a cohort: its name and the IdP's own id for it."""

    display_name: str
    external_id: str | None = None


def scim_visible_cohort(tenant_id: int) -> ColumnElement[bool]:
    """Return the clause for cohorts SCIM sees: its own, until it deletes them.

    Written as the partial unique indexes on name and externalId are, so SQLite finds an `eq` filter through them.
    """
    return and_(
        Cohort.tenant_id == tenant_id, BareFlag(Cohort.scim_managed.expression), Cohort.scim_deleted_at.is_(None)
    )


def owner_for(tenant_id: int) -> User | None:
    """Return the tenant's lowest-id live super-admin, who owns every SCIM cohort (R6), or None."""
    return db.session.scalar(
        select(User)
        .where(User.tenant_id == tenant_id, User.role == Role.SUPER_ADMIN, User.deprovisioned_at.is_(None))
        .order_by(User.id)
        .limit(1)
    )


def get_scim_cohort(tenant: Tenant, scim_id: str) -> Cohort:
    """Return the SCIM-visible cohort with this id; dashboard and SCIM-deleted cohorts are NotFound alike."""
    return _scim_cohort(tenant.id, scim_id)


def _scim_cohort(tenant_id: int, scim_id: str, *, lock: bool = False) -> Cohort:
    """Return the SCIM-visible cohort (locked for a write when asked), or raise NotFound.

    The reason says "not_visible" for a dashboard cohort of the tenant, and "not_found" otherwise, cohorts deleted
    over SCIM included: the IdP may push those again.
    """
    query = select(Cohort).where(scim_visible_cohort(tenant_id), Cohort.scim_id == scim_id)
    cohort: Cohort | None = db.session.scalar(for_write(query) if lock else query)
    if cohort is None:
        hidden = db.session.scalar(
            select(Cohort.id).where(
                Cohort.tenant_id == tenant_id, Cohort.scim_id == scim_id, Cohort.scim_managed.is_(False)
            )
        )
        raise NotFound("group not found", reason="not_visible" if hidden is not None else "not_found")
    return cohort


def create_scim_cohort(
    tenant: Tenant, profile: GroupProfile, member_ids: Iterable[str] = ()
) -> tuple[Cohort, MembershipResult]:
    """Create a cohort for a SCIM Group with its first members (ids SCIM cannot see are skipped, R7); R6 holds."""
    tenant_id = tenant.id
    with _unique_or_conflict(), write_transaction():
        # Shared with other creations, exclusive of role changes: the owner stays a super-admin until this commits.
        lock_row(Tenant, tenant_id, shared=True)
        owner = owner_for(tenant_id)
        if owner is None:
            raise NoSuperAdmin(NO_OWNER)
        cohort = Cohort(tenant_id=tenant_id, owner_id=owner.id, scim_managed=True)
        _apply_profile(cohort, profile)
        db.session.add(cohort)
        db.session.flush()  # the members need the cohort's id
        change = MembershipChange()
        change.added(member_ids)
        result = apply_change(cohort, change)
    return cohort, result


# What a change computes from the cohort as it is now: a new profile and/or a membership change (None: untouched).
Plan = Callable[[Cohort], tuple[GroupProfile | None, MembershipChange | None]]


def change_scim_cohort(tenant: Tenant, scim_id: str, plan: Plan) -> tuple[Cohort, MembershipResult]:
    """Rename and/or change the members of a SCIM cohort in one write transaction (PUT, PATCH); all or nothing.

    `plan` sees the cohort with its row locked, so a PATCH applies to what the previous change committed, and
    a replace computes its diff from the members as they are: two replaces never mix their member lists.
    Member inserts of other transactions are not blocked by the lock (FOR NO KEY UPDATE).
    """
    tenant_id = tenant.id
    with _unique_or_conflict(), write_transaction():
        cohort = _scim_cohort(tenant_id, scim_id, lock=True)
        profile, members = plan(cohort)
        if profile is not None:
            _apply_profile(cohort, profile)
        result = apply_change(cohort, members) if members is not None else MembershipResult()
        if result.changed:
            cohort.updated_at = utcnow()
    return cohort, result


def delete_scim_cohort(tenant: Tenant, scim_id: str) -> None:
    """DELETE over SCIM: the cohort leaves SCIM for good but stays, with its members, for the tenant."""
    tenant_id = tenant.id
    with write_transaction():
        _scim_cohort(tenant_id, scim_id, lock=True).scim_deleted_at = utcnow()


def _apply_profile(cohort: Cohort, profile: GroupProfile) -> None:
    check_identifier("displayName", profile.display_name, key=True)  # before strip(), as for a userName
    name = (profile.display_name or "").strip()
    if not name:
        raise InvalidInput("displayName is required")
    external_id = profile.external_id or None
    check_identifier("externalId", external_id)
    visible = scim_visible_cohort(cohort.tenant_id)
    if cohort.id is not None:
        visible = and_(visible, Cohort.id != cohort.id)
    # A group keeping its own name key is not checked, like a user's userName (services.provisioning.check_unique).
    key = fold(name)
    taken = select(Cohort.id).where(visible, Cohort.name_ci == key).limit(1)
    if (cohort.id is None or key != cohort.name_ci) and db.session.scalar(taken):
        raise Conflict(NAME_TAKEN, "displayName")
    # The cohort is tied to its externalId (R6), so two live groups cannot share one; a unique index backs this.
    if external_id and db.session.scalar(select(Cohort.id).where(visible, Cohort.external_id == external_id).limit(1)):
        raise Conflict(EXTERNAL_ID_TAKEN, "externalId")
    cohort.name = name  # fills name_ci (models.Cohort)
    cohort.external_id = external_id


@contextmanager
def _unique_or_conflict() -> Iterator[None]:
    """Turn a race lost on a unique index (name or externalId) into the same Conflict as the pre-checks."""
    try:
        yield
    except IntegrityError as error:
        if "external_id" in str(error.orig):
            raise Conflict(EXTERNAL_ID_TAKEN, "externalId") from None
        raise Conflict(NAME_TAKEN, "displayName") from None
