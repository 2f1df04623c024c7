"""/api/v1/openapi.json: a valid OpenAPI 3.1 document of every endpoint, parameter and schema, and true to the API."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from api.schemas import RequestLogQuery
from tests.api.conftest import ApiClient, log_row


@pytest.fixture
def document(client, tenant) -> dict:
    response = ApiClient(client, None).get("/openapi.json")  # no key needed
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def conforms(document: dict, schema_name: str, body: dict) -> None:
    """Validate a body against a component schema, resolving its references inside the document."""
    schema = {**document["components"]["schemas"][schema_name], "components": document["components"]}
    Draft202012Validator(schema).validate(body)


def test_the_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/api/v1"}]


def test_every_route_of_the_api_is_described_with_its_methods(app, document):
    routes = {
        rule.rule.removeprefix("/api/v1").replace("<id:credential_id>", "{credential_id}"): {
            m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}
        }
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
    }
    assert {path: set(ops) for path, ops in document["paths"].items()} == routes
    assert len(routes) == 4


@pytest.mark.parametrize("path", ["/scim-requests", "/scim-credentials/{credential_id}/requests"])
def test_every_query_parameter_is_described(document, path):
    operation = document["paths"][path]["get"]
    query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert query == set(RequestLogQuery().fields)
    assert all(p.get("description") for p in operation["parameters"] if p["in"] == "query")
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    for status in ("400", "401", "403", "404", "406", "429"):
        assert "application/problem+json" in operation["responses"][status]["content"]
    assert operation["security"] == [{"apiKey": ["scim-requests:read"]}]


def test_real_answers_conform_to_the_documented_schemas(api, tenant, credential, document):
    log_row(tenant.id, credential.id, path="/scim/v2/Users/u-1", operation="user.read")
    log_row(tenant.id, None, status=401, failure="invalid_token", user_agent=None, ip=None)
    page = api.get("/scim-requests?limit=1").get_json()
    conforms(document, "RequestPage", page)
    assert page["next"] is not None
    conforms(document, "RequestPage", api.get(page["next"].replace("limit=1", "limit=5")).get_json())
    conforms(document, "CredentialList", api.get("/scim-credentials").get_json())
    conforms(document, "Problem", api.get("/scim-requests?limit=0").get_json())
    conforms(document, "Problem", ApiClient(api.client, None).get("/scim-requests").get_json())
    with pytest.raises(Exception, match="is not of type"):
        conforms(document, "RequestPage", {"data": [{"id": "1"}], "next": None})
