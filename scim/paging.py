"""Paging a SCIM list (RFC 7644 §3.4.2.4): the ids of one page, and the total every ListResponse carries.

`startIndex` is an offset, so a page deep in the list is found by stepping over the ids before it. The steps
run over ids alone (for the unfiltered member list, an index-only walk of `ix_users_scim_visible`) and only
the page's rows are loaded, by id. A list that starts beyond the first stretch is counted first: a page in
its second half is then walked from the end, so the deepest pages cost what the first ones do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Boolean, ColumnElement, Select, and_, func, literal_column, select
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from models import Role, User, db

# Up to this offset the ids are walked from the start and the total counted only when the page is full; the
# walk is shorter than a count. Past it the count comes first and tells which end is nearer.
FORWARD_WALK = 1_000


def visible_users(tenant_id: int, *, filtered: bool) -> ColumnElement[bool]:
    """Return services.provisioning.scim_visible in the shape the planner needs for a list (R1, R3, R8).

    The rung is written as constants, not bound values: SQLite uses a partial index only for a query whose
    WHERE repeats the index's own terms, so `ix_users_scim_visible` serves the unfiltered list and its count.
    With a filter, SQLite (which keeps no statistics) would still take that index, or the one on
    (tenant_id, scim_managed, role), for their equality terms and check the filter on every member; a unary
    `+` keeps those columns out of its index choice, so the filter's own index (userName, emails...) is taken.
    PostgreSQL plans from its statistics and needs neither.
    """
    # The mapped columns as SQL expressions, which a UnaryExpression wraps.
    managed: ColumnElement[bool] = User.scim_managed.expression
    role: ColumnElement[Role] = User.role.expression
    if filtered and db.engine.dialect.name == "sqlite":
        managed = UnaryExpression(managed, operator=operators.custom_op("+"), type_=Boolean())
        role = UnaryExpression(role, operator=operators.custom_op("+"))
    return and_(
        User.tenant_id == tenant_id,
        managed.is_(True),
        role.in_([literal_column(str(int(rung))) for rung in Role.SCIM_RUNG]),
        User.deprovisioned_at.is_(None),
    )


Row = TypeVar("Row")


def page_of(
    ids: Select[int], key: ColumnElement[int], offset: int, limit: int, load: Callable[[Select[int]], list[Row]]
) -> tuple[int, list[Row]]:
    """Return (total, rows) for the slice [offset, offset + limit) of `ids` in `key` order.

    `ids` selects the key of every matching row; `load(window)` returns the rows whose key `window` (a SELECT of
    keys) holds, in key order. A page that is not full is the last one, so its total needs no count.
    """

    def count() -> int:
        return db.session.execute(select(func.count()).select_from(ids.subquery())).scalar_one()

    if limit <= 0:
        return count(), []
    if offset <= FORWARD_WALK:
        rows = load(ids.order_by(key).offset(offset).limit(limit))
        if len(rows) < limit and (rows or offset == 0):
            return offset + len(rows), rows
        return count(), rows
    total = count()
    if offset >= total:
        return total, []
    after = total - offset - limit  # rows past the page
    if after >= offset:
        return total, load(ids.order_by(key).offset(offset).limit(limit))
    # The page is nearer the end: step back over the `after` rows past it (none, if the page is the last).
    return total, load(ids.order_by(key.desc()).offset(max(after, 0)).limit(min(limit, total - offset)))
