"""the request log counts skipped group members

Revision ID: b7d3e9a1c5f2
Revises: 9959171449f9
Create Date: 2026-12-03 10:00:00.000000

A group write now skips member ids SCIM cannot see instead of refusing the whole request (R7); the request
log keeps how many it skipped, never which. Existing rows predate the rule and skipped nothing: NULL.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7d3e9a1c5f2'
down_revision = '9959171449f9'
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite has ADD and DROP COLUMN since 3.35): a batch rebuild of
# scim_requests would lose its expression indexes on (status / 100).


def upgrade():
    op.add_column('scim_requests', sa.Column('skipped_members', sa.Integer(), nullable=True))


def downgrade():
    op.drop_column('scim_requests', 'skipped_members')
