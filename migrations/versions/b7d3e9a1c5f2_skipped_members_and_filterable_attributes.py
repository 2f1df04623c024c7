"""the request log counts skipped group members; every singular User attribute is filterable

Revision ID: b7d3e9a1c5f2
Revises: d2a7c5e1f803
Create Date: 2026-12-03 10:00:00.000000

A group write now skips member ids SCIM cannot see instead of refusing the whole request (R7); the request
log keeps how many it skipped, never which. Existing rows predate the rule and skipped nothing: NULL.

Filters reach every singular User attribute. The case-insensitive ones kept in `profile` are compared with
folded copies in `profile_ci` (the fold cannot run inside SQL), and employeeNumber, which IdPs match on, gets an
indexed folded column. Both are filled here from every existing profile with services.identifiers, in batches;
a folded employeeNumber longer than its column is cut to fit, as the Unicode-fold revision does for names.
"""
import sqlalchemy as sa
from alembic import op

from services.identifiers import fold, fold_profile

# revision identifiers, used by Alembic.
revision = 'b7d3e9a1c5f2'
down_revision = 'd2a7c5e1f803'
branch_labels = None
depends_on = None

BATCH = 1000
WIDTH = 255
INDEX = 'ix_users_tenant_employee_number_ci'
users = sa.table(
    'users',
    sa.column('id', sa.Integer),
    sa.column('profile', sa.JSON),
    sa.column('profile_ci', sa.JSON),
    sa.column('employee_number_ci', sa.String),
)

# Plain ALTER TABLE on both databases (SQLite has ADD and DROP COLUMN since 3.35): a batch rebuild of
# scim_requests would lose its expression indexes on (status / 100), and one of users would trip its foreign keys.


def upgrade():
    op.add_column('scim_requests', sa.Column('skipped_members', sa.Integer(), nullable=True))
    op.add_column('users', sa.Column('profile_ci', sa.JSON(), nullable=True))
    op.add_column('users', sa.Column('employee_number_ci', sa.String(length=255), nullable=True))
    _fill(op.get_bind())
    op.create_index(INDEX, 'users', ['tenant_id', 'employee_number_ci', 'scim_managed', 'role'], unique=False)


def downgrade():
    op.drop_index(INDEX, table_name='users')
    op.drop_column('users', 'employee_number_ci')
    op.drop_column('users', 'profile_ci')
    op.drop_column('scim_requests', 'skipped_members')


def _fill(bind):
    """Compute the folded copies of every user's profile, BATCH rows at a time in id order."""
    last = 0
    while True:
        rows = bind.execute(
            sa.select(users.c.id, users.c.profile).where(users.c.id > last).order_by(users.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            profile = row.profile if isinstance(row.profile, dict) else {}
            enterprise = profile.get('enterprise')
            number = enterprise.get('employeeNumber') if isinstance(enterprise, dict) else None
            bind.execute(
                users.update().where(users.c.id == row.id).values(
                    profile_ci=fold_profile(profile),
                    employee_number_ci=fold(number)[:WIDTH] if isinstance(number, str) else None,
                )
            )
        last = rows[-1].id
