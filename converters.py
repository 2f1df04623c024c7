"""The `id` URL converter: a row id in a path, as the database can hold it."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

# Every primary key is an INTEGER column (SQLite and PostgreSQL alike): a larger number names no row,
# so the route does not match and the request answers 404 before any query is made.
DATABASE_INTEGER_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """Match `<id:name>`: a positive whole number within the database integer, else no match (404)."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=DATABASE_INTEGER_MAX)


def init_app(app: Flask) -> None:
    """Register the converter: before the blueprints, whose routes are built when they are registered."""
    app.url_map.converters["id"] = IdConverter
