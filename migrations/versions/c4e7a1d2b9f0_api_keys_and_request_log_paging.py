"""API keys, and indexes for keyset paging of the SCIM request log

Revision ID: c4e7a1d2b9f0
Revises: c4e1f7a9b2d3
Create Date: 2026-11-30 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e7a1d2b9f0'
down_revision = 'c4e1f7a9b2d3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_hint', sa.String(length=20), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_api_keys_created_by_id_users')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_keys_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_keys_token_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_tenant_id'), ['tenant_id'], unique=False)

    # Plain CREATE INDEX on both databases (no table rebuild): the log can already hold millions of rows.
    op.create_index('ix_scim_requests_tenant_id_id', 'scim_requests', ['tenant_id', 'id'], unique=False)
    op.create_index('ix_scim_requests_credential_id_id', 'scim_requests', ['credential_id', 'id'], unique=False)
    op.create_index('ix_scim_requests_tenant_class_id', 'scim_requests', ['tenant_id', sa.text('(status / 100)'), 'id'], unique=False)
    op.create_index('ix_scim_requests_credential_class_id', 'scim_requests', ['credential_id', sa.text('(status / 100)'), 'id'], unique=False)


def downgrade():
    op.drop_index('ix_scim_requests_credential_class_id', table_name='scim_requests')
    op.drop_index('ix_scim_requests_tenant_class_id', table_name='scim_requests')
    op.drop_index('ix_scim_requests_credential_id_id', table_name='scim_requests')
    op.drop_index('ix_scim_requests_tenant_id_id', table_name='scim_requests')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_tenant_id'))

    op.drop_table('api_keys')
