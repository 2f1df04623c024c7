"""The app asks once per hook and view whether it is a coroutine function (app._App.ensure_sync)."""

from __future__ import annotations

import flask.app
import pytest


@pytest.fixture
def coroutine_checks(app, monkeypatch) -> list[object]:
    """Record each function Flask asks `iscoroutinefunction` about, from an empty memo (restored afterwards)."""
    monkeypatch.setattr(app, "_sync_memo", {})
    asked: list[object] = []
    original = flask.app.iscoroutinefunction

    def spy(func):
        asked.append(func)
        return original(func)

    monkeypatch.setattr(flask.app, "iscoroutinefunction", spy)
    return asked


def test_each_hook_is_asked_about_once_however_many_requests(scim, coroutine_checks):
    assert scim.get("/Users").status_code == 200
    first = len(coroutine_checks)
    assert first >= 5  # the hooks and the view of a SCIM request were asked about

    for _ in range(3):
        assert scim.get("/Users").status_code == 200
    assert len(coroutine_checks) == first


def test_a_memo_answer_is_flasks_own(app, coroutine_checks):
    def view() -> str:
        return "ok"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view


def test_functions_made_per_request_do_not_grow_the_memo_past_its_limit(app, coroutine_checks):
    for _ in range(app._MEMO_LIMIT + 50):
        app.ensure_sync(lambda: None)
    assert len(app._sync_memo) <= app._MEMO_LIMIT
    assert len(coroutine_checks) == app._MEMO_LIMIT + 50  # past the limit, each is asked about as Flask would


def test_an_unhashable_callable_is_still_answered(app, coroutine_checks):
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> str:
            return "ok"

    handler = Unhashable()
    assert app.ensure_sync(handler) is handler
