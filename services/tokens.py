"""Random link and API tokens, and the one form every one of them is stored in (docs/design.md §9).

Each token carries at least 256 random bits, so a single SHA-256 is enough to store it: no one can
guess a token from its digest, and bcrypt (for human passwords) would cap SCIM throughput.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token(nbytes: int) -> str:
    """Return a URL-safe token of `nbytes` random bytes."""
    return secrets.token_urlsafe(nbytes)


def digest(token: str) -> str:
    """Return the stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
