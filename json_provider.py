"""The app's JSON out: keys in the order the code writes them, serialised by orjson where it can be.

SCIM answers are JSON documents of a few hundred bytes to a few hundred kilobytes (a page of 100 users), and
the standard library's encoder cost a full page 12 % of its CPU; orjson writes the same document several times
faster. What orjson refuses (an integer past 64 bits, a string holding a lone surrogate, a key that is not a
string) and any pretty-printed output go through Flask's own encoder, as before, so nothing that serialised
then fails now. Dates still read as Flask writes them, through Flask's `default`.

The output differs from the standard library's in spelling only: no spaces after `,` and `:`, non-ASCII
characters as UTF-8 rather than `\\u` escapes, and a float NaN or infinity as `null` (the standard library
wrote `NaN`, which is not JSON). Request bodies are still read by the standard library's parser: they are
small, and its errors are the ones scim/wire.py turns into SCIM answers.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_COMPACT = (",", ":")
# Dates, times and datetimes go to `default` (Flask writes them as HTTP dates), not orjson's RFC 3339.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


class InOrderJSON(DefaultJSONProvider):
    """Flask's JSON with keys in the order the code writes them: "schemas" and "id" first, as SCIM examples read."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        # jsonify asks for compact separators, which is how orjson writes; any other argument is Flask's to apply.
        if kwargs.get("separators", _COMPACT) == _COMPACT and kwargs.keys() <= {"separators"}:
            try:
                return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()
            except TypeError:  # orjson.JSONEncodeError is one: what it cannot write, Flask's encoder tries
                pass
        return super().dumps(obj, **kwargs)
