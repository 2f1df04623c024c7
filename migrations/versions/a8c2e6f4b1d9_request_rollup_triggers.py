"""the request log's rollups kept by triggers on scim_requests

Revision ID: a8c2e6f4b1d9
Revises: f3b9d1e7a2c4
Create Date: 2026-11-30 20:00:00.000000

Each log row's requests were added to its credential's minute and hour rollups by a second statement from
the app, in the row's transaction. These triggers add them in the statement that writes the row instead
(models/request_log.py at this revision says how they treat counted refusals). The rollups already hold
every row logged so far, so nothing is filled here. The app at this revision no longer writes them itself:
an app process still running the previous code after this upgrade counts each of its requests twice, so
restart every process with the upgrade. A downgrade drops the triggers, and the previous code writes the
rollups again.

A later migration that rebuilds scim_requests on SQLite (batch mode) drops these triggers with the old
table and must create them again.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a8c2e6f4b1d9'
down_revision = 'f3b9d1e7a2c4'
branch_labels = None
depends_on = None

COLUMNS = "credential_id, span_minutes, start, status_class, tenant_id, count"
STATUS_CLASS = "CASE WHEN NEW.status < 300 THEN 2 WHEN NEW.status < 500 THEN 4 ELSE 5 END"
ADD = (
    "ON CONFLICT (credential_id, span_minutes, start, status_class)\n"
    "    DO UPDATE SET count = scim_request_rollups.count + excluded.count"
)


def sqlite_insert(added: str) -> str:
    """The minute and hour rollups of NEW, raised by `added`; `at` is text as SQLAlchemy stores a DateTime."""
    return (
        f"  INSERT INTO scim_request_rollups ({COLUMNS}) VALUES\n"
        f"    (NEW.credential_id, 1, substr(NEW.at, 1, 17) || '00.000000', {STATUS_CLASS}, NEW.tenant_id, {added}),\n"
        f"    (NEW.credential_id, 60, substr(NEW.at, 1, 14) || '00:00.000000', {STATUS_CLASS}, NEW.tenant_id, {added})\n"
        f"  {ADD};"
    )


SQLITE = (
    "CREATE TRIGGER scim_request_rollup_insert AFTER INSERT ON scim_requests\n"
    f"WHEN NEW.credential_id IS NOT NULL\nBEGIN\n{sqlite_insert('NEW.count')}\nEND",
    "CREATE TRIGGER scim_request_rollup_update AFTER UPDATE OF count ON scim_requests\n"
    f"WHEN NEW.credential_id IS NOT NULL AND NEW.count IS NOT OLD.count\nBEGIN\n{sqlite_insert('NEW.count - OLD.count')}\nEND",
)
POSTGRESQL = (
    "CREATE OR REPLACE FUNCTION scim_request_rollup_add() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "  added integer := NEW.count - CASE WHEN TG_OP = 'UPDATE' THEN OLD.count ELSE 0 END;\n"
    f"  klass integer := {STATUS_CLASS};\n"
    "BEGIN\n"
    "  IF added <> 0 THEN\n"
    f"    INSERT INTO scim_request_rollups ({COLUMNS}) VALUES\n"
    "      (NEW.credential_id, 1, date_trunc('minute', NEW.at), klass, NEW.tenant_id, added),\n"
    "      (NEW.credential_id, 60, date_trunc('hour', NEW.at), klass, NEW.tenant_id, added)\n"
    f"    {ADD};\n"
    "  END IF;\n"
    "  RETURN NULL;\n"
    "END $$",
    "CREATE TRIGGER scim_request_rollup AFTER INSERT OR UPDATE OF count ON scim_requests\n"
    "FOR EACH ROW WHEN (NEW.credential_id IS NOT NULL) EXECUTE FUNCTION scim_request_rollup_add()",
)


def upgrade():
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER scim_request_rollup ON scim_requests")
        op.execute("DROP FUNCTION scim_request_rollup_add()")
    else:
        for name in ("insert", "update"):
            op.execute(f"DROP TRIGGER scim_request_rollup_{name}")
