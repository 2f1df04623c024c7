"""Moving a tenant from manual invites to SCIM: hand local members to the IdP, and merge the twins it made.

A tenant that started with invited local members and then connects an IdP would otherwise get a second,
unverified SCIM account beside each of them: the IdP's `userName eq` lookup cannot see local accounts (R3),
so it creates. Adoption makes a local member SCIM's before that happens (userName = their email); a merge
repairs it afterwards. Both keep the local account's id, history, cohorts and verified email, and neither
ever hands SCIM a role above member (R1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import aliased

from models import (
    ApiKey,
    Cohort,
    CohortMember,
    EmailToken,
    OffboardingRequest,
    Role,
    ScimCredential,
    SignInFailure,
    Tenant,
    User,
    UserEmail,
    db,
)
from services import roles
from services.errors import InvalidInput, NotFound
from services.provisioning import check_unique
from services.transactions import for_write, write_transaction
from services.visibility import scim_visible

ABOVE_MEMBER = "only members (role 1 or 2) can be handed to the identity provider: SCIM never owns a higher role (R1)"
ALREADY_SCIM = "this account is already managed by the identity provider"
NO_EMAIL = "this account has no email to use as its userName"
NOT_A_PAIR = "these two accounts are not a SCIM account and a local account with the same email"


@dataclass(frozen=True)
class Pair:
    """A SCIM account the IdP created beside a local account with the same email or userName."""

    scim_user: User
    local_user: User

    @property
    def mergeable(self) -> bool:
        return self.local_user.role in Role.SCIM_RUNG


def adopt(tenant: Tenant, user_id: int) -> User:
    """Hand a local member to the IdP: SCIM-managed, userName = email, id, history, cohorts and email kept.

    R5 holds (the userName's folded key is unique among live accounts: a clash is a Conflict, usually the
    IdP's twin, which a merge repairs). R4: the email stays verified only because it was verified here.
    """
    with write_transaction():
        roles.lock_accounts(tenant.id)
        user = _local(tenant.id, user_id)
        if user.role not in Role.SCIM_RUNG:
            raise InvalidInput(ABOVE_MEMBER)
        if not user.email:
            raise InvalidInput(NO_EMAIL)
        check_unique(user, user.email, None)
        user.scim_managed = True
        user.user_name = user.email
        user.emails = [UserEmail(position=0, value=user.email, type="work", primary=True)]
    return user


def can_adopt(user: User) -> bool:
    """Tell whether the dashboard offers to hand this account to the IdP (the tenant's SCIM feature on)."""
    return (
        not user.scim_managed
        and user.role in Role.SCIM_RUNG
        and user.deprovisioned_at is None
        and bool(user.email)
        and user.tenant.learn_scim
    )


def adoptable(tenant_id: int) -> list[User]:
    """Return the tenant's live local members (role 1 or 2), oldest first."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.tenant_id == tenant_id, User.scim_managed.is_(False), User.deprovisioned_at.is_(None))
            .where(User.role.in_(Role.SCIM_RUNG))
            .order_by(User.id)
        )
    )


def duplicate_pairs(tenant_id: int, limit: int = 50) -> list[Pair]:
    """Return SCIM accounts whose userName or main email is a live local account's email, oldest first."""
    local = aliased(User)
    rows = db.session.execute(
        select(User, local)
        .join(
            local,
            and_(
                local.tenant_id == tenant_id,
                local.scim_managed.is_(False),
                local.deprovisioned_at.is_(None),
                or_(local.email_ci == User.email_ci, local.email_ci == User.user_name_ci),
            ),
        )
        .where(scim_visible(tenant_id))
        .order_by(User.id, local.id)
        .limit(limit)
    ).all()
    return [Pair(scim_user, local_user) for scim_user, local_user in rows]


def merge(tenant: Tenant, scim_user_id: int, local_user_id: int) -> User:
    """Give the local account the SCIM identity of its twin (scim id, externalId, userName) and delete the twin.

    One write transaction: the twin's cohort memberships move over, and its scim id afterwards names the
    local account, so whatever the IdP already holds keeps working. Refused when the local account's role is
    above member: SCIM must never own it (R1). The IdP's profile and active state take over; the email stays
    verified only when the IdP's main email is the one verified here (R4).
    """
    with write_transaction():
        roles.lock_accounts(tenant.id)
        local = _local(tenant.id, local_user_id)
        twin = db.session.scalar(for_write(select(User).where(scim_visible(tenant.id), User.id == scim_user_id)))
        if twin is None or not local.email_ci or local.email_ci not in (twin.email_ci, twin.user_name_ci):
            raise InvalidInput(NOT_A_PAIR)
        if local.role not in Role.SCIM_RUNG:
            raise InvalidInput(ABOVE_MEMBER)
        identity = {
            "scim_id": twin.scim_id,
            "external_id": twin.external_id,
            "user_name": twin.user_name,
            "role": twin.role,
            "email": twin.email,
            "emails": [
                {"value": e.value, "type": e.type, "primary": e.primary, "display": e.display} for e in twin.emails
            ],
            "names": (twin.display_name, twin.given_name, twin.family_name, dict(twin.profile or {})),
        }
        _move_dependants(twin.id, local.id)
        db.session.delete(twin)
        db.session.flush()  # the twin's unique scim id, userName and externalId are free from here on
        _take_identity(local, identity)
    return local


def _take_identity(local: User, identity: dict[str, Any]) -> None:
    verified_key = local.email_ci if local.email_verified else None
    local.scim_managed = True
    local.scim_id = identity["scim_id"]
    local.external_id = identity["external_id"]
    local.user_name = identity["user_name"]
    local.role = identity["role"]
    display_name, given_name, family_name, profile = identity["names"]
    local.display_name = display_name or local.display_name
    local.given_name, local.family_name, local.profile = given_name, family_name, profile
    local.emails = [UserEmail(position=i, **e) for i, e in enumerate(identity["emails"])]
    local.email = identity["email"] or local.email
    if local.email_ci != verified_key:
        local.email_verified_at = None  # R4: the IdP never vouches for an address


def _move_dependants(twin_id: int, local_id: int) -> None:
    """Move the twin's cohort memberships (and anything that names it) to the local account; drop the rest."""
    already = select(CohortMember.cohort_id).where(CohortMember.user_id == local_id)
    db.session.execute(
        update(CohortMember)
        .where(CohortMember.user_id == twin_id, CohortMember.cohort_id.not_in(already))
        .values(user_id=local_id)
    )
    for model, column in ((Cohort, Cohort.owner_id), (ScimCredential, ScimCredential.created_by_id)):
        db.session.execute(update(model).where(column == twin_id).values({column.key: local_id}))
    db.session.execute(update(ApiKey).where(ApiKey.created_by_id == twin_id).values(created_by_id=local_id))
    for dependant in (CohortMember, EmailToken, SignInFailure, OffboardingRequest):
        db.session.execute(delete(dependant).where(dependant.user_id == twin_id))


def _local(tenant_id: int, user_id: int) -> User:
    user: User | None = db.session.scalar(
        for_write(select(User).where(User.tenant_id == tenant_id, User.id == user_id))
    )
    if user is None or user.deprovisioned_at is not None:
        raise NotFound("no such user")
    if user.scim_managed:
        raise InvalidInput(ALREADY_SCIM)
    return user
