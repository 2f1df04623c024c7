"""What a SCIM filter attribute compiles to: a column (`Field`), maybe in child rows (`Related`), or a clause
of its own (`Computed`), gathered per resource type in a `FilterMap` (scim/filter_maps.py declares ours;
scim/filters.py compiles filters against them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, select

from scim.definitions import ResourceType


@dataclass(frozen=True, eq=False)
class Related:
    """A multi-valued complex attribute kept in child rows (RFC 7643 §2.4): a test becomes one IN subquery."""

    tables: tuple[Any, ...]  # the child tables (mapped classes or aliases) the subquery reads
    owner: SQLColumnExpression[Any]  # the outer resource's key, e.g. users.id
    key: SQLColumnExpression[Any]  # the child column holding that key, e.g. user_emails.user_id
    join: ColumnElement[bool] | None = None  # ties further child tables together, when there are several

    def matching(self, criterion: ColumnElement[bool]) -> ColumnElement[bool]:
        """Return `owner IN (SELECT key FROM child WHERE criterion)`.

        An uncorrelated IN lets the database start from the child's index (say, the email value)
        instead of probing every outer row, which a correlated EXISTS makes SQLite do.
        """
        query = select(self.key).where(criterion)
        if self.join is not None:
            query = query.where(self.join)
        return self.owner.in_(query)


@dataclass(frozen=True, eq=False)
class Field:
    """An attribute stored in one column; `folded` means the column holds `services.identifiers.fold` of the value.

    A case-insensitive string (caseExact false, RFC 7643 §2.2) must be mapped to such a folded column: folding
    in SQL would follow each database's own lower(), which on SQLite leaves "É" alone.
    """

    column: SQLColumnExpression[Any]
    kind: str = "string"  # string | boolean | datetime | integer
    case_exact: bool = False
    folded: bool = False
    via: Related | None = None

    def __post_init__(self) -> None:
        if self.kind == "string" and not self.case_exact and not self.folded:
            raise TypeError(f"{self.column} is case-insensitive: map it to a folded column (models fill *_ci ones)")


@dataclass(frozen=True, eq=False)
class Computed:
    """An attribute with no column of its own: `compile(op, value)` for op `eq` or `pr`, never NULL."""

    compile: Callable[[str, Any], ColumnElement[bool]]
    kind: str = "boolean"
    via: Related | None = field(default=None, init=False)


Target = Field | Computed


@dataclass(frozen=True, eq=False)
class FilterMap:
    """What can be filtered on one resource type: lowercased attribute path -> target."""

    resource: ResourceType
    targets: Mapping[str, Target]
