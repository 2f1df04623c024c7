"""A paused admin account: guessing stays bounded, and the owner is mailed once a single-use way in."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, func, select

from extensions import limiter
from models import EmailToken, Role, SignInFailure, User, db, utcnow
from services import accounts, tenants, verification
from services.verification import SIGN_IN, InvalidLink
from tests.admin.test_auth import csrf_from, local_admin, signed_in_user_id
from tests.helpers import fresh

OWNER = {"email": "owner@example.com", "password": "pw-owner-1"}
WRONG = {"email": "owner@example.com", "password": "wrong-password"}
PAUSED = "Password sign-in for this account is paused after too many failed attempts"
# The test client speaks https, where Flask-WTF also checks a same-origin Referer.
SAME_ORIGIN = {"Referer": "https://localhost/admin/login"}


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def attempt(client, data: dict, address: str = "192.0.2.1", **kwargs):
    """POST the sign-in form and close the response, as a server does once it is sent (after-answer work runs)."""
    response = client.post("/admin/login", data=data, **from_address(address), **kwargs)
    response.close()
    return response


def fail_twenty_times(client) -> None:
    """Twenty wrong passwords for the owner from four addresses, five each (the per-address+email limit)."""
    for i in range(20):
        assert attempt(client, WRONG, f"198.51.100.{i // 5 + 1}").status_code == 401


@pytest.fixture
def outbox(app):
    """The mails written to the outbox (no SMTP in tests), oldest first."""
    directory = Path(app.config["MAIL_OUTBOX_DIR"])
    shutil.rmtree(directory, ignore_errors=True)

    def mails() -> list[str]:
        return [p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.eml"))] if directory.exists() else []

    return mails


def without_csrf(response) -> str:
    """Return the page without its CSRF tokens, which differ from session to session."""
    return re.sub(r"[\w.-]{40,}", "TOKEN", response.get_data(as_text=True))


def link_path(mail: str) -> str:
    return urlsplit(re.search(r"https?://\S+/admin/sign-in/\S+", mail).group(0)).path


@pytest.fixture
def limited(make_app, app, public_url):
    """Build an app with the sign-in throttle on; its counts start from zero and are cleared afterwards."""

    def build(**config):
        built = make_app(RATELIMIT_ENABLED=True, PUBLIC_URL=public_url, **config)  # mailed links need it
        limiter.reset()
        return built

    yield build
    limiter.reset()


@pytest.fixture
def paused(limited, super_admin, outbox):
    """A client whose app has the default limits, after 20 wrong passwords for the owner from four addresses."""
    client = limited().test_client()
    fail_twenty_times(client)
    return client


@pytest.fixture
def link(paused, outbox) -> str:
    """The path of the sign-in link the owner was mailed, once the right password was refused."""
    assert attempt(paused, OWNER, "203.0.113.9").status_code == 429
    (mail,) = outbox()
    return link_path(mail)


# --- bounded guessing, one mail ---------------------------------------------------------------------


def test_twenty_wrong_passwords_pause_the_account_and_mail_its_owner_once(paused, super_admin, outbox):
    response = attempt(paused, OWNER, "203.0.113.9")  # the real owner, from an address of their own
    html = response.get_data(as_text=True)
    assert response.status_code == 429  # guessing stays bounded: even the right password waits
    assert signed_in_user_id(paused) is None
    assert PAUSED in html and "(at most 20 per 1 hour)" in html and "a single-use sign-in link" in html
    assert int(response.headers["Retry-After"]) > 0
    (mail,) = outbox()
    assert "To: owner@example.com" in mail
    assert "wrong\npassword 20 times in the last hour, from 4 network addresses" in mail
    assert "198.51.100.1  (5 attempts)" in mail and "198.51.100.4  (5 attempts)" in mail
    assert "expires in 15 minutes" in mail and "/admin/sign-in/" in mail
    # More refused attempts, from anywhere, send nothing more during this pause.
    for i in range(10):
        assert attempt(paused, WRONG, f"203.0.113.{20 + i}").status_code == 429
    assert len(outbox()) == 1


def test_the_link_expires_after_fifteen_minutes(link, super_admin):
    token = db.session.scalar(select(EmailToken).where(EmailToken.purpose == SIGN_IN))
    assert token.expires_at - token.created_at == timedelta(minutes=15)
    assert token.user_id == super_admin.id


def test_the_mail_goes_out_only_after_the_answer(paused, outbox):
    response = paused.post("/admin/login", data=OWNER, **from_address("203.0.113.9"))
    assert response.status_code == 429
    assert outbox() == []
    assert db.session.scalar(select(EmailToken.id)) is None
    response.close()
    assert len(outbox()) == 1


def test_a_new_pause_mails_again(paused, super_admin, outbox):
    attempt(paused, OWNER, "203.0.113.9")
    # An hour on: the limiter's window is over and the last link is older than the pause.
    limiter.reset()
    db.session.execute(EmailToken.__table__.update().values(created_at=utcnow() - timedelta(minutes=61)))
    db.session.execute(SignInFailure.__table__.update().values(at=utcnow() - timedelta(minutes=61)))
    db.session.commit()
    fail_twenty_times(paused)
    assert attempt(paused, OWNER, "203.0.113.9").status_code == 429
    assert len(outbox()) == 2
    # Only this hour's attempts are reported; older records are dropped, those of other accounts too.
    assert "20 times in the last hour" in outbox()[-1]
    assert db.session.scalar(select(func.count(SignInFailure.id))) == 20


def test_a_request_refused_by_a_per_address_limit_mails_nothing(limited, super_admin, outbox):
    # Periods of the same length, so nothing depends on the order in which the limiter checks them.
    client = limited(LOGIN_LIMIT="3 per minute", LOGIN_ACCOUNT_LIMIT="4 per minute").test_client()
    for address in ("198.51.100.1", "198.51.100.1", "198.51.100.1", "198.51.100.2"):
        assert attempt(client, WRONG, address).status_code == 401
    # This address is over its own limit for the email as well as the account's: the usual answer, no mail.
    response = attempt(client, OWNER, "198.51.100.1")
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Too many failed sign-in attempts" in html and PAUSED not in html
    assert outbox() == []
    assert attempt(client, OWNER, "198.51.100.3").status_code == 429
    assert len(outbox()) == 1


# --- who gets a link --------------------------------------------------------------------------------


def paused_for(limited, email: str) -> tuple:
    """Pause `email` (3 failures an hour), have one more attempt refused, and return its response."""
    client = limited(LOGIN_ACCOUNT_LIMIT="3 per hour").test_client()
    statuses = [attempt(client, {"email": email, "password": "wrong-password"}, f"198.51.100.{i}") for i in range(3)]
    assert [r.status_code for r in statuses] == [401] * 3
    return client, attempt(client, {"email": email, "password": "pw-admin-12"}, "203.0.113.9")


def test_unknown_emails_get_no_mail_and_the_same_answer(limited, tenant, super_admin, outbox):
    _, known = paused_for(limited, "owner@example.com")
    _, unknown = paused_for(limited, "nobody@example.com")
    assert len(outbox()) == 1
    assert unknown.status_code == known.status_code == 429
    assert unknown.headers["Retry-After"] == known.headers["Retry-After"]
    assert without_csrf(unknown).replace("nobody", "owner") == without_csrf(known)
    # Nothing is recorded for an email without an account.
    assert db.session.scalar(select(func.count(SignInFailure.id))) == 3


def test_the_answers_cost_the_same_queries_for_known_and_unknown_emails(limited, tenant, super_admin, outbox):
    client = limited(LOGIN_ACCOUNT_LIMIT="1 per hour").test_client()

    def queries_before_the_answer(email: str) -> int:
        seen = []
        record = lambda *_args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            response = client.post("/admin/login", data={"email": email, "password": "wrong-password"})
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        response.close()
        return len(seen)

    # A wrong password (401), then the paused account (429), for a known and an unknown email.
    assert queries_before_the_answer("owner@example.com") == queries_before_the_answer("nobody@example.com")
    assert queries_before_the_answer("owner@example.com") == queries_before_the_answer("nobody@example.com")
    assert len(outbox()) == 1


@pytest.mark.parametrize(
    "account",
    [
        {"role": Role.MEMBER},
        {"role": Role.MODERATOR},
        {"role": Role.BANNED},
        {"role": Role.ADMIN, "unverified": True},
    ],
    ids=["member", "moderator", "banned", "unverified-admin"],
)
def test_only_verified_admins_get_a_link(limited, tenant, outbox, account):
    user = accounts.create_local_user(
        tenant, "someone@example.com", account["role"], password="pw-admin-12", verified=True
    )
    if account.get("unverified"):  # e.g. an address changed behind the dashboard's back
        user.email_verified_at = None
        db.session.commit()
    _, response = paused_for(limited, "someone@example.com")
    assert PAUSED in response.get_data(as_text=True)
    assert outbox() == []
    assert db.session.scalar(select(func.count(EmailToken.id))) == 0


@pytest.mark.parametrize(
    "change",
    [{"role": Role.BANNED}, {"role": Role.MODERATOR}, {"email_verified_at": None}, {"email_ci": "new@example.com"}],
    ids=["banned", "demoted", "unverified", "new-email"],
)
def test_a_link_dies_when_the_account_could_no_longer_sign_in(link, paused, super_admin, change):
    user = fresh(super_admin.id)
    for name, value in change.items():
        setattr(user, name, value)
    db.session.commit()
    assert paused.get(link).status_code == 400
    assert paused.post(link).status_code == 400
    assert signed_in_user_id(paused) is None


# --- the link ---------------------------------------------------------------------------------------


def test_get_shows_a_confirmation_page_and_uses_nothing_up(paused, link):
    for _ in range(2):  # a mail scanner's prefetch, then the owner
        response = paused.get(link)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert f'action="{link}"' in html and 'method="post"' in html and "owner@example.com" in html
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert db.session.scalar(select(EmailToken.used_at)) is None
    assert signed_in_user_id(paused) is None


def test_post_signs_in_with_a_fresh_session_once(paused, link, super_admin):
    with paused.session_transaction() as session:
        session["planted"] = "from before signing in"
    response = paused.post(link, **from_address("203.0.113.9"))
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert signed_in_user_id(paused) == super_admin.id
    with paused.session_transaction() as session:
        assert "planted" not in session
    # The dashboard says what happened.
    html = paused.get("/admin/", follow_redirects=True).get_data(as_text=True)
    assert "You signed in with the link we mailed you" in html
    assert "20 failed sign-in attempts from 4 network addresses in the last hour" in html
    # A second use fails, from any browser.
    other = paused.application.test_client()
    assert other.post(link).status_code == 400
    assert other.get(link).status_code == 400
    assert signed_in_user_id(other) is None


def test_the_link_leaves_the_password_limits_in_force(paused, link, super_admin):
    assert paused.post(link).status_code == 302
    paused.post("/admin/logout")
    # Signing in by link resets no counter: password guesses stay refused, from anywhere.
    assert attempt(paused, OWNER, "198.51.100.1").status_code == 429
    assert attempt(paused, OWNER, "203.0.113.50").status_code == 429
    assert signed_in_user_id(paused) is None


def test_an_expired_link_fails(paused, link):
    db.session.execute(EmailToken.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = paused.post(link)
    assert response.status_code == 400
    assert "This sign-in link no longer works" in response.get_data(as_text=True)
    assert signed_in_user_id(paused) is None


def test_a_link_of_another_tenant_fails(make_app, app, super_admin):
    other = tenants.create_tenant("other")
    token = verification.issue(super_admin, SIGN_IN, 0.25)
    with pytest.raises(InvalidLink):
        verification.sign_in(other, token)
    client = make_app(TENANT_BASE_DOMAIN="example.test").test_client()
    path = f"/admin/sign-in/{token}"
    assert client.get(path, base_url="https://other.example.test").status_code == 400
    assert client.post(path, base_url="https://other.example.test").status_code == 400
    assert db.session.scalar(select(EmailToken.used_at)) is None
    assert client.post(path, base_url="https://default.example.test").status_code == 302


def test_a_verification_token_is_not_a_sign_in_link(client, super_admin):
    token = verification.issue(super_admin, verification.VERIFY, 1)
    assert client.post(f"/admin/sign-in/{token}").status_code == 400
    assert signed_in_user_id(client) is None


def test_failed_link_uses_count_against_the_address(limited, tenant):
    client = limited(LOGIN_ADDRESS_LIMIT="2 per minute").test_client()
    statuses = [client.post(f"/admin/sign-in/bad-token-{i}").status_code for i in range(3)]
    assert statuses == [400, 400, 429]


def test_with_csrf_on_the_link_needs_the_token(make_app, app, super_admin):
    token = verification.issue(super_admin, SIGN_IN, 0.25)
    path = f"/admin/sign-in/{token}"
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    assert client.post(path, headers=SAME_ORIGIN).status_code == 400
    assert signed_in_user_id(client) is None
    assert db.session.scalar(select(EmailToken.used_at)) is None
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"csrf_token": csrf}, headers=SAME_ORIGIN)
    assert response.status_code == 302
    assert signed_in_user_id(client) == super_admin.id


def test_failures_are_recorded_only_for_accounts_that_can_sign_in(client, tenant, super_admin):
    local_admin(tenant, "admin@example.com")
    accounts.create_local_user(tenant, "member@example.com", Role.MEMBER, password="pw-admin-12", verified=True)
    for email in ("admin@example.com", "member@example.com", "nobody@example.com"):
        attempt(client, {"email": email, "password": "wrong-password"})
    clients = db.session.execute(select(SignInFailure.user_id, SignInFailure.client)).all()
    admin_id = db.session.scalar(select(User.id).where(User.email_ci == "admin@example.com"))
    assert clients == [(admin_id, "192.0.2.1")]


def test_records_older_than_the_account_limit_counts_are_dropped(client, tenant, super_admin):
    other = local_admin(tenant, "admin@example.com")
    db.session.add(SignInFailure(user_id=other.id, client="198.51.100.1", at=utcnow() - timedelta(minutes=61)))
    db.session.add(SignInFailure(user_id=other.id, client="198.51.100.2", at=utcnow() - timedelta(minutes=59)))
    db.session.commit()
    attempt(client, WRONG)
    kept = db.session.execute(select(SignInFailure.user_id, SignInFailure.client).order_by(SignInFailure.id)).all()
    assert kept == [(other.id, "198.51.100.2"), (super_admin.id, "192.0.2.1")]
