"""Paging a SCIM list (RFC 7644 §3.4.2.4): the ids of one page, and the total every ListResponse carries.

`startIndex` is an offset, so a page deep in the list is found by stepping over the ids before it. The steps
run over ids alone (for the unfiltered member list, an index-only walk of `ix_users_scim_visible`) and only
the page's rows are loaded, by id. A list that starts beyond the first stretch is counted first: a page in
its second half is then walked from the end, so the deepest pages cost what the first ones do. The unfiltered
member list is not counted at all: the database keeps its total (models/member_counts.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, func, select

from models import db

# Up to this offset the ids are walked from the start and the total counted only when the page is full; the
# walk is shorter than a count. Past it the count comes first and tells which end is nearer.
FORWARD_WALK = 1_000


Row = TypeVar("Row")


def page_of(
    ids: Select[int],
    key: ColumnElement[int],
    offset: int,
    limit: int,
    load: Callable[[Select[int]], list[Row]],
    known_total: Callable[[], int] | None = None,
) -> tuple[int, list[Row]]:
    """Return (total, rows) for the slice [offset, offset + limit) of `ids` in `key` order.

    `ids` selects the key of every matching row; `load(window)` returns the rows whose key `window` (a SELECT of
    keys) holds, in key order. A page that is not full is the last one, so its total needs no count. `known_total`,
    when given, says how many rows `ids` selects without counting them (a count the database keeps).
    """

    def count() -> int:
        if known_total is not None:
            return known_total()
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
