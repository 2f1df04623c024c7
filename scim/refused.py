"""What a refused write to a hidden member asked for: noticed server-side, never shown to the IdP (R3).

A PUT, PATCH or DELETE on a member promoted past role 2 answers the same 404 as an unknown id. When it was
a deactivation or a deletion, services.offboarding records it so the dashboard can show it; the body is read
only far enough to know what it asked (`active` in Okta's or Entra's dialect), and nothing is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from flask import g

from models import User
from scim import errors
from scim.definitions import USER_RESOURCE
from scim.patch import apply_patch
from services import offboarding
from services.errors import DomainError


@contextmanager
def noticed(scim_id: str, intent: Callable[[User], str | None]) -> Iterator[None]:
    """Let a 404 for a user hidden from SCIM through unchanged, after recording what the request meant."""
    try:
        yield
    except errors.NotFound as error:
        if error.failure == "not_visible":  # a live account of this tenant; the service checks the rest
            _record(scim_id, intent)
        raise


def _record(scim_id: str, intent: Callable[[User], str | None]) -> None:
    from admin.context import after_response  # the mail goes out after the answer, as the dashboard's do
    from admin.offboarding import notify_super_admins

    credential = g.get("scim_credential")
    opened = offboarding.note_refused(
        g.scim_tenant.id, scim_id, _quiet(intent), credential.id if credential is not None else None
    )
    if opened is not None:
        after_response(partial(notify_super_admins, opened))


def _quiet(intent: Callable[[User], str | None]) -> Callable[[User], str | None]:
    """A body that would have been refused asked for nothing: its 404 is all the IdP gets."""

    def read(user: User) -> str | None:
        try:
            return intent(user)
        except (errors.ScimError, DomainError):
            return None

    return read


def from_active(active: bool | None) -> str | None:
    """Return what an `active` value asks for: a deactivation, a reactivation, or nothing."""
    if active is None:
        return None
    return offboarding.REACTIVATE if active else offboarding.DEACTIVATE


def patch_intent(resource: dict[str, Any], operations: list[Any]) -> str | None:
    """Return what PATCH operations ask of `active`, applied to the member's resource without it.

    `active` is left out first, so only operations that set it explicitly count: Okta's path-less
    `{"active": false}`, Entra's `"path": "active", "value": "False"`, and a value path alike.
    """
    before = {k: v for k, v in resource.items() if k != "active"}
    after = apply_patch(before, operations, USER_RESOURCE)
    active = after.get("active")
    return from_active(active if isinstance(active, bool) else None)


def deletion(_user: User) -> str:
    """A DELETE asks for a deletion, whatever the member looks like."""
    return offboarding.DELETE
