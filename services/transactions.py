"""Write transactions: a read-modify-write whose reads no other writer can change before it commits.

Every use case that reads rows, decides, and writes runs inside `write_transaction()`:

- SQLite allows one writer at a time, but pysqlite starts a transaction only at the first INSERT, UPDATE
  or DELETE, so the reads before it are not isolated: two requests can both read "two super-admins" and
  both demote one. Here the transaction starts with `BEGIN IMMEDIATE`, which takes the write lock before
  the first read (waiting up to the busy timeout) and keeps it until commit. Plain reads outside such a
  block are untouched: a GET never takes the write lock.
- PostgreSQL runs READ COMMITTED; inside the block, `lock_row` and `for_write` take row locks on the rows
  the decision rests on (a tenant for its super-admin count, a cohort for its members, a user for its
  profile). On SQLite they add nothing: the whole database is already locked for this writer.

The block commits at its end and rolls back on any exception. A block inside another joins it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import db
from models.base import Base
from services.database import AnySelect, driver_in_transaction, reads_without_transaction

_ACTIVE = "write_transaction"
S = TypeVar("S", bound="AnySelect")


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run the block as one isolated write transaction; commit at its end, roll back on any error.

    Changes the session holds but has not committed become part of it; every row read earlier is read afresh.
    """
    session = db.session()
    if session.info.get(_ACTIVE):
        yield  # the outer block owns the transaction
        return
    _begin(session)
    session.info[_ACTIVE] = True
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_ACTIVE, None)


def _begin(session: Session) -> None:
    if reads_without_transaction(session):
        raise AssertionError("a request that reads on autocommit connections does not write")
    connection = session.connection()
    # pysqlite began no transaction while only SELECTs ran (each ran on its own): take the write lock now. If it
    # has begun one, a write ran in it, which already holds SQLite's write lock until the commit.
    if connection.dialect.name == "sqlite" and not driver_in_transaction(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    session.flush()
    # What the request read before now may be stale: inside the block every row is read afresh.
    session.expire_all()


def in_write_transaction() -> bool:
    """Tell whether the current session is inside `write_transaction()`."""
    return bool(db.session().info.get(_ACTIVE))


def _require_transaction() -> None:
    if not in_write_transaction():
        # On SQLite a row lock outside the write transaction would hold nothing at all.
        raise RuntimeError("row locks are only taken inside write_transaction()")


def lock_row(model: type[Base], row_id: int, *, shared: bool = False) -> None:
    """Lock one row until the write transaction ends (PostgreSQL; SQLite's write lock already covers it).

    Exclusive is FOR NO KEY UPDATE: other writers of the row wait, but inserts of rows that reference it
    (their foreign-key checks take FOR KEY SHARE) do not. `shared` is FOR SHARE: many holders at once,
    and only the exclusive lockers wait.
    """
    _require_transaction()
    if db.session.get_bind().dialect.name != "postgresql":
        return
    column = model.__mapper__.primary_key[0]
    db.session.execute(select(column).where(column == row_id).with_for_update(read=shared, key_share=not shared))


def for_write(statement: S, *of: type[Base]) -> S:
    """Return the SELECT with FOR NO KEY UPDATE (of `of`, default every table), for rows about to change."""
    _require_transaction()
    return statement.with_for_update(key_share=True, of=list(of) or None)
