"""count refusals per client address and minute in the SCIM request log

Revision ID: c3f1a9d27e54
Revises: 5c0e7b3a9d21
Create Date: 2026-12-01 10:00:00.000000

Every existing row stands for one request, so `count` starts at 1 and `bucket` empty.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3f1a9d27e54'
down_revision = '5c0e7b3a9d21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('scim_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('count', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('bucket', sa.String(length=160), nullable=True))
        batch_op.create_index('uq_scim_requests_bucket', ['bucket'], unique=True)


def downgrade():
    # A counted row stays one row: the old schema has no way to say how many requests it stood for.
    with op.batch_alter_table('scim_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_scim_requests_bucket')
        batch_op.drop_column('bucket')
        batch_op.drop_column('count')
