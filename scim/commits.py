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
from dataclasses import dataclass, field
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


# Where a session keeps the answer its open `answered_at_commit` block waits for (in `Session.info`).
_PENDING = "scim.answered_at_commit"


@dataclass
class _Pending(Generic[T]):
    """One `answered_at_commit` block's request: what to build, from what, and where the result goes."""

    build: Callable[[Any], T] | None
    target: Any
    outcome: Outcome[T]
    created: list[Any] = field(default_factory=list)


@contextmanager
def answered_at_commit(build: Callable[[Any], T] | None = None, target: Any = None) -> Iterator[Outcome[T]]:
    """Run `build(target)` just before the write in this block commits; its result is `Outcome.value`.

    `target` is the object the write changes, or the model class of one it creates: the first new
    instance of that class added to the session is then passed to `build`.
    """
    outcome: Outcome[T] = Outcome()
    session = db.session()
    if _PENDING in session.info:
        raise AssertionError("answered_at_commit blocks do not nest: the outer one's COMMIT answers")
    session.info[_PENDING] = _Pending(build, target, outcome)
    try:
        yield outcome
    except Exception as error:
        if outcome.xid is None or not database.unavailable(error) or not database.committed(outcome.xid):
            raise
        database.discard(session)
        log.warning("a COMMIT's reply was lost with its connection; the write had committed and is answered as done")
    finally:
        session.info.pop(_PENDING, None)


# Listened for once, on every session, rather than added and removed on the one session around each write:
# SQLAlchemy's event registry made that pair cost a SCIM write 40-50 us. Sessions with no open block return at once.
# A new instance arrives one of two ways: added to be flushed (transient to pending), or already INSERTed and
# attached as loaded (detached to persistent: services/direct_inserts.py, a member's create).
@event.listens_for(Session, "transient_to_pending")
@event.listens_for(Session, "detached_to_persistent")
def _added(session: Session, instance: Any) -> None:
    pending = session.info.get(_PENDING)
    if pending is None or pending.created or not isinstance(pending.target, type):
        return
    if isinstance(instance, pending.target):
        pending.created.append(instance)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if pending is None:
        return
    outcome = pending.outcome
    outcome.xid = None
    session.flush()  # ids, defaults and version checks first, as COMMIT would
    if pending.build is not None:
        outcome.value = pending.build(pending.created[0] if isinstance(pending.target, type) else pending.target)
    outcome.xid = database.transaction_id(session)
