"""Check the member counts the database keeps (models/member_counts.py) against the visibility rule, and repair them.

The triggers are the count's only writers, so it should never drift. What could make it: a migration that rebuilt
`users` on SQLite and forgot to create them again, or rows changed by hand with the triggers dropped. An operator
checks with `flask scim member-counts` and, if it says so, repairs with `--repair`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from models import ScimMemberCount, Tenant, User, db
from services.transactions import write_transaction
from services.visibility import scim_visible


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
        # The one visibility rule, over every tenant at once: its tenant term compares the column with itself.
        visible = scim_visible(User.tenant_id.expression)
        by_tenant = select(User.tenant_id, func.count()).where(visible).group_by(User.tenant_id)
        counted: dict[int, int] = {tenant_id: n for tenant_id, n in db.session.execute(by_tenant)}
        rows = db.session.execute(select(ScimMemberCount.tenant_id, ScimMemberCount.visible))
        kept: dict[int, int] = {tenant_id: n for tenant_id, n in rows}
        for tenant_id, slug in db.session.execute(select(Tenant.id, Tenant.slug).order_by(Tenant.slug)).all():
            check = CountCheck(slug, kept.get(tenant_id, 0), counted.get(tenant_id, 0))
            if check.kept == check.counted:
                continue
            wrong.append(check)
            if repair:
                db.session.merge(ScimMemberCount(tenant_id=tenant_id, visible=check.counted))
        if not repair:
            db.session.rollback()  # nothing to write: release the lock at once
    return wrong
