"""an index of the members SCIM lists, in id order

Revision ID: e5a2c8f1d3b6
Revises: b7d3e9a1c5f2
Create Date: 2026-12-04 10:00:00.000000

GET /Users pages by offset and answers with the total. Both walk the tenant's SCIM-visible members in id order;
over this partial index they read the index alone instead of every account's row. Its WHERE is written as each
database's planner must find it in a query (models.SCIM_VISIBLE_SQLITE / SCIM_VISIBLE_POSTGRESQL at this
revision): SQLite only uses a partial index whose terms the query repeats.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e5a2c8f1d3b6'
down_revision = 'b7d3e9a1c5f2'
branch_labels = None
depends_on = None

INDEX = 'ix_users_scim_visible'
SQLITE = sa.text('scim_managed IS 1 AND role IN (1, 2) AND deprovisioned_at IS NULL')
POSTGRESQL = sa.text('scim_managed IS true AND role IN (1, 2) AND deprovisioned_at IS NULL')


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(INDEX, ['tenant_id', 'id', 'scim_managed', 'role', 'deprovisioned_at'], unique=False,
                              sqlite_where=SQLITE, postgresql_where=POSTGRESQL)  # fmt: skip


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(INDEX, sqlite_where=SQLITE, postgresql_where=POSTGRESQL)
