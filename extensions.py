"""The Flask extensions both interfaces share, created unbound here and bound to the app in create_app.

Kept apart from app.py so that scim/, admin/ and api/ can import them at module level without importing
the application factory (which imports them).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

import ratelimit_storage  # noqa: F401 - registers the memory:// store the limiter uses

csrf = CSRFProtect()
migrate = Migrate()
htmx = Htmx()
# One limiter for both interfaces (failed sign-ins, SCIM requests per credential); its storage is
# RATELIMIT_STORAGE_URI: memory:// counts per process, redis:// shares counts across workers and hosts.


class PathSkippingLimiter(Limiter):
    """Flask-Limiter, told which request paths its before-request hook leaves alone from the start.

    A `request_filter` exempts a request too, but only once the hook has looked up the view's limits and
    evaluated the empty set that leaves: 5 % of a SCIM GET's CPU, on a path whose limits are counted
    elsewhere (scim/throttle.py). Only the hook skips: a limit decorating a view still applies. The hook's
    name is Flask-Limiter's own (4.1, pinned in constraints.txt); tests/test_limiter_paths.py fails if
    it stops being called for the paths that are limited, or starts being called for the skipped ones.
    """

    def __init__(self, key_func: Callable[[], str]) -> None:
        super().__init__(key_func=key_func)
        self.skipped_paths: list[Callable[[str], bool]] = []

    def skip_paths(self, matches: Callable[[str], bool]) -> None:
        """Leave every request whose path `matches` to its own limits; once per predicate, however many apps."""
        if matches not in self.skipped_paths:
            self.skipped_paths.append(matches)

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and any(matches(request.path) for matches in self.skipped_paths):
            return
        super()._check_request_limit(callable_name, in_middleware)


limiter = PathSkippingLimiter(key_func=get_remote_address)
# The block one IPv6 subscriber usually gets: a client can rotate addresses inside it at will.
IPV6_BLOCK = 64


def client_key(address: str | None) -> str:
    """Return the throttle key of a client address: IPv4 as is, IPv6 by its /64.

    Beside the limiter because both interfaces key by it: failed sign-ins, failed SCIM authentications,
    and the request log's per-address counts.
    """
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_BLOCK), strict=False))
    return str(ip)
