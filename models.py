"""The database and every model, shared by the SCIM and admin interfaces (docs/design.md §7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from services.identifiers import check_folded_length, fold, fold_profile

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime (both databases store it alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_scim_id() -> str:
    return str(uuid.uuid4())


def folded(row: Base, column: str, label: str, value: str | None) -> str | None:
    """Return `fold(value)` for the shadow column `column`, refusing a key too long for it (named `label`)."""
    if value is None:
        return None
    check_folded_length(label, value, row.__table__.c[column].type.length)
    return fold(value)


class Role:
    """Roles on a tenant; SCIM owns only BANNED and MEMBER (R1)."""

    BANNED = 1
    MEMBER = 2
    MODERATOR = 3
    ADMIN = 4
    SUPER_ADMIN = 5

    NAMES = {1: "banned", 2: "member", 3: "moderator", 4: "admin", 5: "super-admin"}
    SCIM_RUNG = (BANNED, MEMBER)


# The predicate of ix_users_scim_visible, as each database's planner must find it in a query's WHERE.
SCIM_VISIBLE_SQLITE = f"scim_managed IS 1 AND role IN {Role.SCIM_RUNG} AND deprovisioned_at IS NULL"
SCIM_VISIBLE_POSTGRESQL = f"scim_managed IS true AND role IN {Role.SCIM_RUNG} AND deprovisioned_at IS NULL"


class Tenant(db.Model):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    learn_scim: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        # R5: unique among live accounts only, so a deprovisioned userName can be used again (R8).
        # user_name_clash is 0 except for accounts that only collided when the Unicode fold replaced lower():
        # they keep their own id there, so both stay live (see README, "userName and Unicode").
        Index(
            "uq_users_tenant_user_name",
            "tenant_id",
            "user_name_ci",
            "user_name_clash",
            unique=True,
            sqlite_where=db.text("deprovisioned_at IS NULL"),
            postgresql_where=db.text("deprovisioned_at IS NULL"),
        ),
        Index(
            "uq_users_tenant_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            sqlite_where=db.text("deprovisioned_at IS NULL"),
            postgresql_where=db.text("deprovisioned_at IS NULL"),
        ),
        Index("ix_users_tenant_email_ci", "tenant_id", "email_ci"),
        Index("ix_users_tenant_scim", "tenant_id", "scim_managed", "role"),
        # The members SCIM lists (services.members.scim_visible, with the rung as constants: scim.paging), in id
        # order. It carries the columns of its WHERE so that SQLite counts and skips through it alone.
        Index(
            "ix_users_scim_visible",
            "tenant_id",
            "id",
            "scim_managed",
            "role",
            "deprovisioned_at",
            sqlite_where=db.text(SCIM_VISIBLE_SQLITE),
            postgresql_where=db.text(SCIM_VISIBLE_POSTGRESQL),
        ),
        # IdPs match people on their employee number (Entra's matching attribute): an index lookup. It carries the
        # SCIM-visibility columns too, so SQLite (without statistics) prefers it to ix_users_tenant_scim.
        Index("ix_users_tenant_employee_number_ci", "tenant_id", "employee_number_ci", "scim_managed", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    scim_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_scim_id)
    user_name: Mapped[str | None] = mapped_column(String(255))
    user_name_ci: Mapped[str | None] = mapped_column(String(255))
    user_name_clash: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    external_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    email_ci: Mapped[str | None] = mapped_column(String(320))
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_hash: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[int] = mapped_column(Integer, default=Role.MEMBER)
    scim_managed: Mapped[bool] = mapped_column(Boolean, default=False)

    display_name: Mapped[str | None] = mapped_column(String(255))
    display_name_ci: Mapped[str | None] = mapped_column(String(255))
    given_name: Mapped[str | None] = mapped_column(String(255))
    given_name_ci: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    family_name_ci: Mapped[str | None] = mapped_column(String(255))
    # The rest of the SCIM profile (name parts, nickName, locale, phoneNumbers, addresses,
    # enterprise fields ...) is kept as sent; only what we filter or sort on has a column.
    profile: Mapped[dict] = mapped_column(JSON, default=dict)
    # What the filters compare the profile's case-insensitive strings with: the fold cannot run inside SQL, so
    # `profile_ci` holds fold() of every singular string in `profile` by lowercased dotted path (read with the
    # database's JSON operators), and the enterprise employeeNumber, which IdPs match on, has an indexed column.
    profile_ci: Mapped[dict | None] = mapped_column(JSON)
    employee_number_ci: Mapped[str | None] = mapped_column(String(255))

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    deprovisioned_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Optimistic locking: a SCIM write and a dashboard role change that race cannot silently
    # overwrite each other (the loser's UPDATE matches no row and is retried or refused).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Bumped on sign-out and password change; dashboard sessions carry it, so old cookies die.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __mapper_args__ = {"version_id_col": version}

    tenant: Mapped[Tenant] = relationship()
    emails: Mapped[list[UserEmail]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="UserEmail.position"
    )

    # Every `*_ci` column is the fold of its source, set here and nowhere else (SCIM filters compare against it).
    _FOLDED = {
        "user_name": ("user_name_ci", "userName"),
        "email": ("email_ci", "email"),
        "display_name": ("display_name_ci", "displayName"),
        "given_name": ("given_name_ci", "name.givenName"),
        "family_name": ("family_name_ci", "name.familyName"),
    }

    @validates(*_FOLDED)
    def _fill_folded(self, key: str, value: str | None) -> str | None:
        column, label = self._FOLDED[key]
        key_value = folded(self, column, label, value)
        if key == "user_name" and key_value != self.user_name_ci:
            self.user_name_clash = 0  # a new userName is unique like any other; only an old clash is tolerated
        setattr(self, column, key_value)
        return value

    @validates("profile")
    def _fold_profile(self, key: str, value: dict | None) -> dict | None:
        enterprise = (value or {}).get("enterprise") or {}
        number = enterprise.get("employeeNumber") if isinstance(enterprise, dict) else None
        number = number if isinstance(number, str) else None
        self.employee_number_ci = folded(self, "employee_number_ci", "employeeNumber", number)
        self.profile_ci = fold_profile(value)
        return value

    @property
    def active(self) -> bool:
        """SCIM's `active` is the member rung (R1)."""
        return self.role == Role.MEMBER

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def label(self) -> str:
        """Return a human name for the dashboard."""
        names = " ".join(n for n in (self.given_name, self.family_name) if n)
        return self.display_name or names or self.user_name or self.email or self.scim_id


class UserEmail(db.Model):
    """One of a user's SCIM emails, kept as sent and indexed for filters."""

    __tablename__ = "user_emails"
    __table_args__ = (Index("ix_user_emails_value_ci", "value_ci"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[str | None] = mapped_column(String(320))
    value_ci: Mapped[str | None] = mapped_column(String(320))
    type: Mapped[str | None] = mapped_column(String(40))
    type_ci: Mapped[str | None] = mapped_column(String(40))
    primary: Mapped[bool | None] = mapped_column(Boolean)
    display: Mapped[str | None] = mapped_column(String(320))

    user: Mapped[User] = relationship(back_populates="emails")

    @validates("value", "type")
    def _fill_folded(self, key: str, value: str | None) -> str | None:
        column = f"{key}_ci"
        setattr(self, column, folded(self, column, f"emails.{key}", value))
        return value


class Cohort(db.Model):
    __tablename__ = "cohorts"
    __table_args__ = (
        # Unique among cohorts SCIM still sees, so a deleted group's name can be reused.
        Index(
            "uq_cohorts_tenant_scim_name",
            "tenant_id",
            "name_ci",
            "name_clash",  # as users.user_name_clash: nonzero only for names that collided under the new fold
            unique=True,
            sqlite_where=db.text("scim_managed AND scim_deleted_at IS NULL"),
            postgresql_where=db.text("scim_managed AND scim_deleted_at IS NULL"),
        ),
        Index("ix_cohorts_tenant_external_id", "tenant_id", "external_id"),
        # R6 ties a group to its externalId, so no two groups SCIM sees share one; a deleted group's is free again.
        Index(
            "uq_cohorts_tenant_scim_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            sqlite_where=db.text("scim_managed AND scim_deleted_at IS NULL"),
            postgresql_where=db.text("scim_managed AND scim_deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    scim_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_scim_id)
    external_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    name_ci: Mapped[str] = mapped_column(String(255))
    name_clash: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scim_managed: Mapped[bool] = mapped_column(Boolean, default=False)
    scim_deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship()

    @validates("name")
    def _fill_folded(self, key: str, value: str) -> str:
        name_ci = folded(self, "name_ci", "displayName", value)
        if name_ci != self.name_ci:
            self.name_clash = 0
        self.name_ci = name_ci
        return value


class CohortMember(db.Model):
    __tablename__ = "cohort_members"
    __table_args__ = (Index("ix_cohort_members_user", "user_id"),)

    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ScimCredential(db.Model):
    __tablename__ = "scim_credentials"
    __table_args__ = (Index("uq_scim_credentials_tenant_slug", "tenant_id", "slug", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str | None] = mapped_column(String(63))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    tenant: Mapped[Tenant] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.disabled_at:
            return "disabled"
        return "active"


class ScimRequest(db.Model):
    """One SCIM request as R11 records it (never the body, query string or token), or a counted run of refusals.

    Refusals before any credential is known, and the 429s of the failed-authentication limit, are
    counted into one row per tenant, credential, client address (IPv6: its /64), minute and kind:
    `at` is the minute's start, `count` how many arrived, and the rest describes the first of them.
    """

    __tablename__ = "scim_requests"
    __table_args__ = (
        # "Latest N for a credential" and "counts by status since T" are range scans on this.
        Index("ix_scim_requests_credential_at", "credential_id", "at", "status"),
        Index("ix_scim_requests_tenant_at", "tenant_id", "at"),
        # The conflict target of the upsert that counts refusals into one row per bucket. NULLs never
        # clash, so requests recorded one by one (bucket NULL) are unaffected.
        Index("uq_scim_requests_bucket", "bucket", unique=True),
        # Keyset pages of the public request-log API and the dashboard's history walk the log in id
        # order, per tenant or per credential; the status-class forms serve "only 4xx" and the like
        # (services/request_log.py writes the class as `status / 100` to match these expressions).
        Index("ix_scim_requests_tenant_id_id", "tenant_id", "id"),
        Index("ix_scim_requests_credential_id_id", "credential_id", "id"),
        Index("ix_scim_requests_tenant_class_id", "tenant_id", db.text("(status / 100)"), "id"),
        Index("ix_scim_requests_credential_class_id", "credential_id", db.text("(status / 100)"), "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("scim_credentials.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(db.Float)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    # Every kind of change the request made, space-separated ("user.reactivated user.updated"); the longest
    # combination a request can make fits in 40.
    operation: Mapped[str | None] = mapped_column(String(40))
    failure: Mapped[str | None] = mapped_column(String(40))
    # Why it failed, finer than `failure`, as a fixed code of ours (e.g. "filter_attribute_unknown:emails.type");
    # never a value taken from the request.
    reason: Mapped[str | None] = mapped_column(String(80))
    # Requests this row stands for: 1, except for refusals counted per client address and minute.
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # A counted row's key (tenant, credential, address, minute, kind), unique; NULL for a row of one request.
    bucket: Mapped[str | None] = mapped_column(String(160))
    # Member ids a successful group write skipped because SCIM cannot see them (R7); NULL when none were.
    skipped_members: Mapped[int | None] = mapped_column(Integer)


class ScimRequestRollup(db.Model):
    """How many of a credential's requests answered a status class in one minute or one hour.

    Kept in step with the log by services/rollups.py in the transaction of each log row, so the live page
    and the credentials list sum a few dozen rows however long the log is. `status_class` is 2, 4 or 5 as
    the histogram groups statuses (below 300, below 500, the rest).
    """

    __tablename__ = "scim_request_rollups"
    __table_args__ = (Index("ix_scim_request_rollups_start", "start"),)

    credential_id: Mapped[int] = mapped_column(
        ForeignKey("scim_credentials.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # 1 (a minute's bucket, for the last hour) or 60 (an hour's, for the day and the week).
    span_minutes: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    status_class: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ScimCredentialOperation(db.Model):
    """When a credential first succeeded at one kind of operation: the first-sync checklist reads these few rows."""

    __tablename__ = "scim_credential_operations"

    credential_id: Mapped[int] = mapped_column(
        ForeignKey("scim_credentials.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    operation: Mapped[str] = mapped_column(String(40), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ApiKey(db.Model):
    """A tenant admin's key to the public API at /api/v1: shown once, stored as a digest, limited to its scopes."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(String(20))
    # Space-separated, as OAuth writes scopes: a new scope is a new word, not a schema change.
    scopes: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)

    tenant: Mapped[Tenant] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class EmailToken(db.Model):
    """A single-use, expiring link token (email verification, set password); stored hashed."""

    __tablename__ = "email_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship()


class SignInFailure(db.Model):
    """A failed dashboard sign-in on an admin account, for the notice mailed when the account is paused.

    Kept only as long as the per-account limit counts it; `client` is the address's throttle key
    (IPv4 as is, IPv6 by /64).
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class OffboardingRequest(db.Model):
    """A deactivation or deletion the IdP sent for a member promoted past the SCIM rung, which SCIM could not apply.

    R3 answers such a request 404 like any unknown id, so the person keeps their access; this row is how the
    dashboard notices for the admin. One row per person: open while `resolved_at` is NULL, closed when an admin
    bans or demotes them or the IdP reactivates them, and opened afresh by the next such request.
    """

    __tablename__ = "offboarding_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # "deactivate", or "delete" once a DELETE was seen
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("scim_credentials.id", ondelete="SET NULL"))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    notified_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolution: Mapped[str | None] = mapped_column(String(20))  # "banned", "demoted", "reactivated"

    user: Mapped[User] = relationship()
    credential: Mapped[ScimCredential | None] = relationship()


__all__ = [
    "ApiKey",
    "Cohort",
    "CohortMember",
    "EmailToken",
    "OffboardingRequest",
    "Role",
    "ScimCredential",
    "ScimCredentialOperation",
    "ScimRequest",
    "ScimRequestRollup",
    "SignInFailure",
    "Tenant",
    "User",
    "UserEmail",
    "db",
    "utcnow",
]
