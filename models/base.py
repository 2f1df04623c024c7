"""The database object and what every model shares: the naming convention, timestamps, ids and folded keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, overload

from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import DDL, MetaData, String, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase

from services.identifiers import check_folded_length, fold

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Where a session keeps the engine its reads go to for the rest of the request (`Session.info`), when they do not
# go to the app's own: services/database.read_without_transaction.
READS_ENGINE = "reads_engine"


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, whose statements go to the engine the request chose for its reads, if it did."""

    def get_bind(
        self, mapper: Any = None, clause: Any = None, bind: Engine | Connection | None = None, **kwargs: Any
    ) -> Engine | Connection:
        reads: Engine | None = self.info.get(READS_ENGINE)
        if reads is not None and bind is None:
            return reads
        return super().get_bind(mapper, clause, bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})

# The class every model subclasses. `db.Model` is built when `db` is created (flask-sqlalchemy copies Base's body
# onto its own mixins), so a type checker sees only a variable; it is told the truth that matters to it instead:
# a model is a declarative class with Base's metadata.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def install_with_tables(sqlite: tuple[str, ...], postgresql: tuple[str, ...]) -> None:
    """Run these statements (triggers, their functions) on each database once `create_all` has made every table.

    The schema the suite and a fresh install get is then the one the migrations install from the same text.
    """
    for dialect, statements in (("sqlite", sqlite), ("postgresql", postgresql)):
        for statement in statements:
            ddl = DDL(statement)  # type: ignore[no-untyped-call]  # SQLAlchemy leaves DDL's constructor unannotated
            event.listen(Model.metadata, "after_create", ddl.execute_if(dialect=dialect))


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime (both databases store it alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_scim_id() -> str:
    return str(uuid.uuid4())


@overload
def folded(row: Base, column: str, label: str, value: str) -> str: ...
@overload
def folded(row: Base, column: str, label: str, value: str | None) -> str | None: ...
def folded(row: Base, column: str, label: str, value: str | None) -> str | None:
    """Return `fold(value)` for the shadow column `column`, refusing a key too long for it (named `label`)."""
    if value is None:
        return None
    column_type = row.__table__.c[column].type
    if not isinstance(column_type, String) or column_type.length is None:
        raise TypeError(f"{type(row).__name__}.{column} is not a sized string column")
    check_folded_length(label, value, column_type.length)
    return fold(value)
