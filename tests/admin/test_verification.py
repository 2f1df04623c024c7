"""Email verification and set-password links (docs/design.md R4): single use, expiring, bound to the current email."""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, func, select

from admin.verification import send_link
from extensions import limiter
from models import EmailToken, Role, User, db, utcnow
from origins import NoLinkOrigin
from services import accounts, provisioning, roles, tenants, tokens, verification
from services.provisioning import ScimProfile
from services.verification import SET_PASSWORD, VERIFY, InvalidLink
from tests.admin import sign_in
from tests.helpers import fresh

SAME_ORIGIN = {"Referer": "https://localhost/admin/verify/resend"}


def scim_user(tenant, email="ida@corp.example") -> User:
    return provisioning.create_scim_user(
        tenant, ScimProfile(user_name=email, emails=[{"value": email, "primary": True}])
    )


def path_of(link: str) -> str:
    return urlsplit(link).path


@pytest.fixture
def outbox(app):
    directory = Path(app.config["MAIL_OUTBOX_DIR"])
    shutil.rmtree(directory, ignore_errors=True)

    def links() -> list[str]:
        if not directory.exists():
            return []
        mails = [p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.eml"))]
        return [re.search(r"https?://\S+/admin/(?:verify|password)/\S+", m).group(0) for m in mails]

    return links


@pytest.fixture
def unverified(tenant) -> User:
    return scim_user(tenant)


def ask_for_link(client, email: str, **data):
    """POST the resend form and close the response, as a server does once it has sent it: the mail goes then."""
    response = client.post("/admin/verify/resend", data={"email": email, **data})
    response.close()
    return response


def verify_link(user) -> str:
    """Issue a verification link (as the mail would carry it) and return its path."""
    token = verification.issue(user, VERIFY, 1)
    return f"/admin/verify/{token}"


# --- verification links -------------------------------------------------------------------------------


def test_get_shows_a_confirm_button_and_changes_nothing(client, unverified):
    path = verify_link(unverified)
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "ida@corp.example" in html and f'action="{path}"' in html and 'method="post"' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"
    # A mail scanner that fetches the link must not use it up.
    assert client.get(path).status_code == 200
    assert not fresh(unverified.id).email_verified


def test_post_verifies_once(client, unverified):
    path = verify_link(unverified)
    response = client.post(path)
    assert response.status_code == 200 and "is now verified" in response.get_data(as_text=True)
    assert fresh(unverified.id).email_verified

    again = client.post(path)
    assert again.status_code == 400 and "no longer works" in again.get_data(as_text=True)
    assert client.get(path).status_code == 400


def test_only_a_hash_of_the_token_is_stored(app, unverified):
    token = verification.issue(unverified, VERIFY, 1)
    row = db.session.scalar(select(EmailToken).where(EmailToken.user_id == unverified.id))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() == tokens.digest(token)
    assert token not in (row.token_hash, row.email)
    assert len(token) >= 43  # 32 random bytes


def test_expired_link_is_refused(client, unverified):
    path = verify_link(unverified)
    db.session.execute(EmailToken.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert client.post(path).status_code == 400
    assert not fresh(unverified.id).email_verified


def test_a_new_link_replaces_the_old_one(client, unverified):
    old = verify_link(unverified)
    new = verify_link(unverified)
    assert client.post(old).status_code == 400
    assert client.post(new).status_code == 200


def test_link_dies_when_the_email_changes_over_scim(client, unverified):
    path = verify_link(unverified)
    provisioning.replace_scim_user(
        unverified, ScimProfile(user_name=unverified.user_name, emails=[{"value": "new@corp.example"}])
    )
    assert client.post(path).status_code == 400
    assert not fresh(unverified.id).email_verified


def test_email_change_over_scim_unverifies_again(client, unverified):
    client.post(verify_link(unverified))
    assert fresh(unverified.id).email_verified
    provisioning.replace_scim_user(
        unverified, ScimProfile(user_name=unverified.user_name, emails=[{"value": "moved@corp.example"}])
    )
    assert not fresh(unverified.id).email_verified


def test_deprovisioned_users_link_is_dead(client, unverified):
    path = verify_link(unverified)
    provisioning.deprovision(unverified)
    assert client.post(path).status_code == 400


@pytest.mark.parametrize("token", ["nope", "x" * 43, "a" * 500])
def test_unknown_tokens_are_refused(client, tenant, token):
    assert client.get(f"/admin/verify/{token}").status_code == 400
    assert client.post(f"/admin/verify/{token}").status_code == 400


def test_a_link_only_works_for_its_own_tenant(app, unverified):
    token = verification.issue(unverified, VERIFY, 1)
    other = tenants.create_tenant("other")
    with pytest.raises(InvalidLink):
        verification.verify_email(other, token)
    assert verification.peek(unverified.tenant, token, VERIFY).id == unverified.id


def test_a_verify_token_is_not_a_set_password_token(client, tenant):
    user = accounts.create_local_user(tenant, "l@example.com", Role.MEMBER)
    token = verification.issue(user, VERIFY, 1)
    assert client.get(f"/admin/password/{token}").status_code == 400


# --- asking for a new link ----------------------------------------------------------------------------


def test_resend_page_has_a_labelled_email_field(client, tenant):
    html = client.get("/admin/verify/resend").get_data(as_text=True)
    assert '<label for="email">Email</label>' in html


def test_resend_answers_the_same_whatever_the_email(client, tenant, unverified, outbox):
    verified = accounts.mark_verified(scim_user(tenant, "done@corp.example"))
    answers = []
    for email in ("ida@corp.example", "done@corp.example", "nobody@corp.example"):
        response = ask_for_link(client, email)
        assert response.status_code == 200
        answers.append(response.get_data(as_text=True).replace(email, "EMAIL"))
    assert answers[0] == answers[1] == answers[2]
    (link,) = outbox()
    assert client.post(path_of(link)).status_code == 200
    assert fresh(unverified.id).email_verified and fresh(verified.id).email_verified


def test_resend_is_throttled_per_account(client, unverified, outbox):
    for _ in range(3):
        assert ask_for_link(client, "IDA@corp.example").status_code == 200
    assert len(outbox()) == 1

    db.session.execute(EmailToken.__table__.update().values(created_at=utcnow() - timedelta(minutes=2)))
    db.session.commit()
    ask_for_link(client, "ida@corp.example")
    assert len(outbox()) == 2


def test_the_mail_goes_out_only_after_the_answer(client, unverified, outbox):
    response = client.post("/admin/verify/resend", data={"email": "ida@corp.example"})
    assert response.status_code == 200
    # The answer is complete, and nothing about the address has happened yet: no link, no mail.
    assert outbox() == []
    assert db.session.scalar(select(EmailToken.id)) is None
    response.close()  # what the server does once the answer is sent
    assert len(outbox()) == 1


def test_the_answer_costs_the_same_queries_for_known_and_unknown_addresses(client, unverified, outbox):
    def queries_before_the_answer(email: str) -> int:
        seen = []
        record = lambda *_args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            response = client.post("/admin/verify/resend", data={"email": email})
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        response.close()
        return len(seen)

    assert queries_before_the_answer("ida@corp.example") == queries_before_the_answer("nobody@corp.example")
    assert len(outbox()) == 1


def test_a_failure_after_the_answer_is_logged_without_the_address(client, unverified, outbox, monkeypatch, caplog):
    def broken(user):
        raise RuntimeError(f"cannot handle {user.email}")  # a message that quotes personal data

    monkeypatch.setattr(verification, "link_purpose", broken)
    assert ask_for_link(client, "ida@corp.example").status_code == 200
    assert "RuntimeError" in caplog.text
    assert "ida@corp.example" not in caplog.text
    assert outbox() == []


def test_resend_mails_one_account_at_most_five_links_a_day(client, unverified, outbox):
    def a_minute_later() -> None:  # past the one-minute interval between two links
        db.session.execute(EmailToken.__table__.update().values(created_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()

    for _ in range(7):
        assert ask_for_link(client, "ida@corp.example").status_code == 200
        a_minute_later()
    assert len(outbox()) == 5
    # A day on, the count starts again.
    db.session.execute(EmailToken.__table__.update().values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    ask_for_link(client, "ida@corp.example")
    assert len(outbox()) == 6
    # The day-old links that can no longer work are gone; the newest one still works.
    assert db.session.scalar(select(func.count(EmailToken.id))) == 1
    assert client.post(path_of(outbox()[-1])).status_code == 200


def test_resend_is_limited_per_client_address(make_app, app, tenant, outbox, public_url):
    client = make_app(RATELIMIT_ENABLED=True, VERIFY_RESEND_LIMIT="2 per hour", PUBLIC_URL=public_url).test_client()
    limiter.reset()
    try:
        statuses = [ask_for_link(client, f"x{i}@corp.example").status_code for i in range(3)]
        assert statuses == [200, 200, 429]
        refused = ask_for_link(client, "y@corp.example")
        html = refused.get_data(as_text=True)
        assert refused.status_code == 429
        assert "Too many requests for new links" in html and 'name="email"' in html
        assert (
            client.post(
                "/admin/verify/resend", data={"email": "y@corp.example"}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
            ).status_code
            == 200
        )
    finally:
        limiter.reset()


def test_resend_form_errors(client, tenant, outbox):
    response = client.post("/admin/verify/resend", data={"email": "not an email"})
    assert response.status_code == 422
    assert 'class="form-error"' in response.get_data(as_text=True)
    assert outbox() == []


def test_invited_user_without_password_gets_a_set_password_link(client, tenant, outbox):
    accounts.create_local_user(tenant, "inv@example.com", Role.MEMBER)
    ask_for_link(client, "inv@example.com")
    (link,) = outbox()
    assert "/admin/password/" in link


# --- links come from configuration, not from the Host header ------------------------------------------


@pytest.mark.parametrize(
    ("settings", "origin"),
    [
        ({"PUBLIC_URL": None, "TENANT_BASE_DOMAIN": "example.com"}, "https://acme.example.com"),
        (
            {"PUBLIC_URL": None, "TENANT_BASE_DOMAIN": "example.com", "PREFERRED_URL_SCHEME": "http"},
            "http://acme.example.com",
        ),
        (
            {"TENANT_BASE_DOMAIN": "example.com", "PUBLIC_URL": "https://{slug}.learn.example/"},
            "https://acme.learn.example",
        ),
        ({"PUBLIC_URL": "https://learn.example.com"}, "https://learn.example.com"),
    ],
    ids=["base-domain", "base-domain-http", "public-url-with-slug", "public-url"],
)
def test_mailed_links_are_built_from_configuration(app, monkeypatch, outbox, settings, origin):
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    user = scim_user(tenants.create_tenant("acme"))
    for host in ("acme.example.com:8443", "acme.example.com:80@evil.test", "evil.test"):
        with app.test_request_context("/admin/users", headers={"Host": host}):
            send_link(user, VERIFY)
    links = outbox()
    assert len(links) == 3
    assert all(link.startswith(f"{origin}/admin/verify/") for link in links), links


def test_without_configuration_no_link_is_mailed_and_the_operator_is_told(app, monkeypatch, outbox, unverified, caplog):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    with app.test_request_context("/admin/users", base_url="https://learn.internal:8443"), pytest.raises(NoLinkOrigin):
        send_link(unverified, VERIFY)
    assert outbox() == []
    assert "set PUBLIC_URL" in caplog.text


def test_a_forged_host_gets_no_link_pointing_elsewhere(client, app, monkeypatch, outbox):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    monkeypatch.setitem(app.config, "TENANT_BASE_DOMAIN", "example.com")
    scim_user(tenants.create_tenant("acme"))
    for host in ("acme.example.com:80@evil.test", "acme.example.com:8443"):
        response = client.post("/admin/verify/resend", data={"email": "ida@corp.example"}, headers={"Host": host})
        response.close()
        assert response.status_code in (200, 404)
    (link,) = outbox()
    assert urlsplit(link).netloc == "acme.example.com"


def test_a_host_whose_port_is_not_a_number_names_no_tenant(app):
    acme = tenants.create_tenant("acme")
    assert tenants.resolve_host("acme.example.com:8443", "example.com").id == acme.id
    assert tenants.resolve_host("acme.example.com:", "example.com").id == acme.id
    assert tenants.resolve_host("acme.example.com:80@evil.test", "example.com") is None
    assert tenants.resolve_host("acme.example.com:８０", "example.com") is None


# --- set password -------------------------------------------------------------------------------------


@pytest.fixture
def invited(tenant) -> User:
    return accounts.create_local_user(tenant, "inv@example.com", Role.MEMBER, display_name="Invitee")


def test_set_password_page_and_success(client, invited):
    path = f"/admin/password/{verification.issue(invited, SET_PASSWORD, 1)}"
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<label for="password">New password</label>' in html
    assert 'autocomplete="new-password"' in html and page.headers["Referrer-Policy"] == "same-origin"

    response = client.post(path, data={"password": "correct horse", "confirm": "correct horse"})
    assert response.status_code == 200 and "Password set" in response.get_data(as_text=True)
    user = fresh(invited.id)
    assert accounts.check_password(user, "correct horse")
    assert user.email_verified  # the link proved the mailbox
    assert client.post(path, data={"password": "another one!", "confirm": "another one!"}).status_code == 400
    assert accounts.check_password(fresh(invited.id), "correct horse")


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", "short", "at least 10"),
        ("long enough 1", "long enough 2", "differ"),
        ("é" * 40, "é" * 40, "72 bytes"),
        ("", "", "Choose a password."),
    ],
)
def test_set_password_form_errors_keep_the_link(client, invited, password, confirm, message):
    path = f"/admin/password/{verification.issue(invited, SET_PASSWORD, 1)}"
    response = client.post(path, data={"password": password, "confirm": confirm})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert fresh(invited.id).password_hash is None
    assert client.get(path).status_code == 200  # not used up


def test_banned_user_cannot_set_a_password(client, invited):
    token = verification.issue(invited, SET_PASSWORD, 1)
    roles.set_role(invited, Role.BANNED)
    assert client.get(f"/admin/password/{token}").status_code == 400


def test_invite_mail_link_leads_to_a_password(client, super_admin, outbox):
    sign_in(client, super_admin)
    client.post("/admin/users/invite", data={"email": "new@example.com"})
    (link,) = outbox()
    response = client.post(path_of(link), data={"password": "a fine password", "confirm": "a fine password"})
    assert response.status_code == 200
    user = accounts.find_by_email(super_admin.tenant, "new@example.com")
    db.session.refresh(user)
    assert user.email_verified and accounts.check_password(user, "a fine password")


# --- CSRF ---------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(make_app, public_url):
    client = make_app(WTF_CSRF_ENABLED=True, PUBLIC_URL=public_url).test_client()
    client.environ_base["HTTP_REFERER"] = SAME_ORIGIN["Referer"]
    return client


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_csrf_verify_needs_the_token(csrf_client, unverified):
    path = verify_link(unverified)
    token = csrf_from(csrf_client.get(path).get_data(as_text=True))
    assert csrf_client.post(path).status_code == 400
    assert not fresh(unverified.id).email_verified
    assert csrf_client.post(path, headers={"X-CSRFToken": token}).status_code == 200
    assert fresh(unverified.id).email_verified


def test_csrf_resend_needs_the_token(csrf_client, unverified, outbox):
    assert ask_for_link(csrf_client, "ida@corp.example").status_code == 400
    assert outbox() == []
    token = csrf_from(csrf_client.get("/admin/verify/resend").get_data(as_text=True))
    response = ask_for_link(csrf_client, "ida@corp.example", csrf_token=token)
    assert response.status_code == 200 and len(outbox()) == 1


def test_csrf_set_password_needs_the_token(csrf_client, invited):
    path = f"/admin/password/{verification.issue(invited, SET_PASSWORD, 1)}"
    token = csrf_from(csrf_client.get(path).get_data(as_text=True))
    data = {"password": "correct horse", "confirm": "correct horse"}
    assert csrf_client.post(path, data=data).status_code == 400
    assert fresh(invited.id).password_hash is None
    assert csrf_client.post(path, data=data, headers={"X-CSRFToken": token}).status_code == 200
    assert accounts.check_password(fresh(invited.id), "correct horse")
