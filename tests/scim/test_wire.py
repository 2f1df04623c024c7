"""Wire rules (DESIGN §4): media types, auth header forms, paths, and SCIM JSON for every error."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ScimClient, scim_error

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.mark.parametrize(
    "content_type", ["application/scim+json", "application/json", "application/scim+json; charset=utf-8", None]
)
def test_json_bodies_accepted_with_any_json_media_type_or_none(client, scim_token, content_type):
    headers = {"Authorization": f"Bearer {scim_token}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(
        "/scim/v2/Users", data=json.dumps({"schemas": [USER], "userName": "mt@example.com"}), headers=headers
    )
    assert response.status_code == 201
    assert response.mimetype == "application/scim+json"


def test_other_media_type_is_415_scim_error(client, scim_token):
    response = client.post(
        "/scim/v2/Users",
        data="userName=x",
        headers={"Authorization": f"Bearer {scim_token}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    scim_error(response, 415)


def test_delete_without_content_type(scim):
    created = scim.post("/Users", {"schemas": [USER], "userName": "del@example.com"}).get_json()
    response = scim.client.delete(f"/scim/v2/Users/{created['id']}", headers={"Authorization": f"Bearer {scim.token}"})
    assert response.status_code == 204


def test_bare_token_header_works_like_bearer(client, scim_token):
    response = client.get("/scim/v2/Users", headers={"Authorization": scim_token})
    assert response.status_code == 200
    lower = client.get("/scim/v2/Users", headers={"Authorization": f"bearer {scim_token}"})
    assert lower.status_code == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nope", "non-token", "Basic dXNlcjpwYXNz"])
def test_missing_or_bad_token_is_401_scim_json(client, tenant, scim_token, header):
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/scim/v2/Users", headers=headers)
    body = scim_error(response, 401)
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert scim_token not in response.get_data(as_text=True)
    assert body["detail"]


@pytest.mark.parametrize(
    "path",
    ["/Users", "/Users/", "/users", "/USERS/", "//Users", "/ResourceTypes/", "/schemas", "/serviceproviderconfig/"],
)
def test_slashes_and_resource_case_are_tolerated_without_redirect(scim, path):
    response = scim.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.mimetype == "application/scim+json"


def test_id_case_is_preserved_by_path_normalisation(scim):
    created = scim.post("/Users", {"schemas": [USER], "userName": "case@example.com"}).get_json()
    assert scim.get(f"/users/{created['id']}").status_code == 200
    scim_error(scim.get(f"/Users/{created['id'].upper()}"), 404)


def test_unknown_path_is_scim_404(scim):
    body = scim_error(scim.get("/7d9f0c6e-no-such-endpoint"), 404)
    assert "<" not in body["detail"]


def test_wrong_method_is_scim_405(scim):
    for method in ("post", "put", "patch", "delete"):
        scim_error(getattr(scim, method)("/ServiceProviderConfig"), 405)
    scim_error(scim.put("/Users", {"x": 1}), 405)


def test_root_search_spans_users_then_groups_with_paging(scim, super_admin):
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    for name in ("a@example.com", "b@example.com"):
        scim.post("/Users", {"schemas": [USER], "userName": name})
    scim.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team"})
    everything = scim.post("/.search", {**search, "attributes": ["id"]}).get_json()
    assert everything["totalResults"] == 3
    assert [r["schemas"][0].rsplit(":", 1)[1] for r in everything["Resources"]] == ["User", "User", "Group"]
    page = scim.post("/.search", {**search, "startIndex": 2, "count": 2}).get_json()
    assert [r.get("userName") or r.get("displayName") for r in page["Resources"]] == ["b@example.com", "Team"]
    # userName exists only on users: groups simply do not match.
    users_only = scim.post("/.search", {**search, "filter": 'userName sw "a"'}).get_json()
    assert users_only["totalResults"] == 1
    scim_error(scim.post("/.search", {**search, "filter": 'shoeSize eq "42"'}), 400, "invalidFilter")
    scim_error(scim.post("/.search", {**search, "filter": 42}), 400, "invalidValue")


def test_unexpected_exception_is_scim_500_without_internals(make_app, tenant, scim_token, monkeypatch):
    app = make_app(PROPAGATE_EXCEPTIONS=False, TESTING=False)
    from scim import users

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals ada@example.com")

    monkeypatch.setattr(users.members, "get_scim_user", explode)
    response = ScimClient(app.test_client(), scim_token).get("/Users/abc")
    body = scim_error(response, 500)
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in body["detail"]


def test_oversized_body_is_scim_413(make_app, tenant, scim_token):
    app = make_app(MAX_CONTENT_LENGTH=1000)
    response = ScimClient(app.test_client(), scim_token).post(
        "/Users", {"schemas": [USER], "userName": "x@example.com", "title": "y" * 5000}
    )
    scim_error(response, 413)


def test_unknown_query_parameters_are_ignored(scim):
    assert scim.get("/Users?aadOptscim062020&foo=bar").status_code == 200


def test_html_never_comes_back_on_the_api(scim):
    for response in (scim.get("/nope"), scim.delete("/Schemas"), scim.get("/Users/x/y/z")):
        assert response.mimetype == "application/scim+json"
        assert not response.get_data(as_text=True).lstrip().startswith("<")


def test_behind_a_proxy_links_and_logged_ip_follow_forwarded_headers(make_app, tenant, scim_token):
    from sqlalchemy import select

    from models import ScimRequest, db

    app = make_app(PROXY_HOPS=1)
    scim = ScimClient(app.test_client(), scim_token)
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "idp.example.org"}
    response = scim.post("/Users", {"schemas": [USER], "userName": "proxied@example.com"}, headers=headers)
    assert response.get_json()["meta"]["location"].startswith("https://idp.example.org/scim/v2/Users/")
    db.session.expire_all()
    assert db.session.scalar(select(ScimRequest.ip).order_by(ScimRequest.id.desc())) == "203.0.113.9"
