"""The request log as CSV: the API's entries, one line each, written in chunks so memory stays flat."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from services.database import AnyRow
from services.request_log import entry

COLUMNS = (
    "id",
    "time",
    "credential_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "client_ip",
    "user_agent",
    "operations",
    "failure",
    "count",
    "skipped_members",
    "resource_type",
    "resource_id",
)
# A spreadsheet runs a cell that starts with one of these as a formula; a client chooses its User-Agent.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_chunks(rows: Iterable[AnyRow], chunk_rows: int = 1000) -> Iterator[str]:
    """Yield a header line, then the rows as CSV (RFC 4180), about `chunk_rows` lines per chunk.

    Empty cells stand for null; operations are space-separated. A text cell a spreadsheet would take
    for a formula gets a leading apostrophe (OWASP's advice), the one way it can differ from the JSON.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows, 1):
        writer.writerow(csv_values(entry(row)))
        if count % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_values(item: dict[str, Any]) -> list[Any]:
    """Return one entry's cells in COLUMNS order."""
    values = []
    for column in COLUMNS:
        value = item[column]
        if value is None:
            value = ""
        elif column == "operations":
            value = " ".join(value)
        elif isinstance(value, str) and value.startswith(_FORMULA_START):
            value = "'" + value
        values.append(value)
    return values
