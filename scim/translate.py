"""Domain exceptions rendered as SCIM errors, and small value formatters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from scim import errors
from services import errors as domain


@contextmanager
def domain_errors() -> Iterator[None]:
    """Translate a domain rule violation into the SCIM error a client should see."""
    try:
        yield
    except domain.NotFound as error:
        # One body for "never existed" and "not yours to see" alike (R3); only the request log tells them apart.
        raise errors.NotFound(errors.RESOURCE_NOT_FOUND, failure=error.reason) from error
    except domain.Conflict as error:
        raise errors.Uniqueness(error.message) from error
    except domain.NoSuperAdmin as error:
        raise errors.Unavailable(error.message, failure="no_super_admin") from error
    except domain.ConcurrentChange as error:
        # Lost a write race twice in a row: a conflict the client can simply retry, not bad input.
        raise errors.ScimError(error.message, status=409, failure="concurrent_change") from error
    except domain.DomainError as error:
        raise errors.InvalidValue(error.message) from error


def iso(moment: datetime | None) -> str | None:
    """Format a naive-UTC datetime as RFC 3339 with a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
