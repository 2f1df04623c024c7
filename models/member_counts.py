"""How many members SCIM can see in each tenant, kept by the database itself (docs/design.md §7).

Every `GET /Users` answers with `totalResults`; counting the visible members for it read the whole tenant's
slice of `ix_users_scim_visible` on every page (100,000 index entries for a tenant of 100,000). The count is
kept here instead, by triggers on `users`: whatever writes a user (SCIM, the dashboard, the CLI, a migration),
the row that makes or ends a member's visibility moves the count in the same transaction, so it cannot drift
from the rule.

SQLite runs one writer at a time, so its triggers simply add and subtract. On PostgreSQL the trigger is a
deferred constraint trigger: it runs at COMMIT, the last thing a transaction does. The tenant's count row is
then locked only while a transaction commits, never while it waits for another lock (a userName's unique
index, a tenant row), so concurrent creates in one tenant queue briefly at commit and cannot deadlock on it.
The price is paid by bulk changes: one transaction that makes or ends the visibility of N members updates the
count row N times, and PostgreSQL keeps a version of the row per update, so the cost grows with N squared
(10,000 members in one transaction: 0.8 s; 40,000: 11 s). SCIM and the dashboard change one member per
transaction; an operator's bulk change should go in batches of a few thousand rows.

The triggers live in the schema, not in the model: `db.create_all()` installs them through the DDL events
below and the migration that added this table installs the same text. A migration that rebuilds `users` on
SQLite (Alembic's batch mode copies the table) drops them with the old table and must create them again;
tests/test_migrations.py checks that the head revision has them.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model, install_with_tables
from models.roles import Role

_RUNG = ", ".join(str(int(role)) for role in Role.SCIM_RUNG)


def visible_sql(row: str, true: str) -> str:
    """The visibility rule (R1, R3, R8: services.visibility.scim_visible) over the columns of `row`."""
    prefix = f"{row}." if row else ""
    return f"{prefix}scim_managed IS {true} AND {prefix}role IN ({_RUNG}) AND {prefix}deprovisioned_at IS NULL"


class ScimMemberCount(Model):
    """The number of a tenant's members SCIM sees (its `totalResults` for an unfiltered `GET /Users`)."""

    __tablename__ = "scim_member_counts"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True, autoincrement=False)
    visible: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


_COLUMNS = "tenant_id, scim_managed, role, deprovisioned_at"
_ADD_ONE = "ON CONFLICT (tenant_id) DO UPDATE SET visible = scim_member_counts.visible + 1"

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER scim_member_count_insert AFTER INSERT ON users
WHEN {visible_sql("NEW", "1")}
BEGIN
  INSERT INTO scim_member_counts (tenant_id, visible) VALUES (NEW.tenant_id, 1) {_ADD_ONE};
END""",
    f"""CREATE TRIGGER scim_member_count_delete AFTER DELETE ON users
WHEN {visible_sql("OLD", "1")}
BEGIN
  UPDATE scim_member_counts SET visible = visible - 1 WHERE tenant_id = OLD.tenant_id;
END""",
    f"""CREATE TRIGGER scim_member_count_update AFTER UPDATE OF {_COLUMNS} ON users
WHEN ({visible_sql("OLD", "1")}) IS NOT ({visible_sql("NEW", "1")}) OR OLD.tenant_id IS NOT NEW.tenant_id
BEGIN
  UPDATE scim_member_counts SET visible = visible - 1 WHERE tenant_id = OLD.tenant_id AND {visible_sql("OLD", "1")};
  INSERT INTO scim_member_counts (tenant_id, visible) SELECT NEW.tenant_id, 1 WHERE {visible_sql("NEW", "1")}
  {_ADD_ONE};
END""",
)

POSTGRESQL_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION scim_member_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  was_visible boolean := TG_OP <> 'INSERT' AND {visible_sql("OLD", "true")};
  is_visible boolean := TG_OP <> 'DELETE' AND {visible_sql("NEW", "true")};
BEGIN
  IF was_visible AND is_visible AND OLD.tenant_id = NEW.tenant_id THEN
    RETURN NULL;
  END IF;
  IF was_visible THEN
    UPDATE scim_member_counts SET visible = visible - 1 WHERE tenant_id = OLD.tenant_id;
  END IF;
  IF is_visible THEN
    INSERT INTO scim_member_counts (tenant_id, visible) VALUES (NEW.tenant_id, 1) {_ADD_ONE};
  END IF;
  RETURN NULL;
END $$""",
    f"""CREATE CONSTRAINT TRIGGER scim_member_count AFTER INSERT OR DELETE OR UPDATE OF {_COLUMNS} ON users
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION scim_member_count_change()""",
)

# Once every table exists (models/base.py): the triggers name both `users` and `scim_member_counts`.
install_with_tables(sqlite=SQLITE_TRIGGERS, postgresql=POSTGRESQL_TRIGGERS)
