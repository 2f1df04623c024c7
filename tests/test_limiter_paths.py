"""Flask-Limiter's per-request hook: skipped for SCIM paths (scim/throttle.py limits those), run for the rest."""

from __future__ import annotations

import pytest
from flask import request
from flask_limiter import Limiter

from extensions import limiter
from scim import is_scim_path
from tests.conftest import ScimClient


@pytest.fixture
def hook_calls(monkeypatch) -> list[str]:
    """Record each path Flask-Limiter's own before-request check runs for."""
    calls: list[str] = []
    original = Limiter._check_request_limit

    def spy(self, callable_name=None, in_middleware=True):
        if in_middleware:
            calls.append(request.path)
        return original(self, callable_name, in_middleware)

    monkeypatch.setattr(Limiter, "_check_request_limit", spy)
    return calls


@pytest.fixture
def later_hook_calls(monkeypatch) -> list[tuple[str, str]]:
    """Record each path Flask-Limiter's after-request and teardown hooks run for (bound when the app is made)."""
    calls: list[tuple[str, str]] = []
    inject, release = Limiter._Limiter__inject_headers, Limiter._Limiter__release_context  # type: ignore[attr-defined]

    def inject_spy(self, response):
        calls.append(("after", request.path))
        return inject(self, response)

    def release_spy(self, error=None):
        calls.append(("teardown", request.path))
        return release(self, error)

    monkeypatch.setattr(Limiter, "_Limiter__inject_headers", inject_spy)
    monkeypatch.setattr(Limiter, "_Limiter__release_context", release_spy)
    return calls


@pytest.fixture
def limited_client(make_app, tenant, hook_calls, later_hook_calls):
    """A client of an app whose limits are on, as in production (the suite turns them off elsewhere).

    Made after the spy is in place: Flask-Limiter binds its hook when the app is made.
    """
    return make_app(RATELIMIT_ENABLED=True).test_client()


def test_scim_requests_never_reach_flask_limiters_hook(limited_client, scim_token, hook_calls):
    scim = ScimClient(limited_client, scim_token)
    assert scim.get("/Users").status_code == 200
    assert scim.get("/Users/unknown").status_code == 404
    assert scim.get("/ServiceProviderConfig").status_code == 200
    assert hook_calls == []


def test_every_other_path_still_goes_through_it(limited_client, hook_calls):
    for path in ("/admin/login", "/api/v1/openapi.json", "/scim/v2-not-scim"):
        limited_client.get(path, headers={"Host": "localhost"})
    assert hook_calls == ["/admin/login", "/api/v1/openapi.json", "/scim/v2-not-scim"]


def test_scim_requests_skip_its_after_request_and_teardown_hooks_too(limited_client, scim_token, later_hook_calls):
    scim = ScimClient(limited_client, scim_token)
    response = scim.get("/Users")
    assert response.status_code == 200 and response.mimetype == "application/scim+json"
    assert scim.get("/NoSuchThing").status_code == 404
    assert later_hook_calls == []


def test_other_paths_still_get_them_with_the_response_intact(limited_client, later_hook_calls):
    response = limited_client.get("/admin/login", headers={"Host": "localhost"})
    assert response.status_code == 200 and b"<form" in response.data
    assert later_hook_calls == [("after", "/admin/login"), ("teardown", "/admin/login")]


def test_the_skip_is_registered_once_however_many_apps(make_app):
    make_app()
    make_app()
    assert limiter.skipped_paths.count(is_scim_path) == 1
