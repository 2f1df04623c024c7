"""Which tenant an API request is for, and which API key it carries."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app, g, request

from api.problems import ApiProblem
from services import api_keys, tenants

REALM = "mobieusLearn API"
# Needs no key: the document says what the API is, nothing about a tenant.
PUBLIC_ENDPOINTS = {"api.openapi_document"}

_P = ParamSpec("_P")
_R = TypeVar("_R")


def authenticate() -> None:
    """Resolve tenant and key for this request or raise the problem that applies.

    A tenant without the SCIM feature answers 404 on every path, with a valid key too (R10); only then is the
    key checked. SCIM credentials are not API keys: `api_keys.find` looks up `ms_api_` tokens only.
    """
    g.api_tenant = g.api_key = None
    tenant = tenants.resolve_host(request.host, current_app.config.get("TENANT_BASE_DOMAIN"))
    if tenant is None or not tenant.learn_scim:
        raise ApiProblem(404, "the request-log API is not enabled for this tenant")
    g.api_tenant = tenant
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    key = api_keys.find(tenant, bearer_token())
    if key is None:
        raise _unauthorized("send an API key of this tenant: Authorization: Bearer ms_api_…")
    state = key.state
    if state != "active":
        raise _unauthorized(f"this API key is {state}")
    g.api_key = key
    api_keys.note_use(key)


def bearer_token() -> str:
    """Return the token of `Authorization: Bearer <t>`, or an empty string."""
    scheme, _, rest = request.headers.get("Authorization", "").strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else ""


def requires(scope: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Let a view run only for keys that carry `scope` (403 insufficient_scope otherwise)."""

    def decorate(view: Callable[_P, _R]) -> Callable[_P, _R]:
        @wraps(view)
        def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            key = g.get("api_key")
            if key is None or scope not in key.scope_list:
                challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
                raise ApiProblem(
                    403,
                    f"this API key lacks the scope {scope}",
                    headers={"WWW-Authenticate": challenge},
                    required_scope=scope,
                )
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, detail, headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'})
