"""Unicode case fold (NFKC + casefold) for every *_ci column, and folded columns for the names SCIM filters on

Revision ID: c4e1f7a9b2d3
Revises: c3f1a9d27e54
Create Date: 2026-12-02 10:00:00.000000

Every existing row is recomputed in Python with services.identifiers.fold, in batches. Two live accounts (or
SCIM groups) of a tenant whose userName (displayName) differed under lower() but share a key under the new fold,
such as "Straße" and "STRASSE", both stay: the later one gets its own id in user_name_clash (name_clash), so the
unique index holds, and their number is logged. `flask --app app scim name-clashes` lists them; new writes refuse
such a key.
"""
import logging

from alembic import op
import sqlalchemy as sa

from services.identifiers import fold


# revision identifiers, used by Alembic.
revision = 'c4e1f7a9b2d3'
down_revision = 'c3f1a9d27e54'
branch_labels = None
depends_on = None

BATCH = 1000
USERS_LIVE = sa.text('deprovisioned_at IS NULL')
COHORTS_LIVE = sa.text('scim_managed AND scim_deleted_at IS NULL')
log = logging.getLogger('alembic.runtime.migration')

users = sa.table(
    'users',
    sa.column('id', sa.Integer), sa.column('tenant_id', sa.Integer), sa.column('deprovisioned_at', sa.DateTime),
    *(sa.column(name, sa.String) for name in (
        'user_name', 'user_name_ci', 'email', 'email_ci', 'display_name', 'display_name_ci',
        'given_name', 'given_name_ci', 'family_name', 'family_name_ci',
    )),
    sa.column('user_name_clash', sa.Integer),
)
user_emails = sa.table(
    'user_emails',
    sa.column('id', sa.Integer),
    *(sa.column(name, sa.String) for name in ('value', 'value_ci', 'type', 'type_ci')),
)
cohorts = sa.table(
    'cohorts',
    sa.column('id', sa.Integer), sa.column('tenant_id', sa.Integer), sa.column('scim_managed', sa.Boolean),
    sa.column('scim_deleted_at', sa.DateTime), sa.column('name', sa.String), sa.column('name_ci', sa.String),
    sa.column('name_clash', sa.Integer),
)
# Folded column -> (source column, width). A key longer than its column is cut to fit: that cannot be written
# any more (the models refuse it), and an old row keeps working, found by its first `width` folded characters.
USER_KEYS = {
    'user_name_ci': ('user_name', 255), 'email_ci': ('email', 320), 'display_name_ci': ('display_name', 255),
    'given_name_ci': ('given_name', 255), 'family_name_ci': ('family_name', 255),
}
EMAIL_KEYS = {'value_ci': ('value', 320), 'type_ci': ('type', 40)}
COHORT_KEYS = {'name_ci': ('name', 255)}


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('uq_users_tenant_user_name', sqlite_where=USERS_LIVE, postgresql_where=USERS_LIVE)
        batch_op.add_column(sa.Column('user_name_clash', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('display_name_ci', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('given_name_ci', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('family_name_ci', sa.String(length=255), nullable=True))
    with op.batch_alter_table('user_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('type_ci', sa.String(length=40), nullable=True))
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_index('uq_cohorts_tenant_scim_name', sqlite_where=COHORTS_LIVE, postgresql_where=COHORTS_LIVE)
        batch_op.add_column(sa.Column('name_clash', sa.Integer(), server_default='0', nullable=False))

    bind = op.get_bind()
    user_clashes = _recompute(bind, users, USER_KEYS, 'user_name_ci', 'user_name_clash', _fold,
                              lambda row: row.deprovisioned_at is None)
    _recompute(bind, user_emails, EMAIL_KEYS, None, None, _fold, None)
    cohort_clashes = _recompute(bind, cohorts, COHORT_KEYS, 'name_ci', 'name_clash', _fold,
                                lambda row: bool(row.scim_managed) and row.scim_deleted_at is None)
    if user_clashes or cohort_clashes:
        # Counts only: the names are personal data. The CLI lists the rows for an operator.
        log.warning('%d live accounts and %d SCIM groups share a name key with an older one under the Unicode fold; '
                    'both are kept; list them with `flask --app app scim name-clashes`', user_clashes, cohort_clashes)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('uq_users_tenant_user_name', ['tenant_id', 'user_name_ci', 'user_name_clash'],
                              unique=True, sqlite_where=USERS_LIVE, postgresql_where=USERS_LIVE)
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.create_index('uq_cohorts_tenant_scim_name', ['tenant_id', 'name_ci', 'name_clash'],
                              unique=True, sqlite_where=COHORTS_LIVE, postgresql_where=COHORTS_LIVE)


def downgrade():
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_index('uq_cohorts_tenant_scim_name', sqlite_where=COHORTS_LIVE, postgresql_where=COHORTS_LIVE)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('uq_users_tenant_user_name', sqlite_where=USERS_LIVE, postgresql_where=USERS_LIVE)
    # The previous revision's keys were str.lower(); the dropped columns need no value.
    bind = op.get_bind()
    _recompute(bind, users, {k: USER_KEYS[k] for k in ('user_name_ci', 'email_ci')}, None, None, _lower, None)
    _recompute(bind, user_emails, {'value_ci': EMAIL_KEYS['value_ci']}, None, None, _lower, None)
    _recompute(bind, cohorts, COHORT_KEYS, None, None, _lower, None)
    # recreate='never': SQLite (3.35+) drops a column in place; copying the table would trip the foreign keys.
    with op.batch_alter_table('cohorts', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('name_clash')
        batch_op.create_index('uq_cohorts_tenant_scim_name', ['tenant_id', 'name_ci'], unique=True,
                              sqlite_where=COHORTS_LIVE, postgresql_where=COHORTS_LIVE)
    with op.batch_alter_table('user_emails', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('type_ci')
    with op.batch_alter_table('users', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('family_name_ci')
        batch_op.drop_column('given_name_ci')
        batch_op.drop_column('display_name_ci')
        batch_op.drop_column('user_name_clash')
        batch_op.create_index('uq_users_tenant_user_name', ['tenant_id', 'user_name_ci'], unique=True,
                              sqlite_where=USERS_LIVE, postgresql_where=USERS_LIVE)


def _fold(value, width):
    return None if value is None else fold(value)[:width]


def _lower(value, width):
    return None if value is None else value.lower()[:width]


def _recompute(bind, table, keys, unique_key, clash_column, key_of, live):
    """Rewrite the folded columns of every row, BATCH rows at a time in id order; return the clashes marked.

    In id order the oldest holder of a unique key keeps clash 0; a later live row with the same key gets its id.
    """
    sources = sorted({source for source, _ in keys.values()})
    extra = ['tenant_id', 'deprovisioned_at', 'scim_managed', 'scim_deleted_at']
    columns = [table.c.id, *(table.c[name] for name in sources), *(table.c[n] for n in extra if n in table.c)]
    seen = set()
    clashes = 0
    last = 0
    while True:
        rows = bind.execute(sa.select(*columns).where(table.c.id > last).order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return clashes
        updates = []
        for row in rows:
            values = {'row_id': row.id}
            for column, (source, width) in keys.items():
                values[column] = key_of(getattr(row, source), width)
            if clash_column is not None:
                values[clash_column] = 0
                if live(row) and values[unique_key] is not None:
                    key = (row.tenant_id, values[unique_key])
                    if key in seen:
                        values[clash_column] = row.id
                        clashes += 1
                    seen.add(key)
            updates.append(values)
        assignments = {column: sa.bindparam(column) for column in updates[0] if column != 'row_id'}
        bind.execute(table.update().where(table.c.id == sa.bindparam('row_id')).values(**assignments), updates)
        last = rows[-1].id
