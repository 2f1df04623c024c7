"""Answers to SCIM writes that a lost database connection cannot turn into a false failure.

A write's answer is built inside its own transaction, just before COMMIT, so nothing has to be read
after it: a connection that dies once the write is committed cannot fail the answer. If the
connection dies during COMMIT itself, the write may or may not have committed; on PostgreSQL the
transaction's id, noted before COMMIT, settles it from a fresh connection (txid_status), and a
committed write is answered as done. A write that did not commit, or whose fate stays unknown,
raises as before: the client gets a 503 and retries, which PUT, PATCH and DELETE tolerate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

import logsafe
from models import db
from services import database

log = logsafe.logger(__name__)

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What the write's transaction held just before COMMIT: the answer's content and its id."""

    value: T | None = None
    xid: int | None = None

    def built(self) -> T:
        """Return what `build` made: a block that ended without an error reached its COMMIT, so `build` ran."""
        if self.value is None:
            raise AssertionError("a write answered at its commit has its answer built")
        return self.value


@contextmanager
def answered_at_commit(build: Callable[[Any], T] | None = None, target: Any = None) -> Iterator[Outcome[T]]:
    """Run `build(target)` just before the write in this block commits; its result is `Outcome.value`.

    `target` is the object the write changes, or the model class of one it creates: the first new
    instance of that class added to the session is then passed to `build`.
    """
    outcome: Outcome[T] = Outcome()
    session = db.session()
    created: list[Any] = []

    def added(_session: Session, instance: Any) -> None:
        if isinstance(target, type) and isinstance(instance, target) and not created:
            created.append(instance)

    def before_commit(sess: Session) -> None:
        outcome.xid = None
        sess.flush()  # ids, defaults and version checks first, as COMMIT would
        if build is not None:
            outcome.value = build(created[0] if isinstance(target, type) else target)
        outcome.xid = database.transaction_id(sess)

    event.listen(session, "transient_to_pending", added)
    event.listen(session, "before_commit", before_commit)
    try:
        yield outcome
    except Exception as error:
        if outcome.xid is None or not database.unavailable(error) or not database.committed(outcome.xid):
            raise
        database.discard(session)
        log.warning("a COMMIT's reply was lost with its connection; the write had committed and is answered as done")
    finally:
        event.remove(session, "before_commit", before_commit)
        event.remove(session, "transient_to_pending", added)
