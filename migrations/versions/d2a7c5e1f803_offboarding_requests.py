"""offboarding requests: deactivations and deletions SCIM could not apply, for the dashboard to show

Revision ID: d2a7c5e1f803
Revises: d7a3c5e19b42
Create Date: 2026-12-09 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd2a7c5e1f803'
down_revision = 'd7a3c5e19b42'
branch_labels = None
depends_on = None


def upgrade():
    # A new table: no existing rows to migrate (requests refused before it existed were not recorded).
    op.create_table('offboarding_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('count', sa.Integer(), server_default='1', nullable=False),
    sa.Column('notified_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolution', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['credential_id'], ['scim_credentials.id'], name=op.f('fk_offboarding_requests_credential_id_scim_credentials'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_offboarding_requests_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_offboarding_requests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offboarding_requests')),
    sa.UniqueConstraint('user_id', name=op.f('uq_offboarding_requests_user_id'))
    )
    with op.batch_alter_table('offboarding_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offboarding_requests_tenant_id'), ['tenant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('offboarding_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offboarding_requests_tenant_id'))

    op.drop_table('offboarding_requests')
