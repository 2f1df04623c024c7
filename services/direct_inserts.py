"""A new entity and its children written with plain INSERTs, then kept in the session as if just loaded.

SCIM's create is the hot path's costliest request, and most of its cost was not the database: flushing a new member
and their email through the unit of work (sorting, cascading, post-fetching) took about a third of the request's
CPU, seven times what its two INSERTs cost (README, "ninth round"). Here each row is one INSERT on the
session's own connection, inside its transaction; what the unit of work would have filled in (Python-side
defaults, the primary key, the child's foreign key) is filled in here, and the instances are then attached to the
session as persistent and unchanged, exactly as a SELECT of the same rows would leave them. Later changes to
them, in this transaction or another, go through the unit of work as usual (version checks included).

What stays the unit of work's: anything but new rows, and any mapping this does not cover (a column whose only
default is the server's, which the instance would not know) is refused rather than guessed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Insert, Table, func, insert
from sqlalchemy.orm import Mapper, RelationshipDirection, make_transient_to_detached

from models import db
from models.base import Base
from services import database


def insert_as_loaded(instance: Base) -> None:
    """INSERT a new (transient) instance and the children in its loaded one-to-many collections, then attach them.

    One level: the children's own collections are not walked (a member's emails have none).

    Constraint errors (a unique index) raise from here, inside the caller's transaction, as a flush would.
    """
    session = db.session()
    connection = session.connection()
    mapper = _mapper(type(instance))
    xid = _insert(connection, instance, mapper, with_transaction_id=connection.dialect.name == "postgresql")
    if xid is not None:
        database.note_transaction_id(session, xid)
    children = []
    for relationship, pairs in _collections(mapper):
        for child in instance.__dict__.get(relationship, ()):
            for parent_key, child_key in pairs:
                setattr(child, child_key, getattr(instance, parent_key))
            children.append(child)
    for child in children:
        _insert(connection, child, _mapper(type(child)))
    for each in (instance, *children):
        make_transient_to_detached(each)  # every attribute as committed: nothing dirty, nothing to flush
    session.add(instance)  # cascades to the children: persistent, in the identity map, no INSERT pending


def _insert(connection: Connection, instance: Base, mapper: Mapper[Any], *, with_transaction_id: bool = False) -> Any:
    """INSERT one instance's row and give the instance the primary key the database chose.

    `with_transaction_id` (PostgreSQL): the same statement returns the transaction's id, which settles a COMMIT
    whose answer is lost (scim/commits.py), so the write needs no round trip of its own to ask for it. Writing the
    row gives the transaction its id anyway. Returns that id, or None.
    """
    result = connection.execute(_statement(mapper.local_table, with_transaction_id), _row(instance, mapper))
    if with_transaction_id:
        key, xid = result.one()
    else:
        inserted = result.inserted_primary_key
        if inserted is None:
            raise AssertionError("an INSERT of one row has its primary key")
        key, xid = inserted[0], None
    setattr(instance, _primary_key(mapper), key)
    return xid


def _row(instance: Base, mapper: Mapper[Any]) -> dict[str, Any]:
    """Every column's value but the primary key's: what was set, else its Python default (also set on `instance`)."""
    state = instance.__dict__
    row = {}
    for attribute, column in _columns(mapper):
        if attribute not in state:
            setattr(instance, attribute, _default(column))
        row[column.key] = state[attribute]
    return row


def _default(column: Any) -> Any:
    default = column.default
    if default is None:
        return None
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps a callable that takes no context into one that takes it
    raise TypeError(f"{column}: a SQL expression default is the database's to compute")


def _mapper(model: type[Base]) -> Mapper[Any]:
    mapper: Mapper[Any] = model.__mapper__
    return mapper


@lru_cache(maxsize=16)
def _columns(mapper: Mapper[Any]) -> tuple[tuple[str, Any], ...]:
    """The (attribute, column) pairs a row is written with: every column of the table but its primary key."""
    columns = []
    for column in mapper.local_table.columns:
        if column.primary_key:
            continue
        if column.server_default is not None and column.default is None:
            raise TypeError(f"{column}: only the server knows its default; write this model through the session")
        columns.append((mapper.get_property_by_column(column).key, column))
    return tuple(columns)


@lru_cache(maxsize=16)
def _primary_key(mapper: Mapper[Any]) -> str:
    (column,) = mapper.primary_key
    return mapper.get_property_by_column(column).key


@lru_cache(maxsize=16)
def _collections(mapper: Mapper[Any]) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The one-to-many relationships a save cascades over, each with (parent attribute, child attribute) pairs."""
    found = []
    for relationship in mapper.relationships:
        if relationship.direction is not RelationshipDirection.ONETOMANY or "save-update" not in relationship.cascade:
            continue
        pairs = tuple(
            (mapper.get_property_by_column(local).key, relationship.mapper.get_property_by_column(remote).key)
            for local, remote in relationship.local_remote_pairs
        )
        found.append((relationship.key, pairs))
    return tuple(found)


@lru_cache(maxsize=16)
def _statement(table: Table, with_transaction_id: bool) -> Insert:
    """One INSERT per table and form, built once: the same object each time, so its compiled form is found at once."""
    if with_transaction_id:
        (key,) = table.primary_key.columns
        return insert(table).returning(key, func.txid_current())
    return insert(table)
