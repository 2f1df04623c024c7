"""each tenant's count of SCIM-visible members, kept by triggers on users

Revision ID: f3b9d1e7a2c4
Revises: e5a2c8f1d3b6
Create Date: 2026-12-05 10:00:00.000000

GET /Users answers every page with totalResults. Counting the visible members for it read the tenant's whole
slice of ix_users_scim_visible on every page; the count is kept here instead (models/member_counts.py at this
revision says why it is a trigger, and why a deferred one on PostgreSQL). The triggers are created first and
the counts filled after, in this one transaction: on PostgreSQL CREATE TRIGGER locks users against writes
until it commits, and on SQLite this migration holds the database's write lock, so no write falls between.

A later migration that rebuilds users on SQLite (batch mode) drops these triggers with the old table and must
create them again.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f3b9d1e7a2c4'
down_revision = 'e5a2c8f1d3b6'
branch_labels = None
depends_on = None

COLUMNS = "tenant_id, scim_managed, role, deprovisioned_at"
ADD_ONE = "ON CONFLICT (tenant_id) DO UPDATE SET visible = scim_member_counts.visible + 1"


def visible(row: str, true: str) -> str:
    """R1/R3/R8's visibility over `row`'s columns, as services.provisioning.scim_visible states it at this revision."""
    prefix = f"{row}." if row else ""
    return f"{prefix}scim_managed IS {true} AND {prefix}role IN (1, 2) AND {prefix}deprovisioned_at IS NULL"


SQLITE = (
    f"CREATE TRIGGER scim_member_count_insert AFTER INSERT ON users\nWHEN {visible('NEW', '1')}\nBEGIN\n"
    f"  INSERT INTO scim_member_counts (tenant_id, visible) VALUES (NEW.tenant_id, 1) {ADD_ONE};\nEND",
    f"CREATE TRIGGER scim_member_count_delete AFTER DELETE ON users\nWHEN {visible('OLD', '1')}\nBEGIN\n"
    "  UPDATE scim_member_counts SET visible = visible - 1 WHERE tenant_id = OLD.tenant_id;\nEND",
    f"CREATE TRIGGER scim_member_count_update AFTER UPDATE OF {COLUMNS} ON users\n"
    f"WHEN ({visible('OLD', '1')}) IS NOT ({visible('NEW', '1')}) OR OLD.tenant_id IS NOT NEW.tenant_id\nBEGIN\n"
    f"  UPDATE scim_member_counts SET visible = visible - 1 WHERE tenant_id = OLD.tenant_id AND {visible('OLD', '1')};\n"
    f"  INSERT INTO scim_member_counts (tenant_id, visible) SELECT NEW.tenant_id, 1 WHERE {visible('NEW', '1')}\n"
    f"  {ADD_ONE};\nEND",
)
POSTGRESQL = (
    "CREATE OR REPLACE FUNCTION scim_member_count_change() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    f"  was_visible boolean := TG_OP <> 'INSERT' AND {visible('OLD', 'true')};\n"
    f"  is_visible boolean := TG_OP <> 'DELETE' AND {visible('NEW', 'true')};\n"
    "BEGIN\n"
    "  IF was_visible AND is_visible AND OLD.tenant_id = NEW.tenant_id THEN\n    RETURN NULL;\n  END IF;\n"
    "  IF was_visible THEN\n"
    "    UPDATE scim_member_counts SET visible = visible - 1 WHERE tenant_id = OLD.tenant_id;\n  END IF;\n"
    "  IF is_visible THEN\n"
    f"    INSERT INTO scim_member_counts (tenant_id, visible) VALUES (NEW.tenant_id, 1) {ADD_ONE};\n  END IF;\n"
    "  RETURN NULL;\nEND $$",
    f"CREATE CONSTRAINT TRIGGER scim_member_count AFTER INSERT OR DELETE OR UPDATE OF {COLUMNS} ON users\n"
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION scim_member_count_change()",
)


def upgrade():
    op.create_table('scim_member_counts',
    sa.Column('tenant_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('visible', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_scim_member_counts_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_scim_member_counts'))
    )
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for statement in POSTGRESQL if postgres else SQLITE:
        op.execute(statement)
    op.execute(
        "INSERT INTO scim_member_counts (tenant_id, visible) "
        f"SELECT tenant_id, count(*) FROM users WHERE {visible('', 'true' if postgres else '1')} GROUP BY tenant_id"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER scim_member_count ON users")
        op.execute("DROP FUNCTION scim_member_count_change()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER scim_member_count_{name}")
    op.drop_table('scim_member_counts')
