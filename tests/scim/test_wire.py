"""Wire rules (docs/design.md §4): media types, auth header forms, paths, and SCIM JSON for every error."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ScimClient, scim_error
from tests.helpers import REDIS_URL, USER, require_redis


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

    monkeypatch.setattr(users.member_reads, "scim_user", explode)
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


# --- hostile input: whatever a client sends is a SCIM 4xx, never a 500 -------------------------------------------


def _last_log_path() -> str:
    from sqlalchemy import select

    from models import ScimRequest, db

    db.session.expire_all()
    return db.session.scalar(select(ScimRequest.path).order_by(ScimRequest.id.desc()))


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"schemas": [USER], "userName": "a\x00b"}, "userName"),
        ({"schemas": [USER], "userName": "a\ud800b"}, "userName"),
        ({"schemas": [USER], "userName": "x@example.com", "name": {"givenName": "\udfff"}}, "name.givenName"),
        ({"schemas": [USER], "userName": "x@b.t", "emails": [{"value": "x@b.t", "type": "w\x00"}]}, "emails[0].type"),
        ({"schemas": [USER], "userName": "x@example.com", "na\x00me": "x"}, "attribute name"),
        ({"Operations": [{"op": "add", "value": {"title": ["\x00"]}}]}, "Operations[0].value.title[0]"),
    ],
)
def test_nul_and_lone_surrogates_in_bodies_are_400_without_echo(scim, body, named):
    # PostgreSQL cannot store either (500 before), SQLite kept the NUL.
    response = scim.post("/Users", body)
    error = scim_error(response, 400, "invalidValue")
    assert named in error["detail"]
    text = response.get_data(as_text=True)
    assert "\\u0000" not in text and "\\ud800" not in text and "\\udfff" not in text
    assert scim.get("/Users").get_json()["totalResults"] == 0


def test_raw_utf8_encoded_surrogate_is_400(scim):
    # json.loads decodes bytes with `surrogatepass`, so ED A0 80 arrives as a lone surrogate.
    body = b'{"schemas": ["' + USER.encode() + b'"], "userName": "a\xed\xa0\x80b"}'
    scim_error(scim.post("/Users", body), 400, "invalidValue")


def test_nul_in_a_patch_or_search_body_is_400(scim):
    created = scim.post("/Users", {"schemas": [USER], "userName": "nul@example.com"}).get_json()
    patch = {"Operations": [{"op": "replace", "path": "title", "value": "x\x00"}]}
    scim_error(scim.patch(f"/Users/{created['id']}", patch), 400, "invalidValue")
    scim_error(scim.post("/Users/.search", {"filter": 'userName eq "a\x00"'}), 400, "invalidValue")
    scim_error(scim.post("/Groups", {"displayName": "\x00"}), 400, "invalidValue")


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,
        '{"a":' * 100_000,
        json.dumps({"schemas": [USER], "userName": "deep@example.com", "x": _nested(100)}),
    ],
)
def test_deeply_nested_bodies_are_400_invalid_syntax(scim, body):
    scim_error(scim.post("/Users", body), 400, "invalidSyntax")


@pytest.mark.parametrize("resource", ["Users", "Groups"])
@pytest.mark.parametrize("segment", ["a%00b", "%00", "a%0Ab", "a%1Fb", "a%7Fb"])
def test_control_characters_in_ids_are_the_unknown_id_404_before_the_database(
    scim, super_admin, monkeypatch, resource, segment
):
    from services import cohorts, member_reads, provisioning

    unknown = scim.get(f"/{resource}/010101001010101011001010101011")

    def never(*args, **kwargs):
        raise AssertionError("the database was asked for a control character")

    monkeypatch.setattr(provisioning, "_scim_user", never)  # every write of a member reads it through this
    monkeypatch.setattr(member_reads, "scim_user", never)
    monkeypatch.setattr(cohorts, "get_scim_cohort", never)
    body = {"schemas": [USER], "userName": "x@example.com"} if resource == "Users" else {"displayName": "x"}
    patch = {"Operations": [{"op": "replace", "path": "displayName", "value": "y"}]}
    for method, args in (("get", ()), ("put", (body,)), ("patch", (patch,)), ("delete", ())):
        response = getattr(scim, method)(f"/{resource}/{segment}", *args)
        scim_error(response, 404)
        assert response.get_data() == unknown.get_data()
        assert "\x00" not in _last_log_path()


def test_invalid_utf8_in_an_id_is_a_plain_404(scim):
    # Werkzeug decodes the path with errors="replace": no lone surrogate reaches the database.
    scim_error(scim.get("/Users/%ED%A0%80"), 404)
    scim_error(scim.get("/Groups/%FF"), 404)


@pytest.mark.parametrize("resource", ["/Users", "/Groups"])
def test_huge_paging_numbers_are_clamped_before_sql(scim, resource):
    huge = "99999999999999999999"
    body = scim.get(f"{resource}?startIndex={huge}").get_json()
    assert (body["startIndex"], body["itemsPerPage"], body["Resources"]) == (2**31 - 1, 0, [])
    body = scim.get(f"{resource}?startIndex=-{huge}&count={huge}").get_json()
    assert body["startIndex"] == 1 and body["itemsPerPage"] <= 200
    assert scim.get(f"{resource}?count=-{huge}").get_json()["itemsPerPage"] == 0
    body = scim.post(f"{resource}/.search", {"startIndex": int(huge), "count": 2.0}).get_json()
    assert body["startIndex"] == 2**31 - 1


@pytest.mark.parametrize("raw", ["1e999", "-1e999", "1.5", "NaN", "Infinity", '"1.5"', '"1e3"', "true"])
@pytest.mark.parametrize("name", ["startIndex", "count"])
def test_non_integer_paging_numbers_are_400(scim, raw, name):
    response = scim.post("/Users/.search", f'{{"{name}": {raw}}}')
    error = scim_error(response, 400, "invalidValue")
    assert name in error["detail"]
    root = scim.post("/.search", f'{{"{name}": {raw}}}')
    scim_error(root, 400, "invalidValue")


def test_a_credential_over_its_rate_limit_gets_a_scim_429_with_retry_after(make_app, tenant, scim_token):
    from sqlalchemy import select

    from models import ScimRequest, db
    from services import credentials

    app = make_app(RATELIMIT_ENABLED=True, SCIM_RATE_LIMIT="3 per minute")
    idp = ScimClient(app.test_client(), scim_token)
    assert [idp.get("/Users").status_code for _ in range(3)] == [200, 200, 200]
    body = scim_error(idp.get("/Users"), 429)
    limited = idp.get("/ServiceProviderConfig")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert "too many requests" in body["detail"] and "3 per 1 minute" in body["detail"]
    # Another credential of the same tenant (rotation) is not starved by the first one.
    _, other = credentials.issue(tenant, "rotation")
    assert ScimClient(app.test_client(), other).get("/Users").status_code == 200
    db.session.expire_all()
    last = db.session.scalars(select(ScimRequest).where(ScimRequest.status == 429)).first()
    assert last.failure == "rate_limited" and last.credential_id is not None


def test_rate_limit_counts_are_shared_through_redis_across_hosts(make_app, tenant, scim_token):
    import uuid

    redis = require_redis()
    # Two apps stand for two hosts; a fresh key prefix keeps this run's counts its own.
    settings = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex,
        "SCIM_RATE_LIMIT": "4 per minute",
    }
    host_a = ScimClient(make_app(**settings).test_client(), scim_token)
    host_b = ScimClient(make_app(**settings).test_client(), scim_token)
    statuses = [host.get("/Users").status_code for host in (host_a, host_b, host_a, host_b, host_a)]
    assert statuses == [200, 200, 200, 200, 429]
    assert redis.keys(f"*{settings['RATELIMIT_KEY_PREFIX']}*"), "the counts did not go to Redis"
