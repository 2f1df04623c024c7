"""Helpers shared by the dashboard tests."""

from __future__ import annotations

from admin.context import session_values


def sign_in(client, user, **kwargs) -> None:
    """Give the test client the dashboard session signing in would give `user` (kwargs: e.g. base_url)."""
    with client.session_transaction(**kwargs) as session:
        session.clear()
        session.update(session_values(user))
