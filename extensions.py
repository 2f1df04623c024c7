"""The Flask extensions both interfaces share, created unbound here and bound to the app in create_app.

Kept apart from app.py so that scim/, admin/ and api/ can import them at module level without importing
the application factory (which imports them).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from flask import Flask, request
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
    elsewhere (scim/throttle.py). A limit decorating a view still applies, unless it is counted by response
    (`deduct_when`): its after-request hook skips those paths too (`init_app`). The hook's name is
    Flask-Limiter's own (4.1, pinned in constraints.txt); tests/test_limiter_paths.py fails if its hooks stop
    being called for the paths that are limited, or start being called for the skipped ones.
    """

    def __init__(self, key_func: Callable[[], str]) -> None:
        super().__init__(key_func=key_func)
        self.skipped_paths: list[Callable[[str], bool]] = []

    def skip_paths(self, matches: Callable[[str], bool]) -> None:
        """Leave every request whose path `matches` to its own limits; once per predicate, however many apps."""
        if matches not in self.skipped_paths:
            self.skipped_paths.append(matches)

    def init_app(self, app: Flask) -> None:
        """Bind as Flask-Limiter does; the after-request and teardown hooks it adds leave the skipped paths alone.

        Those hooks add its headers (off here: RATELIMIT_HEADERS_ENABLED) and count a view's conditional limits,
        and a skipped path has neither: they cost 3 % of a SCIM GET for nothing. They are told apart as whatever
        `init_app` added to the app's lists, so nothing here names Flask-Limiter's private methods.
        """
        after = list(app.after_request_funcs.get(None, ()))
        teardown = list(app.teardown_request_funcs.get(None, ()))
        super().init_app(app)
        app.after_request_funcs[None] = [
            hook if hook in after else self._for_limited_paths(hook, passes_on=True)
            for hook in app.after_request_funcs.get(None, ())
        ]
        app.teardown_request_funcs[None] = [
            hook if hook in teardown else self._for_limited_paths(hook, passes_on=False)
            for hook in app.teardown_request_funcs.get(None, ())
        ]

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and self._skips(request.path):
            return
        super()._check_request_limit(callable_name, in_middleware)

    def _skips(self, path: str) -> bool:
        return any(matches(path) for matches in self.skipped_paths)

    def _for_limited_paths(self, hook: Callable[[Any], Any], *, passes_on: bool) -> Callable[[Any], Any]:
        """Wrap one of Flask-Limiter's hooks to run only where its before-request check ran: `passes_on` returns
        what the hook was given (a response) where it is skipped."""

        def hook_unless_skipped(value: Any) -> Any:
            if self._skips(request.path):
                return value if passes_on else None
            return hook(value)

        return hook_unless_skipped


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
