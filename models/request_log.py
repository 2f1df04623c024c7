"""What identity providers sent: the request log (R11), its per-minute rollups, and offboarding SCIM could not apply."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db, utcnow

if TYPE_CHECKING:
    from models.accounts import User
    from models.credentials import ScimCredential


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
