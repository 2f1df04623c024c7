"""request rollups per credential, minute/hour and status class; operations first seen; failure reasons

Revision ID: d7a3c5e19b42
Revises: 9959171449f9
Create Date: 2026-12-03 10:00:00.000000

The live credential page and the credentials list read these small tables instead of scanning the log.
Both are filled from the rows already logged, one credential at a time so no statement holds a lock for
long on a large log. Minute rollups are backfilled for the last day only: the page reads them for the last
hour. A downgrade drops them; the log itself is untouched.
"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd7a3c5e19b42'
down_revision = '9959171449f9'
branch_labels = None
depends_on = None

# The histogram's classes: below 300, below 500, the rest (services/rollups.py).
STATUS_CLASS = "CASE WHEN status < 300 THEN 2 WHEN status < 500 THEN 4 ELSE 5 END"


def upgrade():
    op.create_table('scim_request_rollups',
    sa.Column('credential_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('span_minutes', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('start', sa.DateTime(), nullable=False),
    sa.Column('status_class', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=True),
    sa.Column('count', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['credential_id'], ['scim_credentials.id'], name=op.f('fk_scim_request_rollups_credential_id_scim_credentials'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_scim_request_rollups_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('credential_id', 'span_minutes', 'start', 'status_class', name=op.f('pk_scim_request_rollups'))
    )
    op.create_index('ix_scim_request_rollups_start', 'scim_request_rollups', ['start'], unique=False)
    op.create_table('scim_credential_operations',
    sa.Column('credential_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('operation', sa.String(length=40), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['credential_id'], ['scim_credentials.id'], name=op.f('fk_scim_credential_operations_credential_id_scim_credentials'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('credential_id', 'operation', name=op.f('pk_scim_credential_operations'))
    )
    # ADD COLUMN without a table rebuild on both databases: the log can hold millions of rows.
    op.add_column('scim_requests', sa.Column('reason', sa.String(length=80), nullable=True))
    backfill(op.get_bind())


def backfill(bind) -> None:
    """Fill the rollups and first-seen operations from the log, one credential per statement."""
    postgres = bind.dialect.name == "postgresql"
    hour = "date_trunc('hour', at)" if postgres else "strftime('%Y-%m-%d %H:00:00.000000', at)"
    minute = "date_trunc('minute', at)" if postgres else "strftime('%Y-%m-%d %H:%M:00.000000', at)"
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
    for (credential_id,) in bind.execute(sa.text("SELECT id FROM scim_credentials ORDER BY id")).all():
        for span, bucket, recent in ((60, hour, ""), (1, minute, " AND at >= :since")):
            # Our own SQL fragments only; the values go as parameters.
            bind.execute(
                sa.text(
                    "INSERT INTO scim_request_rollups (credential_id, span_minutes, start, status_class, tenant_id, count)"
                    f" SELECT credential_id, {span}, {bucket}, {STATUS_CLASS}, min(tenant_id), sum(count)"  # noqa: S608
                    f" FROM scim_requests WHERE credential_id = :credential{recent}"
                    f" GROUP BY credential_id, {bucket}, {STATUS_CLASS}"
                ),
                {"credential": credential_id, "since": since},
            )
        # A row may hold several operations, space-separated: each is first seen at its earliest row.
        first: dict[str, datetime] = {}
        rows = bind.execute(
            sa.text(
                "SELECT operation, min(at) FROM scim_requests"
                " WHERE credential_id = :credential AND status < 300 AND operation IS NOT NULL GROUP BY operation"
            ),
            {"credential": credential_id},
        )
        for operations, at in rows:
            for name in operations.split():
                first[name] = min(first.get(name, at), at)
        if first:
            bind.execute(
                sa.text(
                    "INSERT INTO scim_credential_operations (credential_id, operation, first_at)"
                    " VALUES (:credential, :operation, :at)"
                ),
                [{"credential": credential_id, "operation": name, "at": at} for name, at in first.items()],
            )


def downgrade():
    op.drop_column('scim_requests', 'reason')
    op.drop_table('scim_credential_operations')
    op.drop_index('ix_scim_request_rollups_start', table_name='scim_request_rollups')
    op.drop_table('scim_request_rollups')
