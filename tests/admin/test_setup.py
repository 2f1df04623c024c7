"""First run: `flask bootstrap` prints a one-time link that creates the first super-admin, and only once."""

from __future__ import annotations

import json
import re
import stat

import pytest
from sqlalchemy import select

from models import Role, User, db
from services import accounts, setup, tokens
from services.errors import Conflict, NotFound

GOOD = {"email": "founder@example.com", "password": "a-long-secret", "confirm": "a-long-secret"}
SAME_ORIGIN = {"Referer": "https://localhost/admin/setup"}


@pytest.fixture
def store(tmp_path):
    return tmp_path / "setup-token.json"


@pytest.fixture
def setup_app(make_app, app, store):
    """The app with its setup token file in a temporary folder (never the real instance/)."""
    return make_app(SETUP_TOKEN_FILE=str(store))


def bootstrap(setup_app, port: int = 5055) -> list[str]:
    # Inside this app's context: otherwise the command runs in the suite's app, whose token file is instance/.
    with setup_app.app_context():
        result = setup_app.test_cli_runner().invoke(args=["bootstrap", "--port", str(port)])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()


def link_path(lines: list[str]) -> str:
    match = re.fullmatch(r"http://127\.0\.0\.1:5055(/admin/setup/[\w-]+)", lines[-1])
    assert match, lines
    return match.group(1)


def users() -> list[User]:
    db.session.expire_all()
    return list(db.session.scalars(select(User)))


# --- bootstrap ------------------------------------------------------------------------------------------


def test_bootstrap_without_an_admin_prints_a_single_use_link_and_stores_only_its_hash(setup_app, store):
    lines = bootstrap(setup_app)
    assert lines[0] == "tenant 'default' created (SCIM on)"
    assert "single use" in lines[1] and "expires in 60 min" in lines[1]
    token = link_path(lines).rsplit("/", 1)[1]
    assert len(token) >= 40
    record = json.loads(store.read_text())
    assert token not in store.read_text()
    assert set(record) == {"tenant_id", "token_sha256", "expires_at"}
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_bootstrap_with_an_admin_prints_the_sign_in_link_and_no_setup_link(setup_app, store, super_admin):
    lines = bootstrap(setup_app)
    assert lines == ["tenant 'default' ready (SCIM on)", "sign in at:", "http://127.0.0.1:5055/admin/login"]
    assert not store.exists()


def test_bootstrap_again_replaces_the_earlier_link(setup_app):
    first = link_path(bootstrap(setup_app))
    second = link_path(bootstrap(setup_app))
    client = setup_app.test_client()
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


# --- the link -------------------------------------------------------------------------------------------


def test_the_link_creates_a_verified_super_admin_who_is_signed_in_and_then_stops_working(setup_app, store):
    path = link_path(bootstrap(setup_app))
    client = setup_app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    assert "Create the first super-admin" in page.get_data(as_text=True)

    response = client.post(path, data=GOOD)
    assert response.status_code == 302 and response.location == "/admin/"
    [user] = users()
    assert (user.email, user.role, user.email_verified, user.scim_managed) == (
        "founder@example.com",
        Role.SUPER_ADMIN,
        True,
        False,
    )
    assert accounts.check_password(user, "a-long-secret")
    assert client.get("/admin/learn/scim-credentials").status_code == 200  # signed in at once
    assert not store.exists()

    again = setup_app.test_client().get(path)
    assert again.status_code == 404
    assert "This setup link does not work" in again.get_data(as_text=True)
    assert setup_app.test_client().post(path, data={**GOOD, "email": "second@example.com"}).status_code == 404
    assert len(users()) == 1


def test_a_wrong_token_is_not_found(setup_app):
    path = link_path(bootstrap(setup_app))
    client = setup_app.test_client()
    assert client.get(path[:-2] + "xx").status_code == 404
    assert client.post(path[:-2] + "xx", data=GOOD).status_code == 404
    assert users() == []


def test_an_expired_link_is_not_found(setup_app, tenant, store):
    token = setup.issue_link_token(tenant, store, minutes=-1)
    assert setup_app.test_client().get(f"/admin/setup/{token}").status_code == 404


def test_the_link_stops_working_once_any_admin_exists(setup_app, tenant, store):
    token = setup.issue_link_token(tenant, store)
    accounts.create_local_user(tenant, "admin@example.com", Role.ADMIN, password="pw-admin-12", verified=True)
    client = setup_app.test_client()
    assert client.get(f"/admin/setup/{token}").status_code == 404
    assert client.post(f"/admin/setup/{token}", data=GOOD).status_code == 404
    assert [u.email for u in users()] == ["admin@example.com"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**GOOD, "email": "not-an-email"}, "Enter an email address like name@example.com."),
        ({**GOOD, "email": "a\x01b@example.com"}, "Enter an email address like name@example.com."),
        ({**GOOD, "email": "a@example.com, b@example.com"}, "Enter an email address like name@example.com."),
        ({**GOOD, "password": "short", "confirm": "short"}, "Use at least 10 characters."),
        ({**GOOD, "confirm": "something-else"}, "The passwords differ."),
        ({**GOOD, "password": "é" * 40, "confirm": "é" * 40}, "Use at most 72 bytes"),
    ],
    ids=["email", "control-character", "two-addresses", "short", "mismatch", "over-72-bytes"],
)
def test_invalid_input_keeps_the_link_usable(setup_app, tenant, store, data, message):
    token = setup.issue_link_token(tenant, store)
    client = setup_app.test_client()
    response = client.post(f"/admin/setup/{token}", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert users() == []
    assert client.post(f"/admin/setup/{token}", data=GOOD).status_code == 302


def test_the_setup_page_is_never_cached_nor_sent_as_a_referer(setup_app, tenant, store):
    token = setup.issue_link_token(tenant, store)
    client = setup_app.test_client()
    for response in (
        client.get(f"/admin/setup/{token}"),
        client.post(f"/admin/setup/{token}", data={**GOOD, "confirm": "differs"}),
        client.get(f"/admin/setup/{token}xx"),
    ):
        assert response.status_code in (200, 404, 422)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_session_setup_starts_carries_the_epoch_and_time(setup_app, tenant, store):
    token = setup.issue_link_token(tenant, store)
    client = setup_app.test_client()
    assert client.post(f"/admin/setup/{token}", data=GOOD).status_code == 302
    with client.session_transaction() as session:
        [user] = users()
        assert (session["user_id"], session["epoch"]) == (user.id, user.session_epoch)
        assert isinstance(session["issued_at"], int)


def test_the_setup_token_is_stored_as_the_shared_digest(app, tenant, store):
    token = setup.issue_link_token(tenant, store)
    assert json.loads(store.read_text())["token_sha256"] == tokens.digest(token)


def test_an_email_already_taken_is_a_form_error_and_the_link_survives(setup_app, tenant, store):
    accounts.create_local_user(tenant, "founder@example.com", Role.MEMBER)
    token = setup.issue_link_token(tenant, store)
    client = setup_app.test_client()
    response = client.post(f"/admin/setup/{token}", data=GOOD)
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert client.get(f"/admin/setup/{token}").status_code == 200


def test_with_csrf_on_the_setup_form_needs_the_token(make_app, app, tenant, tmp_path):
    store = tmp_path / "setup.json"
    csrf_app = make_app(WTF_CSRF_ENABLED=True, SETUP_TOKEN_FILE=str(store))
    token = setup.issue_link_token(tenant, store)
    client = csrf_app.test_client()
    assert client.post(f"/admin/setup/{token}", data=GOOD, headers=SAME_ORIGIN).status_code == 400
    assert users() == []
    html = client.get(f"/admin/setup/{token}").get_data(as_text=True)
    field = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = client.post(f"/admin/setup/{token}", data={**GOOD, "csrf_token": field}, headers=SAME_ORIGIN)
    assert response.status_code == 302
    assert [u.email for u in users()] == ["founder@example.com"]


# --- the service ----------------------------------------------------------------------------------------


def test_the_link_is_spent_once_even_when_used_twice(app, tenant, store):
    token = setup.issue_link_token(tenant, store)
    setup.create_first_admin(tenant, token, store, "one@example.com", "a-long-secret")
    with pytest.raises(NotFound):
        setup.create_first_admin(tenant, token, store, "two@example.com", "a-long-secret")
    assert [u.email for u in users()] == ["one@example.com"]


def test_a_link_for_another_tenant_does_not_work_here(app, tenant, store):
    from services import tenants

    other = tenants.create_tenant("acme")
    token = setup.issue_link_token(other, store)
    assert not setup.is_valid(tenant, token, store)
    assert setup.is_valid(other, token, store)


def test_a_failed_creation_puts_the_link_back(app, tenant, store):
    accounts.create_local_user(tenant, "taken@example.com", Role.MEMBER)
    token = setup.issue_link_token(tenant, store)
    with pytest.raises(Conflict):
        setup.create_first_admin(tenant, token, store, "taken@example.com", "a-long-secret")
    assert setup.is_valid(tenant, token, store)
    assert not list(store.parent.glob("*.claimed"))


def test_a_damaged_token_file_is_simply_not_valid(app, tenant, store):
    store.write_text("{not json")
    assert not setup.is_valid(tenant, "anything", store)
    store.write_text(json.dumps({"tenant_id": tenant.id, "token_sha256": "00", "expires_at": "soon"}))
    assert not setup.is_valid(tenant, "anything", store)
