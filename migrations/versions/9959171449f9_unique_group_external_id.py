"""unique externalId among a tenant's SCIM-visible groups

Revision ID: 9959171449f9
Revises: c4e7a1d2b9f0
Create Date: 2026-12-02 10:00:00.000000

Racing creates could leave several live SCIM groups of one tenant with the same externalId, and the new
unique index cannot be built over them. Before building it, the oldest group (lowest id) of each such set
keeps the externalId; the newer ones lose it (set to NULL, lastModified moved on) and keep everything
else: their ids, names and members, so whatever the IdP holds by id still answers. Their ids are logged,
for the operator to reconcile (or delete) them in the IdP. Groups deleted over SCIM are left alone, as the
index ignores them. A downgrade drops the index; cleared externalIds are not restored.
"""
import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '9959171449f9'
down_revision = 'c4e7a1d2b9f0'
branch_labels = None
depends_on = None

LIVE = "scim_managed AND scim_deleted_at IS NULL"
INDEX = "uq_cohorts_tenant_scim_external_id"
log = logging.getLogger("alembic.runtime.migration")


def upgrade():
    bind = op.get_bind()
    newer_duplicates = sa.text(
        f"SELECT id FROM cohorts WHERE {LIVE} AND external_id IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM cohorts AS older WHERE older.tenant_id = cohorts.tenant_id"
        " AND older.external_id = cohorts.external_id AND older.scim_managed AND older.scim_deleted_at IS NULL"
        " AND older.id < cohorts.id) ORDER BY id"
    )
    ids = [row[0] for row in bind.execute(newer_duplicates)]
    if ids:
        clear = sa.text("UPDATE cohorts SET external_id = NULL, updated_at = :now WHERE id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True)
        )
        bind.execute(clear, {"now": datetime.now(UTC).replace(tzinfo=None), "ids": ids})
        shown = ", ".join(str(i) for i in ids[:50]) + (" ..." if len(ids) > 50 else "")
        log.warning(
            "%d SCIM group(s) shared an externalId with an older group of their tenant; their externalId "
            "was cleared (cohort ids: %s)",
            len(ids),
            shown,
        )
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.create_index(
            INDEX,
            ['tenant_id', 'external_id'],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )


def downgrade():
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_index(INDEX, sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))
