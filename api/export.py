"""`Accept: text/csv` on the request-log endpoints: the same rows as the JSON pages, streamed."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, stream_with_context

from services import request_log
from services.request_log_export import csv_chunks


def csv_response(filters: request_log.Filters, after: int | None, limit: int | None, settle: timedelta) -> Response:
    """Stream every row the JSON pages would hold from `after` on (at most `limit`), oldest first.

    One response for the whole range, read in keyset batches below one settled bound: a month or a
    million rows take the same memory. There is no next link; a poller follows the JSON pages.
    """
    rows = request_log.every_row(filters, after, limit, settle=settle)
    response = Response(stream_with_context(csv_chunks(rows)), mimetype="text/csv")
    response.headers["Vary"] = "Accept"
    return response
