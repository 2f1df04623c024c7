"""Links take their origin from configuration, never from Host or X-Forwarded-Host; other hosts get a 400."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import origins
from models import User, db
from services import accounts, tenants
from tests.conftest import SCIM, ScimClient, scim_error

HOSTILE = "attacker.evil"
PUBLIC_URL = "http://127.0.0.1:5000"
EMAIL = "a@corp.test"


@pytest.fixture
def outbox(app):
    """Read the links of the mails written to the outbox (no SMTP in tests)."""
    directory = Path(app.config["MAIL_OUTBOX_DIR"])
    shutil.rmtree(directory, ignore_errors=True)

    def links() -> list[str]:
        mails = [p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.eml"))] if directory.exists() else []
        return [re.search(r"https?://\S+/admin/(?:verify|password)/\S+", mail).group(0) for mail in mails]

    return links


@pytest.fixture
def admin_without_password(app, tenant) -> None:
    """`flask users create --tenant default --email a@corp.test --role 4 --verified`, as in the report."""
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--tenant", "default", "--email", EMAIL, "--role", "4", "--verified"]
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def served(make_app, app):
    """The app as bin/serve runs it: PUBLIC_URL says where it is reached, so other hosts are refused."""
    return make_app(PUBLIC_URL=PUBLIC_URL)


def resend(client, **headers):
    """Ask for a new link, signed out, and close the response: the mail goes out after the answer."""
    response = client.post("/admin/verify/resend", data={"email": EMAIL}, headers=headers)
    response.close()
    return response


# --- the reported takeover, on an install with nothing configured -----------------------------------------


@pytest.mark.parametrize("headers", [{"Host": HOSTILE}, {"X-Forwarded-Host": HOSTILE}], ids=["host", "forwarded"])
def test_unconfigured_install_mails_no_link_built_from_the_request(
    client, app, admin_without_password, outbox, caplog, headers
):
    assert app.config["PUBLIC_URL"] is None and app.config["TRUSTED_HOSTS"] is None
    response = resend(client, **headers)
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "PUBLIC_URL" in html and 'class="form-error"' in html and HOSTILE not in html
    assert outbox() == []
    assert "set PUBLIC_URL" in caplog.text and EMAIL not in caplog.text


def test_unconfigured_install_says_so_for_unknown_addresses_too(client, tenant, outbox):
    """The refusal comes before the address is looked at, so it tells nothing about accounts."""
    response = client.post("/admin/verify/resend", data={"email": "nobody@corp.test"})
    assert response.status_code == 503 and outbox() == []


# --- an install that knows its address ------------------------------------------------------------------


def test_configured_install_refuses_a_hostile_host_and_mails_nothing(served, admin_without_password, outbox):
    response = resend(served.test_client(), Host=HOSTILE)
    assert response.status_code == 400
    assert response.mimetype == "text/html" and HOSTILE not in response.get_data(as_text=True)
    assert outbox() == []


def test_forwarded_host_without_a_trusted_proxy_changes_nothing(served, admin_without_password, outbox):
    client = served.test_client()
    response = resend(client, Host="127.0.0.1:5000", **{"X-Forwarded-Host": HOSTILE})
    assert response.status_code == 200
    (link,) = outbox()
    assert link.startswith(f"{PUBLIC_URL}/admin/password/")
    # The link works on the real host: it sets the password there.
    path = urlsplit(link).path
    data = {"password": "a fine password", "confirm": "a fine password"}
    assert client.post(path, data=data, headers={"Host": "127.0.0.1:5000"}).status_code == 200
    db.session.expire_all()
    user = db.session.scalar(db.select(User).where(User.email_ci == EMAIL))
    assert accounts.check_password(user, "a fine password")


def test_forwarded_host_from_a_trusted_proxy_is_checked_as_well(make_app, app, admin_without_password, outbox):
    client = make_app(PUBLIC_URL=PUBLIC_URL, PROXY_HOPS=1).test_client()
    assert resend(client, **{"X-Forwarded-Host": HOSTILE}).status_code == 400
    assert resend(client, **{"X-Forwarded-Host": "127.0.0.1:5000"}).status_code == 200
    (link,) = outbox()
    assert link.startswith(f"{PUBLIC_URL}/admin/password/")


@pytest.mark.parametrize("path", ["/scim/v2/Users", "/scim/v2/ServiceProviderConfig", "/scim/v2/nowhere"])
def test_scim_on_a_hostile_host_is_a_scim_400(served, scim_token, path):
    response = ScimClient(served.test_client(), scim_token, host=HOSTILE).get(path.removeprefix(SCIM))
    body = scim_error(response, 400)
    assert HOSTILE not in body["detail"]


def test_the_dashboard_and_scim_answer_on_the_configured_host(served, scim_token, super_admin):
    client = served.test_client()
    assert client.get("/admin/login", headers={"Host": "127.0.0.1:5000"}).status_code == 200
    assert ScimClient(client, scim_token, host="127.0.0.1:5000").get("/Users").status_code == 200


def test_with_a_base_domain_every_subdomain_is_served_and_other_hosts_are_refused(make_app, app, tenant):
    tenants.create_tenant("acme")
    client = make_app(TENANT_BASE_DOMAIN="example.com").test_client()
    assert client.get("/admin/login", headers={"Host": "acme.example.com"}).status_code == 200
    assert client.get("/admin/login", headers={"Host": "nope.example.com"}).status_code == 404  # served, no tenant
    assert client.get("/admin/login", headers={"Host": "example.com.evil"}).status_code == 400
    assert client.get("/admin/login", headers={"Host": HOSTILE}).status_code == 400


def test_trusted_hosts_adds_names_to_those_the_address_implies(make_app, app, tenant):
    client = make_app(PUBLIC_URL=PUBLIC_URL, TRUSTED_HOSTS="localhost, 10.0.0.5").test_client()
    for host in ("127.0.0.1:5000", "localhost:5000", "10.0.0.5"):
        assert client.get("/admin/login", headers={"Host": host}).status_code == 200, host
    assert client.get("/admin/login", headers={"Host": HOSTILE}).status_code == 400


# --- the configuration itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "hosts"),
    [
        ({}, None),
        ({"PUBLIC_URL": "https://learn.example.com/"}, ["learn.example.com"]),
        ({"PUBLIC_URL": "http://127.0.0.1:5000"}, ["127.0.0.1"]),
        ({"PUBLIC_URL": "https://{slug}.learn.example"}, [".learn.example"]),
        ({"TENANT_BASE_DOMAIN": ".Example.com."}, [".example.com"]),
        ({"TRUSTED_HOSTS": ["a.example"], "TENANT_BASE_DOMAIN": "example.com"}, ["a.example", ".example.com"]),
    ],
)
def test_trusted_hosts_follow_the_configured_address(settings, hosts):
    assert origins.trusted_hosts(settings) == hosts


@pytest.mark.parametrize(
    "value",
    [
        "learn.example.com",
        "ftp://learn.example.com",
        "https://learn.example.com/admin",
        "https://x?y",
        "https://a{slug}.b",
    ],
)
def test_a_public_url_that_is_not_an_origin_stops_the_start(make_app, app, value):
    with pytest.raises(RuntimeError, match="PUBLIC_URL"):
        make_app(PUBLIC_URL=value)


def test_bootstrap_prints_the_configured_origin_whatever_the_port(make_app, app, tmp_path):
    built = make_app(PUBLIC_URL="https://learn.example.com", SETUP_TOKEN_FILE=str(tmp_path / "setup.json"))
    with built.app_context():
        result = built.test_cli_runner().invoke(args=["bootstrap", "--port", "5055"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"https://learn\.example\.com/admin/setup/[\w-]+", result.output.splitlines()[-1])


def test_bin_serve_configures_the_address_it_prints():
    serve = (Path(__file__).resolve().parents[1] / "bin" / "serve").read_text()
    assert 'MOBIEUS_PUBLIC_URL="http://127.0.0.1:${PORT}"' in serve
    assert '--bind "127.0.0.1:${PORT}"' in serve and 'bootstrap --port "${PORT}"' in serve
