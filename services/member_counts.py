"""Check the member counts the database keeps (models/member_counts.py) against the visibility rule, and repair them.

The triggers are the count's only writers, so it should never drift. What could make it: a migration that rebuilt
`users` on SQLite and forgot to create them again, or rows changed by hand with the triggers dropped. An operator
checks with `flask scim member-counts` and, if it says so, repairs with `--repair`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from models import ScimMemberCount, Tenant, User, db
from services.provisioning import scim_visible
from services.transactions import write_transaction


@dataclass(frozen=True)
class CountCheck:
    """One tenant's kept count beside a count of its SCIM-visible members."""

    tenant: str
    kept: int
    counted: int


def check(*, repair: bool = False) -> list[CountCheck]:
    """Return every tenant whose kept count differs from a count of its visible members; with `repair`, fix them.

    It all runs with writers to `users` held off (SQLite's write lock; on PostgreSQL a SHARE lock on the table,
    taken after any writer that started earlier has committed), so no write moves a count between the counting
    and the setting.
    """
    wrong: list[CountCheck] = []
    with write_transaction():
        if db.session.connection().dialect.name == "postgresql":
            db.session.execute(text("LOCK TABLE users IN SHARE MODE"))
        for tenant_id, slug in db.session.execute(select(Tenant.id, Tenant.slug).order_by(Tenant.slug)).all():
            counted = db.session.scalar(select(func.count()).select_from(User).where(scim_visible(tenant_id))) or 0
            row = db.session.get(ScimMemberCount, tenant_id)
            kept = row.visible if row is not None else 0
            if kept == counted:
                continue
            wrong.append(CountCheck(slug, kept, counted))
            if repair:
                db.session.merge(ScimMemberCount(tenant_id=tenant_id, visible=counted))
        if not repair:
            db.session.rollback()  # nothing to write: release the lock at once
    return wrong
