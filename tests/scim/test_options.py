"""OPTIONS on the SCIM surface: a 204 whose Allow header lists the methods, never an HTML 200."""

from __future__ import annotations

import pytest

from tests.conftest import scim_error


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/Users", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/Users/2819c223-7f76-453a-919d-413861904646", {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}),
        # .search also matches /Users/{id}, whose methods Flask lists too (a GET there is an id's 404).
        ("/Users/.search", {"POST", "GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}),
        ("/Groups", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a", {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}),
        ("/ServiceProviderConfig", {"GET", "HEAD", "OPTIONS"}),
        ("/Schemas", {"GET", "HEAD", "OPTIONS"}),
        ("/ResourceTypes/User", {"GET", "HEAD", "OPTIONS"}),
        ("//users/", {"GET", "HEAD", "POST", "OPTIONS"}),  # the normalised spelling of /Users
    ],
)
def test_options_answers_204_with_allow_and_no_body(scim, path, allowed):
    response = scim.open("OPTIONS", path)
    assert response.status_code == 204
    assert response.get_data() == b"" and "Content-Type" not in response.headers
    assert {method.strip() for method in response.headers["Allow"].split(",")} == allowed
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_options_without_a_token_is_a_scim_401(scim_anonymous):
    scim_error(scim_anonymous.open("OPTIONS", "/Users"), 401)


def test_options_on_a_path_that_does_not_exist_is_a_scim_404(scim):
    scim_error(scim.open("OPTIONS", "/Nothing"), 404)
