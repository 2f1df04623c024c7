"""A SCIM write and a dashboard role change that race never silently undo each other."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from models import Role, User, db
from services import accounts, provisioning, roles
from services.errors import EmailNotVerified, NotFound
from tests.helpers import fresh


def scim_member(tenant, name: str = "racer@example.com") -> User:
    return provisioning.create_scim_user(tenant, provisioning.ScimProfile(user_name=name, emails=[{"value": name}]))


def concurrently(user_id: int, **values) -> None:
    """Commit a change to the row on another connection, as a second request would."""
    with db.engine.begin() as connection:
        connection.execute(update(User).where(User.id == user_id).values(version=User.version + 1, **values))


def test_promotion_during_a_scim_deactivation_wins_and_scim_gets_404(tenant):
    user = scim_member(tenant)
    held = provisioning.get_scim_user(tenant, user.scim_id)  # the IdP's request has read the row
    concurrently(user.id, role=Role.ADMIN, email_verified_at=user.created_at)  # an admin promotes meanwhile
    with pytest.raises(NotFound):
        provisioning.replace_scim_user(held, provisioning.ScimProfile(user_name="racer@example.com", active=False))
    assert fresh(user.id).role == Role.ADMIN


def test_scim_write_after_an_unrelated_concurrent_change_is_applied_once_more(tenant):
    user = scim_member(tenant)
    held = provisioning.get_scim_user(tenant, user.scim_id)
    concurrently(user.id, display_name="Changed elsewhere")
    theirs = db.session.scalar(select(User.version).where(User.id == user.id))
    provisioning.replace_scim_user(held, provisioning.ScimProfile(user_name="racer@example.com", active=False))
    row = fresh(user.id)
    assert row.role == Role.BANNED
    assert row.version > theirs  # written on top of the other change, after re-reading it


def test_deprovision_racing_a_promotion_leaves_the_promoted_account_alone(tenant):
    user = scim_member(tenant)
    held = provisioning.get_scim_user(tenant, user.scim_id)
    concurrently(user.id, role=Role.MODERATOR, email_verified_at=user.created_at)
    with pytest.raises(NotFound):
        provisioning.deprovision(held)
    row = fresh(user.id)
    assert row.role == Role.MODERATOR and row.deprovisioned_at is None


def test_dashboard_role_change_after_a_concurrent_change_applies_on_top_of_it(tenant):
    user = accounts.create_local_user(tenant, "local@example.com", Role.MEMBER, verified=True)
    held = db.session.get(User, user.id)  # the admin's page was rendered from this
    concurrently(user.id, display_name="Renamed by someone else")
    roles.set_role(held, Role.MODERATOR)  # re-read under the lock, so the rename is not undone
    row = fresh(user.id)
    assert row.role == Role.MODERATOR and row.display_name == "Renamed by someone else"


def test_dashboard_role_change_is_checked_against_the_account_as_it_is_now(tenant):
    user = accounts.create_local_user(tenant, "local@example.com", Role.MEMBER, verified=True)
    held = db.session.get(User, user.id)
    concurrently(user.id, email_verified_at=None)  # the address became unverified meanwhile
    with pytest.raises(EmailNotVerified):
        roles.set_role(held, Role.MODERATOR)  # R4, on the row as it is, not as it was read
    assert fresh(user.id).role == Role.MEMBER


def test_a_scim_write_that_loses_twice_is_a_409_to_retry(scim, monkeypatch):
    from sqlalchemy.orm.exc import StaleDataError

    created = scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "r@x.org"})
    scim_id = created.get_json()["id"]

    def always_stale():
        raise StaleDataError("simulated lost race")

    monkeypatch.setattr(provisioning, "_flush", always_stale)
    response = scim.patch(f"/Users/{scim_id}", {"Operations": [{"op": "replace", "path": "active", "value": False}]})
    assert response.status_code == 409
    assert response.get_json()["status"] == "409" and "retry" in response.get_json()["detail"]
