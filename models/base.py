"""The database object and what every model shares: the naming convention, timestamps, ids and folded keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
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


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime (both databases store it alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_scim_id() -> str:
    return str(uuid.uuid4())


def folded(row: Base, column: str, label: str, value: str | None) -> str | None:
    """Return `fold(value)` for the shadow column `column`, refusing a key too long for it (named `label`)."""
    if value is None:
        return None
    check_folded_length(label, value, row.__table__.c[column].type.length)
    return fold(value)
