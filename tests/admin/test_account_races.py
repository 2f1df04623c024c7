"""Read-modify-writes on accounts, links and credentials hold under races (R4, R9), on SQLite and PostgreSQL.

Threaded tests send requests at the same moment from their own clients and sessions; the others hold a row
read before another connection committed a change, as a request that read it a moment earlier would.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from models import EmailToken, Role, ScimCredential, User, db, utcnow
from services import accounts, credentials, verification
from services.errors import InvalidInput
from tests.admin import sign_in
from tests.concurrency import run_together
from tests.conftest import ScimClient
from tests.helpers import USER

TRIALS = 4


def invitation(app, admin: User, email: str):
    client = app.test_client()
    sign_in(client, admin)
    return lambda: client.post("/admin/users/invite", data={"email": email}).status_code


def test_racing_invitations_of_one_address_make_one_account(app, tenant, super_admin):
    for trial in range(TRIALS):
        email = f"newcomer{trial}@example.com"
        statuses = sorted(run_together([invitation(app, super_admin, email) for _ in range(6)]))
        assert statuses == [303] + [422] * 5, f"trial {trial}: {statuses}"  # one invited, the others told it exists
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(User).where(User.email_ci == email)) == 1


def test_racing_link_requests_leave_one_live_link(app, tenant):
    user_id = accounts.create_local_user(tenant, "invited@example.com", Role.MEMBER).id
    for trial in range(TRIALS):

        def request_link():
            def job() -> str:
                with app.app_context():
                    return verification.issue(db.session.get(User, user_id), verification.SET_PASSWORD, 1)

            return job

        run_together([request_link() for _ in range(6)])
        db.session.expire_all()
        live = db.session.scalar(
            select(func.count())
            .select_from(EmailToken)
            .where(EmailToken.user_id == user_id, EmailToken.used_at.is_(None), EmailToken.expires_at > utcnow())
        )
        assert live == 1, f"trial {trial}: {live} links work at once; only the newest may"


def confirm(app, token: str):
    client = app.test_client()
    return lambda: client.post(f"/admin/verify/{token}").status_code


def scim_put(app, scim_token: str, path: str, body: dict):
    client = ScimClient(app.test_client(), scim_token)
    return lambda: client.put(path, body).status_code


def test_a_verification_racing_an_email_change_never_verifies_the_new_address(app, tenant, scim_token):
    scim = ScimClient(app.test_client(), scim_token)
    for trial in range(TRIALS * 2):
        old, new = f"old{trial}@corp.example", f"new{trial}@corp.example"
        created = scim.post("/Users", {"schemas": [USER], "userName": old, "emails": [{"value": old}]}).get_json()
        user = db.session.scalar(select(User).where(User.scim_id == created["id"]))
        token = verification.issue(user, verification.VERIFY, 1)
        body = {"schemas": [USER], "userName": old, "emails": [{"value": new}]}
        statuses = run_together([confirm(app, token), scim_put(app, scim_token, f"/Users/{created['id']}", body)])
        assert statuses[1] == 200 and statuses[0] in (200, 400), f"trial {trial}: {statuses}"  # never a 500
        db.session.expire_all()
        row = db.session.get(User, user.id)
        assert row.email_ci == new and row.email_verified_at is None, f"trial {trial}: {statuses}"


def test_enabling_a_credential_revoked_meanwhile_is_refused(tenant):
    credential, _ = credentials.issue(tenant, "Okta")
    credentials.disable(credential)
    held = db.session.get(ScimCredential, credential.id)  # the admin's page showed it disabled, not revoked
    with db.engine.begin() as connection:  # another admin revokes it meanwhile
        connection.execute(update(ScimCredential).where(ScimCredential.id == credential.id).values(revoked_at=utcnow()))
    with pytest.raises(InvalidInput, match="revoked"):
        credentials.enable(held)


def test_marking_an_email_verified_after_a_concurrent_change_applies_on_top_of_it(tenant):
    user = accounts.create_local_user(tenant, "op@example.com", Role.MEMBER)
    held = db.session.get(User, user.id)
    with db.engine.begin() as connection:  # the row changes (and its version moves on) meanwhile
        connection.execute(update(User).where(User.id == user.id).values(display_name="Op", version=User.version + 1))
    accounts.mark_verified(held)  # `flask users verify`: once a StaleDataError, now applied to the row as it is
    db.session.expire_all()
    row = db.session.get(User, user.id)
    assert row.email_verified_at is not None and row.display_name == "Op"
