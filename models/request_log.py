"""What identity providers sent: the request log (R11), its per-minute rollups, and offboarding SCIM could not apply.

The rollups are kept by the database: triggers on `scim_requests` (below) add each log row's requests to its
credential's minute and hour rollup in the statement that writes the row, so a request's log transaction is
one statement and its COMMIT. `db.create_all()` installs them through the DDL events at the end of this module,
and migration a8c2e6f4b1d9 installs the same text. A migration that rebuilds `scim_requests` on SQLite
(Alembic's batch mode copies the table) drops them with the old table and must create them again.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, db, install_with_tables, utcnow

if TYPE_CHECKING:
    from models.accounts import User
    from models.credentials import ScimCredential


class ScimRequest(Model):
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
        # The conflict target of the upsert that counts refusals into one row per bucket. Partial: a request
        # recorded on its own (bucket NULL, nearly every row) never clashes, so it adds no entry to the index.
        Index(
            "uq_scim_requests_bucket",
            "bucket",
            unique=True,
            sqlite_where=db.text("bucket IS NOT NULL"),
            postgresql_where=db.text("bucket IS NOT NULL"),
        ),
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


class ScimRequestRollup(Model):
    """How many of a credential's requests answered a status class in one minute or one hour.

    Kept in step with the log by the triggers below, in the statement that writes each log row, so the live
    page and the credentials list sum a few dozen rows however long the log is. `status_class` is 2, 4 or 5
    as the histogram groups statuses (below 300, below 500, the rest); `start` is the bucket's first instant.
    Pruning the log leaves them be: services/rollups.prune drops whole hours of them with the log's.
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


# The rollup rows of a log row: its minute and hour buckets, in that order (the lock order on PostgreSQL),
# each raised by `added` requests. `count` may exceed 1: a counted refusal row, or rows written as a run.
_ROLLUP_COLUMNS = "credential_id, span_minutes, start, status_class, tenant_id, count"
_STATUS_CLASS = "CASE WHEN NEW.status < 300 THEN 2 WHEN NEW.status < 500 THEN 4 ELSE 5 END"
_ADD_TO_ROLLUP = (
    "ON CONFLICT (credential_id, span_minutes, start, status_class)\n"
    "    DO UPDATE SET count = scim_request_rollups.count + excluded.count"
)


# SQLite keeps `at` as the text SQLAlchemy writes for a DateTime ('2026-11-30 19:41:23.078282'). A bucket's
# start must be the very text SQLAlchemy would write for it ('2026-11-30 19:41:00.000000'), or the readers,
# which compare it with datetime parameters, would miss it: `at` up to the minute's colon (17 characters) or
# the hour's (14), then zeros. No literal starts with a colon: the migration's text() would read ':00' as a
# parameter.
_SQLITE_MINUTE = "substr(NEW.at, 1, 17) || '00.000000'"
_SQLITE_HOUR = "substr(NEW.at, 1, 14) || '00:00.000000'"


def _sqlite_rollup_insert(added: str) -> str:
    return (
        f"  INSERT INTO scim_request_rollups ({_ROLLUP_COLUMNS}) VALUES\n"
        f"    (NEW.credential_id, 1, {_SQLITE_MINUTE}, {_STATUS_CLASS}, NEW.tenant_id, {added}),\n"
        f"    (NEW.credential_id, 60, {_SQLITE_HOUR}, {_STATUS_CLASS}, NEW.tenant_id, {added})\n"
        f"  {_ADD_TO_ROLLUP};"
    )


# A row of its own fires the INSERT trigger. A counted refusal is an INSERT ... ON CONFLICT (bucket) DO UPDATE
# SET count = count + 1 (services/audit.py): its first request inserts, and each later one fires only the
# UPDATE trigger, with the request it adds as NEW.count - OLD.count. Nothing else updates log rows, and
# deleting them (the log's pruning) leaves the rollups alone.
SQLITE_ROLLUP_TRIGGERS = (
    f"""CREATE TRIGGER scim_request_rollup_insert AFTER INSERT ON scim_requests
WHEN NEW.credential_id IS NOT NULL
BEGIN
{_sqlite_rollup_insert("NEW.count")}
END""",
    f"""CREATE TRIGGER scim_request_rollup_update AFTER UPDATE OF count ON scim_requests
WHEN NEW.credential_id IS NOT NULL AND NEW.count IS NOT OLD.count
BEGIN
{_sqlite_rollup_insert("NEW.count - OLD.count")}
END""",
)

# A plain AFTER ROW trigger, not a deferred one as for the member counts: a log transaction is its one write
# and its COMMIT (and, rarely, a first-seen operation between), so the rollup rows are locked hardly longer
# than a trigger deferred to COMMIT would lock them. Every log transaction locks its log row first (a counted
# row's bucket), then the minute rollup, then the hour one, so two of them never wait on each other in a cycle.
POSTGRESQL_ROLLUP_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION scim_request_rollup_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  added integer := NEW.count - CASE WHEN TG_OP = 'UPDATE' THEN OLD.count ELSE 0 END;
  klass integer := {_STATUS_CLASS};
BEGIN
  IF added <> 0 THEN
    INSERT INTO scim_request_rollups ({_ROLLUP_COLUMNS}) VALUES
      (NEW.credential_id, 1, date_trunc('minute', NEW.at), klass, NEW.tenant_id, added),
      (NEW.credential_id, 60, date_trunc('hour', NEW.at), klass, NEW.tenant_id, added)
    {_ADD_TO_ROLLUP};
  END IF;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER scim_request_rollup AFTER INSERT OR UPDATE OF count ON scim_requests
FOR EACH ROW WHEN (NEW.credential_id IS NOT NULL) EXECUTE FUNCTION scim_request_rollup_add()""",
)


class OffboardingRequest(Model):
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


# Once every table exists (models/base.py): the triggers name both `scim_requests` and `scim_request_rollups`.
install_with_tables(sqlite=SQLITE_ROLLUP_TRIGGERS, postgresql=POSTGRESQL_ROLLUP_TRIGGERS)
