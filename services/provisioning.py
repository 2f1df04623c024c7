"""SCIM provisioning (docs/design.md R1-R5, R8): a member's create, update and deprovision.

A member the IdP pushes is created on the member rung with an unverified email (R1, R2, R4); SCIM sees only
its own members on the member rung (R3: services/visibility.py), and a DELETE bans and hides the account instead
of removing it (R8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from models import Cohort, CohortMember, Role, Tenant, User, UserEmail, db, utcnow
from services import database, driver_reads
from services.database import AnySelect
from services.direct_inserts import insert_as_loaded
from services.errors import ConcurrentChange, Conflict, InvalidInput, NotFound
from services.identifiers import check_identifier, fold
from services.transactions import for_write, write_transaction
from services.visibility import scim_visible


@dataclass(frozen=True)
class ScimProfile:
    """A member as the IdP describes it; `attributes` holds the rest of the profile, kept as sent."""

    user_name: str
    external_id: str | None = None
    active: bool | None = None  # None leaves the current state alone
    emails: Sequence[dict[str, Any]] = ()
    attributes: dict[str, Any] = field(default_factory=dict)


def get_scim_user(tenant: Tenant, scim_id: str) -> User:
    """Return the SCIM-visible user with this id; anyone else is NotFound, alike (R3).

    SCIM's own GET reads plain columns (services/member_reads.py); this is the ORM read of the same member.
    """
    return _scim_user(tenant.id, User.scim_id == scim_id)


def _scim_user(tenant_id: int, which: ColumnElement[bool], *, lock: bool = False) -> User:
    """Return the SCIM-visible user `which` selects (locked for a write when asked), or raise user_not_found."""
    # The emails come with the user, in the same statement: every answer renders them. A locked read locks the
    # user's row only (FOR ... OF users): PostgreSQL cannot lock the nullable side of an outer join.
    query = select(User).where(scim_visible(tenant_id), which).options(joinedload(User.emails))
    user = db.session.scalar(for_write(query, User) if lock else query)
    if user is None:
        raise user_not_found(tenant_id, which)
    return user


def user_not_found(tenant_id: int, which: ColumnElement[bool]) -> NotFound:
    """Return the NotFound for a user SCIM cannot see, its reason telling the log why (the answer is the same).

    "not_visible" is a live account of the tenant that SCIM may not touch (local, or promoted past member);
    "not_found" is anything else, deprovisioned ones included (R8): the IdP may create those again.
    """
    hidden = db.session.scalar(
        select(User.id).where(User.tenant_id == tenant_id, which, User.deprovisioned_at.is_(None))
    )
    return NotFound("user not found", reason="not_visible" if hidden is not None else "not_found")


def create_scim_user(tenant: Tenant, profile: ScimProfile) -> User:
    """Provision a member: role 2 (or 1 if sent inactive), unverified email (R1, R2, R4).

    The member and their emails are written with one INSERT each, not through the unit of work, which cost a
    create seven times what its two INSERTs cost; the member returned is in the session as if just read.
    """
    tenant_id = tenant.id
    with _unique_or_conflict(), write_transaction():
        user = User(tenant_id=tenant_id, scim_managed=True, role=Role.MEMBER)
        _apply_profile(user, profile, creating=True)
        insert_as_loaded(user)
    return user


def update_scim_user(
    tenant: Tenant,
    scim_id: str,
    plan: Callable[[User, Any], ScimProfile | None],
    *,
    read_with: ColumnElement[Any] | None = None,
) -> User:
    """Read, change and write a member in one write transaction (PUT, PATCH).

    `plan` gets the member as it is now, with the row locked, and returns the new profile (None: no change), so
    a PATCH is applied to what the last write left, never to a copy read before another request committed.
    `read_with`, an expression over the member's row (SCIM's answer needs the member's groups), is read in the
    same locked statement and given to `plan` beside the member (None without it): one statement less.
    """
    which = User.scim_id == scim_id

    def change(user: User, alongside: Any) -> None:
        profile = plan(user, alongside)
        if profile is not None:
            _apply_profile(user, profile, creating=False)

    def read() -> tuple[User, Any]:
        if read_with is None:
            return _scim_user(tenant.id, which, lock=True), None
        session = db.session()
        dialect = session.get_bind().dialect.name
        statement = _locked_by_scim_id(read_with, dialect)
        row = session.execute(statement, {"tenant_id": tenant.id, "scim_id": scim_id}).unique().first()
        if row is None:
            raise user_not_found(tenant.id, which)
        if dialect == "postgresql":
            database.note_transaction_id(session, row[2])
        return row[0], row[1]

    return _write_scim_user(tenant.id, which, change, read)


@lru_cache(maxsize=8)
def _locked_by_scim_id(read_with: ColumnElement[Any], dialect: str) -> AnySelect:
    """The locked read of a member by SCIM id with `read_with` beside it, built once per column: a statement built
    per request computed its cache key each time, a walk of the whole statement that cost more than the statement
    it saved. (Clauses hash by identity, so each column is its own entry.) On PostgreSQL it also reads the
    transaction's id, which settles a COMMIT whose answer is lost (scim/commits.py): one round trip less. Locking
    the row gives the transaction its id anyway."""
    columns: list[Any] = [User, read_with]
    if dialect == "postgresql":
        columns.append(func.txid_current())
    statement = (
        select(*columns)
        .where(scim_visible(bindparam("tenant_id")), User.scim_id == bindparam("scim_id"))
        .options(joinedload(User.emails))
    )
    return for_write(statement, User)


def replace_scim_user(user: User, profile: ScimProfile) -> User:
    """Replace a member's IdP-owned profile with `profile`."""
    return _write_scim_user(
        user.tenant_id, User.id == user.id, lambda row, _: _apply_profile(row, profile, creating=False)
    )


def deprovision(user: User) -> None:
    """DELETE over SCIM (R8): ban, leave SCIM cohorts, vanish from SCIM; the account stays."""
    _write_scim_user(user.tenant_id, User.id == user.id, lambda row, _: deprovision_row(row))


def deprovision_scim_user(tenant: Tenant, scim_id: str) -> None:
    """Deprovision the SCIM-visible user with this SCIM id (R8), or raise NotFound."""
    _write_scim_user(tenant.id, User.scim_id == scim_id, lambda row, _: deprovision_row(row))


def deprovision_row(row: User) -> None:
    """Deprovision a user locked in the caller's write transaction (R8): ban, leave SCIM cohorts, vanish from SCIM."""
    row.role = Role.BANNED
    row.deprovisioned_at = utcnow()
    scim_cohorts = select(Cohort.id).where(Cohort.scim_managed.is_(True), Cohort.scim_deleted_at.is_(None))
    db.session.execute(
        delete(CohortMember).where(CohortMember.user_id == row.id, CohortMember.cohort_id.in_(scim_cohorts))
    )


def _write_scim_user(
    tenant_id: int,
    which: ColumnElement[bool],
    change: Callable[[User, Any], None],
    read: Callable[[], tuple[User, Any]] | None = None,
) -> User:
    """Apply a SCIM change to the locked, freshly read member in one write transaction.

    Re-read under the lock, the user may no longer be SCIM's to change (R3), e.g. an admin promoted them while
    the IdP's request was in flight: then it is the same NotFound as any hidden user. The version column stays
    as a second guard: should a writer that takes no lock change the row meanwhile, the UPDATE matches nothing
    and the whole change runs once more on the new row. `read` locks and reads the member `which` selects and
    anything read beside it, for `change` (by default the member alone).
    """
    for attempt in (1, 2):
        try:
            with _unique_or_conflict(), write_transaction():
                user, alongside = read() if read is not None else (_scim_user(tenant_id, which, lock=True), None)
                change(user, alongside)
                _flush()
            return user
        except StaleDataError:
            if attempt == 2:
                raise ConcurrentChange("the user changed during this request; retry it") from None
    raise AssertionError("unreachable")


def _apply_profile(user: User, profile: ScimProfile, *, creating: bool) -> None:
    check_identifier("userName", profile.user_name, key=True)  # before strip(), which takes U+2028 for a space
    user_name = (profile.user_name or "").strip()
    if not user_name:
        raise InvalidInput("userName is required")
    attributes = dict(profile.attributes)
    check_identifier("externalId", profile.external_id)
    check_identifier("displayName", attributes.get("displayName"), display=True)
    check_unique(user, user_name, profile.external_id)
    name = attributes.get("name") or {}
    # Assigning the names fills their folded columns (models.User), which may refuse a key too long to store.
    _assign(
        user,
        creating,
        user_name=user_name,
        external_id=profile.external_id or None,
        display_name=attributes.get("displayName"),
        given_name=name.get("givenName"),
        family_name=name.get("familyName"),
        profile=attributes,
    )
    if profile.active is not None:
        _assign(user, creating, role=Role.MEMBER if profile.active else Role.BANNED)
    elif creating:
        user.role = Role.MEMBER

    old_email = user.email_ci
    sent = [(e.get("value"), e.get("type"), e.get("primary"), e.get("display")) for e in profile.emails]
    # Unchanged emails (a PATCH of `active`, a PUT that sends them back) keep their rows: no DELETE and INSERT.
    if creating or sent != [(e.value, e.type, e.primary, e.display) for e in user.emails]:
        user.emails = [
            UserEmail(position=i, value=value, type=kind, primary=primary, display=display)
            for i, (value, kind, primary, display) in enumerate(sent)
        ]
    _assign(user, creating, email=_main_email(profile.emails))
    # R4: the IdP controls the account, never the ownership claim on an address.
    if creating or user.email_ci != old_email:
        user.email_verified_at = None


def _assign(user: User, creating: bool, **values: Any) -> None:
    """Set the attributes whose values change (on a new member, all of them).

    Each assignment runs the model's validators (the folds, the profile's folded copy) and the ORM's change events,
    and leaves the member dirty: a PATCH that changed nothing (Entra re-sends unchanged values every cycle) ran a
    unit of work that wrote nothing. A value kept needs none of it: its folded column already holds its fold, as
    every upgrade folds all rows again (README, Names and Unicode).
    """
    for name, value in values.items():
        if creating or getattr(user, name) != value:
            setattr(user, name, value)


def _main_email(emails: Sequence[dict[str, Any]]) -> str | None:
    values = [e for e in emails if e.get("value")]
    chosen = (
        next((e for e in values if e.get("primary") is True), None)
        or next((e for e in values if (e.get("type") or "").lower() == "work"), None)
        or (values[0] if values else None)
    )
    return chosen["value"] if chosen else None


def check_unique(user: User, user_name: str, external_id: str | None) -> None:
    """R5: userName (by its fold) and externalId are unique among live accounts of a tenant.

    An account keeping its own userName key is not checked: two accounts that only collided when the fold
    changed from lower() to Unicode folding both stay usable, but nobody can take such a key anew. A live
    account keeping its externalId is not checked either: the unique index lets no other live account hold it.
    Nothing is built or asked for a value the write keeps (a PATCH of `active`, say).
    """
    key = fold(user_name)
    new_name = user.id is None or key != user.user_name_ci
    new_external_id = bool(external_id) and (user.id is None or external_id != user.external_id)
    if not (new_name or new_external_id):
        return
    parameters = {"tenant_id": user.tenant_id, "user_id": user.id, "key": key, "external_id": external_id}
    # On the driver (services/driver_reads.py), in the write transaction: a create asks this every time.
    holders = driver_reads.rows(_holders(user.id is not None, new_name, new_external_id), parameters)
    if new_name and any(holder_name == key for holder_name, _ in holders):
        raise Conflict("userName is already in use in this tenant", "userName")
    if new_external_id and any(holder_id == external_id for _, holder_id in holders):
        raise Conflict("externalId is already in use in this tenant", "externalId")


@lru_cache(maxsize=8)
def _holders(updating: bool, name: bool, external_id: bool) -> driver_reads.AnyQuery:
    """R5's question for one shape of write, built once: building it per request cost a walk for its cache key.

    One question for both values (an IdP's create sends both), each half through its own unique index: an OR of
    the two would send SQLite, which keeps no statistics, through every account of the tenant. Two rows are
    enough to tell: externalId is unique among live accounts, so of any two rows that match, one holds the
    userName if any does.
    """
    live = and_(User.tenant_id == bindparam("tenant_id"), User.deprovisioned_at.is_(None))
    if updating:
        live = and_(live, User.id != bindparam("user_id"))
    taken = [User.user_name_ci == bindparam("key")] if name else []
    if external_id:
        taken.append(User.external_id == bindparam("external_id"))
    halves = [select(User.user_name_ci, User.external_id).where(live, term) for term in taken]
    return union_all(*halves).limit(2) if len(halves) > 1 else halves[0].limit(2)


def _flush() -> None:
    """Send the change now, inside the transaction: the version check and the unique indexes answer here."""
    db.session.flush()


@contextmanager
def _unique_or_conflict() -> Iterator[None]:
    """Turn a race lost on the unique indexes into the same Conflict as the pre-check."""
    try:
        yield
    except IntegrityError:
        raise Conflict("userName or externalId is already in use in this tenant", "userName") from None
