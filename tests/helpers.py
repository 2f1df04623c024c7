"""Constants and small helpers the test modules share (fixtures live in the conftest.py files).

The SCIM URNs are spelled out here rather than imported from the app, so a typo in the app's own constants
shows as a failing test instead of agreeing with itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from models import User, db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

REDIS_URL = "redis://127.0.0.1:6379/0"


def reread(model, row_id):
    """Read a row afresh from the database (the test shares the app's session); None once it is gone."""
    db.session.expire_all()
    return db.session.get(model, row_id)


def fresh(user_id: int) -> User | None:
    """Read a user afresh from the database."""
    return reread(User, user_id)


def subprocess_env(**settings: str) -> dict[str, str]:
    """This process's environment without the app's settings, plus `settings`: for running the app as an operator."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MOBIEUS_", "FLASK_", "TEST_DATABASE_URL"))
        and name not in ("DATABASE_URL", "SECRET_KEY", "TENANT_BASE_DOMAIN", "INSTANCE_PATH")
    }
    return env | settings


def require_redis():
    """A client of the local Redis (at REDIS_URL), or skip the test with the reason when no Redis answers there."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("needs Redis at 127.0.0.1:6379 to share limiter counts")
    return client


@contextmanager
def driver_statements(
    engines: Iterable[Engine],
    before: Callable[[Any, str], None],
    *,
    after: Callable[[Any, str], None] | None = None,
) -> Iterator[None]:
    """Call `before(cursor, statement)` ahead of every statement the engines' dialects hand their drivers (and
    `after` once the driver has run it).

    Watched where the dialect executes, not through the engine's cursor events: the request log's row is written
    below SQLAlchemy's Connection (services/driver_writes.py), and must be seen (and broken) like any other.
    """
    dialects = {id(engine.dialect): engine.dialect for engine in engines}.values()
    replaced = [(dialect, name, vars(dialect).get(name)) for dialect in dialects for name in _DRIVER_CALLS]
    for dialect, name, _ in replaced:
        original = getattr(dialect, name)

        def watched(cursor, statement, *args, _original=original, **kwargs):
            before(cursor, statement)
            result = _original(cursor, statement, *args, **kwargs)
            if after is not None:
                after(cursor, statement)
            return result

        setattr(dialect, name, watched)
    try:
        yield
    finally:
        for dialect, name, previous in reversed(replaced):  # as they were, so such watches can nest
            if previous is None:
                delattr(dialect, name)
            else:
                setattr(dialect, name, previous)


# The dialect methods through which SQLAlchemy, and services/driver_writes.py, hand a statement to the driver.
_DRIVER_CALLS = ("do_execute", "do_executemany", "do_execute_no_params")
