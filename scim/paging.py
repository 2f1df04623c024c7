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
# window(descending, offset, limit): the rows at [offset, offset + limit) of the list in key order, or counted
# from its end when descending, returned in key order.
Window = Callable[[bool, int, int], list[Row]]


def page_of(offset: int, limit: int, window: Window[Row], count: Callable[[], int]) -> tuple[int, list[Row]]:
    """Return (total, rows) for the slice [offset, offset + limit) of a list that `window` reads and `count` counts.

    A page that is not full is the last one, so its total needs no count.
    """
    if limit <= 0:
        return count(), []
    if offset <= FORWARD_WALK:
        rows = window(False, offset, limit)
        if len(rows) < limit and (rows or offset == 0):
            return offset + len(rows), rows
        return count(), rows
    total = count()
    if offset >= total:
        return total, []
    after = total - offset - limit  # rows past the page
    if after >= offset:
        return total, window(False, offset, limit)
    # The page is nearer the end: step back over the `after` rows past it (none, if the page is the last).
    return total, window(True, max(after, 0), min(limit, total - offset))


def over(
    ids: Select[int], key: ColumnElement[int], load: Callable[[Select[int]], list[Row]]
) -> tuple[Window[Row], Callable[[], int]]:
    """Return the window and the count of the list `ids` selects (the key of every matching row), in `key` order.

    `load(window)` returns the rows whose key `window` (a SELECT of keys) holds, in key order. Both are built per
    request: a filtered list's statement depends on its filter. The unfiltered member list has statements built
    once instead (services/member_reads.visible_window).
    """

    def window(descending: bool, offset: int, limit: int) -> list[Row]:
        return load(ids.order_by(key.desc() if descending else key).offset(offset).limit(limit))

    def count() -> int:
        return db.session.execute(select(func.count()).select_from(ids.subquery())).scalar_one()

    return window, count
