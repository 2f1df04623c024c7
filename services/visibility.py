"""What SCIM may see (docs/design.md R1, R3, R8): a tenant's own SCIM-managed members on the member rung, not
deprovisioned. One rule, written in the shapes each kind of statement needs for its planner.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Boolean, ColumnElement, SQLColumnExpression, and_, literal_column
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from models import Role, User, db


def scim_visible(tenant_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """Return the clause for users SCIM may see: its own members on the member rung (R1, R3, R8).

    `tenant_id` is a tenant's id, or an expression for it (a bound parameter of a statement built once).
    """
    if isinstance(tenant_id, int):
        return _scim_visible_in(tenant_id)
    return _scim_visible(tenant_id)


@lru_cache(maxsize=1024)
def _scim_visible_in(tenant_id: int) -> ColumnElement[bool]:
    """The clause for one tenant, built once: clauses are immutable, and SCIM requests build it on every write."""
    return _scim_visible(tenant_id)


def scim_visible_by_id(tenant_id: int) -> ColumnElement[bool]:
    """Return `scim_visible` for users a statement reaches by id (through the cohorts' memberships, say).

    Its tenant term offers no index to start from: SQLite, which keeps no statistics, would otherwise walk every
    member of the tenant and look each one up in the memberships, instead of the other way round.
    """
    return _scim_visible(tenant_id, tenant=User.tenant_id + 0)


def scim_visible_for_list(
    tenant_id: int | ColumnElement[int], *, filtered: bool, dialect: str | None = None
) -> ColumnElement[bool]:
    """Return `scim_visible` in the shape the planner needs for a list (scim/paging.py).

    The rung is written as constants (as everywhere: `_RUNG`), so `ix_users_scim_visible`, a partial index,
    serves the unfiltered list and its count. With a filter, SQLite (which keeps no statistics) would still take
    that index, or the one on (tenant_id, scim_managed, role), for their equality terms and check the filter on
    every member; a unary `+` keeps those columns out of its index choice, so the filter's own index (userName,
    emails...) is taken.
    PostgreSQL plans from its statistics and needs neither. A statement built once, before any engine exists,
    names its `dialect` and passes its tenant as a bound parameter.
    """
    return _scim_visible_for_list(tenant_id, filtered, dialect or db.engine.dialect.name)


@lru_cache(maxsize=1024)
def _scim_visible_for_list(tenant_id: int | ColumnElement[int], filtered: bool, dialect: str) -> ColumnElement[bool]:
    """Built once per tenant and shape, as `_scim_visible_in` is: building it cost a filtered list 10% of its CPU."""
    managed: ColumnElement[bool] = User.scim_managed.expression
    role: ColumnElement[Role] = User.role.expression
    if filtered and dialect == "sqlite":
        managed = UnaryExpression(managed, operator=operators.custom_op("+"), type_=Boolean())
        role = UnaryExpression(role, operator=operators.custom_op("+"))
    return _scim_visible(tenant_id, managed=managed, role=role)


# The rung as constants in the SQL, never as bound values: SQLite uses a partial index only for a query whose WHERE
# repeats the index's own terms, and a list of bound values is an "expanding" parameter, which SQLAlchemy renders
# into the SQL anew on every execution (a tenth of a statement's cost in SQLAlchemy).
_RUNG: list[ColumnElement[Any]] = [literal_column(str(int(step))) for step in Role.SCIM_RUNG]


def _scim_visible(
    tenant_id: int | ColumnElement[int],
    *,
    tenant: SQLColumnExpression[int] = User.tenant_id,
    managed: SQLColumnExpression[bool] = User.scim_managed,
    role: SQLColumnExpression[Role] = User.role,
) -> ColumnElement[bool]:
    """The one visibility rule (R1, R3, R8); the keywords only change how its terms are written for a planner."""
    return and_(tenant == tenant_id, managed.is_(True), role.in_(_RUNG), User.deprovisioned_at.is_(None))
