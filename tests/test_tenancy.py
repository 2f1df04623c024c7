"""Which tenant a Host names (docs/design.md §8), and that a tenant's token works only on its own host (R10, R12)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import ScimRequest, Tenant, User, db
from services import credentials, tenants
from services.tenants import resolve_host
from tests.conftest import ScimClient, scim_error
from tests.helpers import LIST_RESPONSE, USER


def resolved(host: str | None, base_domain: str | None) -> str | None:
    """Return the slug of the tenant `resolve_host` picks, or None."""
    db.session.expire_all()
    tenant = resolve_host(host, base_domain)
    return tenant.slug if tenant else None


# --- resolve_host --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:5000", "127.0.0.1:8000", "acme.example.com", "[::1]:5000", "", None]
)
@pytest.mark.parametrize("base_domain", [None, ""])
def test_without_a_base_domain_every_host_is_the_default_tenant(app, tenant, host, base_domain):
    tenants.create_tenant("acme")
    assert resolved(host, base_domain) == "default"


def test_without_a_base_domain_and_no_default_tenant_nothing_is_selected(app):
    tenants.create_tenant("acme")
    assert resolved("acme.example.com", None) is None


@pytest.mark.parametrize(
    ("host", "slug"),
    [
        ("acme.example.com", "acme"),
        ("ACME.Example.com:8443", "acme"),
        ("acme.example.com.", "acme"),  # a fully qualified name
        ("acme.example.com:80", "acme"),
        ("default.example.com", "default"),
        ("example.com", None),
        ("example.com:8443", None),
        ("x.other.com", None),
        ("acme.other.com", None),
        ("unknown.example.com", None),
        ("www.acme.example.com", None),
        ("acme.example.com.evil.net", None),
        ("acmeexample.com", None),
        ("acme.notexample.com", None),
        ("-acme.example.com", None),
        ("", None),
        (None, None),
    ],
)
def test_with_a_base_domain_the_subdomain_picks_the_tenant(app, tenant, host, slug):
    tenants.create_tenant("acme")
    assert resolved(host, "example.com") == slug


@pytest.mark.parametrize("base_domain", ["Example.COM", ".example.com", "example.com.", " example.com "])
def test_the_base_domain_is_normalised(app, base_domain):
    tenants.create_tenant("acme")
    assert resolved("acme.example.com", base_domain) == "acme"
    assert resolved("example.com", base_domain) is None


# --- over HTTP -----------------------------------------------------------------------------


@pytest.fixture
def base_domain(app, monkeypatch):
    """Serve tenants by subdomain of example.com for one test."""
    monkeypatch.setitem(app.config, "TENANT_BASE_DOMAIN", "example.com")
    return "example.com"


@pytest.fixture
def two_tenants(app, base_domain, client):
    """Tenants acme and beta, each with a token and one SCIM user provisioned on its own host."""
    made = {}
    for slug in ("acme", "beta"):
        tenant = tenants.create_tenant(slug)
        _, token = credentials.issue(tenant, f"{slug} IdP")
        scim = ScimClient(client, token, host=f"{slug}.example.com")
        created = scim.post("/Users", {"schemas": [USER], "userName": f"{slug}.person@example.com"})
        assert created.status_code == 201, created.get_data(as_text=True)
        made[slug] = {"token": token, "user_id": created.get_json(force=True)["id"], "scim": scim}
    return made


def test_own_token_on_own_host_sees_only_its_own_users(two_tenants):
    for slug, other in (("acme", "beta"), ("beta", "acme")):
        response = two_tenants[slug]["scim"].get("/Users")
        assert response.status_code == 200
        assert response.mimetype == "application/scim+json"
        body = response.get_json(force=True)
        assert body["schemas"] == [LIST_RESPONSE]
        assert [u["userName"] for u in body["Resources"]] == [f"{slug}.person@example.com"]
        assert other not in response.get_data(as_text=True)


@pytest.mark.parametrize("host", ["nope.example.com", "example.com", "www.acme.example.com", "acme.other.com"])
def test_scim_on_a_host_naming_no_tenant_answers_404_scim_json(client, two_tenants, host):
    scim = ScimClient(client, two_tenants["acme"]["token"], host=host)
    for path in ("/ServiceProviderConfig", "/Users", f"/Users/{two_tenants['acme']['user_id']}"):
        response = scim.get(path)
        body = scim_error(response, 404)
        assert "acme.person" not in response.get_data(as_text=True)
        assert "Resources" not in body
    scim_error(scim.post("/Users", {"schemas": [USER], "userName": "new@example.com"}), 404)
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.user_name == "new@example.com")) is None


def test_a_token_of_tenant_a_on_tenant_b_answers_401_and_never_returns_data_r12(client, two_tenants):
    acme, beta = two_tenants["acme"], two_tenants["beta"]
    wrong = ScimClient(client, acme["token"], host="beta.example.com")
    responses = [
        wrong.get("/ServiceProviderConfig"),
        wrong.get("/Users"),
        wrong.get(f"/Users/{beta['user_id']}"),
        wrong.get(f"/Users/{acme['user_id']}"),
        wrong.get('/Users?filter=userName eq "acme.person@example.com"'),
        wrong.get("/Groups"),
        wrong.post("/Users", {"schemas": [USER], "userName": "intruder@example.com"}),
        wrong.put(f"/Users/{beta['user_id']}", {"schemas": [USER], "userName": "taken@example.com"}),
        wrong.delete(f"/Users/{beta['user_id']}"),
    ]
    for response in responses:
        scim_error(response, 401)
        text = response.get_data(as_text=True)
        for leaked in ("acme.person", "beta.person", acme["user_id"], beta["user_id"]):
            assert leaked not in text

    db.session.expire_all()
    beta_tenant = db.session.scalar(select(Tenant).where(Tenant.slug == "beta"))
    beta_users = db.session.scalars(select(User).where(User.tenant_id == beta_tenant.id)).all()
    assert [(u.user_name, u.role, u.deprovisioned_at) for u in beta_users] == [("beta.person@example.com", 2, None)]
    assert (
        db.session.scalar(select(User).where(User.user_name.in_(["intruder@example.com", "taken@example.com"]))) is None
    )

    # Every refused request is on beta's log, with no credential attached (counted per address and minute).
    refused = db.session.scalars(
        select(ScimRequest).where(ScimRequest.tenant_id == beta_tenant.id, ScimRequest.status == 401)
    ).all()
    assert sum(row.count for row in refused) == len(responses)
    assert all(row.credential_id is None for row in refused)


def test_a_token_still_works_on_its_own_host_after_being_refused_elsewhere(client, two_tenants):
    scim_error(ScimClient(client, two_tenants["acme"]["token"], host="beta.example.com").get("/Users"), 401)
    response = two_tenants["acme"]["scim"].get("/ServiceProviderConfig")
    assert response.status_code == 200
    assert response.mimetype == "application/scim+json"


def test_feature_off_on_one_tenant_leaves_the_other_answering_r10(two_tenants):
    tenants.set_scim(tenants.get_by_slug("beta"), False)
    scim_error(two_tenants["beta"]["scim"].get("/Users"), 404)
    response = two_tenants["acme"]["scim"].get("/Users")
    assert response.status_code == 200
    assert response.get_json(force=True)["totalResults"] == 1
