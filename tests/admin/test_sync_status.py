"""First-sync logic without an app: checklist, IdP recognition, and the advice per failure kind."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Row
from sqlalchemy.engine.result import result_tuple

from admin import sync_status
from services.request_log import COLUMNS

# A request-log row as services.request_log reads it (plain columns, not an ORM object), as the views pass them.
_LOGGED = result_tuple([column.key for column in COLUMNS])


def logged(**values: object) -> Row:
    """Return a request-log row with these values, every other column None."""
    return _LOGGED([values.get(column.key) for column in COLUMNS])


FAILURES = [
    "invalid_token",
    "not_found",
    "not_visible",
    "no_super_admin",
    "uniqueness",
    "invalidFilter",
    "invalidValue",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "mutability",
    "method_not_allowed",
    "unsupported_media_type",
    "server_error",
    "not_implemented",
    "rate_limited",
    "too_many_failures",
]


def done(operations) -> dict[str, bool]:
    return {step.key: step.done for step in sync_status.checklist(operations)}


def test_nothing_seen_ticks_nothing():
    assert done([]) == dict.fromkeys(
        ["connection", "user_created", "user_updated", "user_deactivated", "group_created", "members_changed"], False
    )


@pytest.mark.parametrize("operation", ["connection.tested", "users.searched", "groups.searched", "user.read"])
def test_any_successful_operation_is_a_connection_test(operation):
    assert done([operation])["connection"] is True


@pytest.mark.parametrize(
    ("operation", "step"),
    [
        ("user.created", "user_created"),
        ("user.updated", "user_updated"),
        ("user.deactivated", "user_deactivated"),
        ("user.deleted", "user_deactivated"),  # Entra may delete where Okta deactivates
        ("group.created", "group_created"),
        ("group.members_changed", "members_changed"),
    ],
)
def test_each_step_has_its_proof(operation, step):
    ticked = done([operation])
    assert ticked[step] is True and ticked["connection"] is True
    assert sum(ticked.values()) == 2


def test_look_alikes_prove_nothing():
    ticked = done(["user.reactivated", "group.updated", "group.deleted"])
    assert ticked["connection"] is True
    assert not any(value for key, value in ticked.items() if key != "connection")


def test_every_step_says_how_to_get_there():
    assert all(step.label and step.how for step in sync_status.checklist([]))


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        ("Okta SCIM Client 1.0.0", "Okta"),
        ("OKTA SCIM Integration", "Okta"),
        ("Azure AD provisioning/1.0", "Entra ID"),
        ("Microsoft.Identity.Provisioning", "Entra ID"),
        ("Entra-Provisioning", "Entra ID"),
        ("OneLogin SCIM Provisioner", "OneLogin"),
        ("curl/8.5.0", None),
        ("", None),
        (None, None),
    ],
)
def test_idps_are_recognised_by_user_agent(agent, name):
    assert sync_status.recognise_client(agent) == name


def test_an_unknown_client_is_shown_by_the_start_of_its_user_agent():
    assert sync_status.client_label("curl/8.5.0") == "curl/8.5.0"
    assert sync_status.client_label("x" * 40) == "x" * 32 + "…"
    assert sync_status.client_label(None) == "—"


@pytest.mark.parametrize("failure", FAILURES)
def test_every_failure_kind_the_scim_side_records_has_advice(failure):
    hint = sync_status.failure_hint(failure, 400)
    assert hint and hint.endswith(".")


def test_advice_falls_back_on_the_status_and_is_never_given_for_success():
    assert sync_status.failure_hint(None, 401) == sync_status.HINTS["invalid_token"]
    assert sync_status.failure_hint("something-new", 409) == sync_status.HINTS["uniqueness"]
    assert sync_status.failure_hint("uniqueness", 201) is None
    assert sync_status.failure_hint(None, 418) is None


def test_log_entries_label_successes_by_operation_and_failures_by_kind():
    ok = logged(status=201, operation="user.created", user_agent="Okta SCIM Client 1.0.0")
    failed = logged(status=404, operation=None, failure="not_visible", user_agent="Azure AD")
    first, second = sync_status.log_entries([ok, failed])
    assert (first.label, first.client, first.hint) == ("user created", "Okta", None)
    assert (second.label, second.client) == ("not_visible", "Entra ID")
    assert "role is above member (2)" in second.hint


def test_log_entries_give_a_counted_row_its_requests_and_minute():
    start = datetime(2026, 12, 1, 17, 31)
    single = logged(status=401, at=start, failure="credential_revoked", count=1)
    counted = logged(status=429, at=start, failure="too_many_failures", count=57, bucket="k")
    first, second = sync_status.log_entries([single, counted])
    assert (first.count, first.until) == (1, None)
    assert (second.count, second.until) == (57, datetime(2026, 12, 1, 17, 32))
    assert "valid tokens still work" in second.hint


def test_clients_seen_keeps_first_appearance_order_without_repeats():
    rows = [logged(user_agent=agent) for agent in ("curl/8", "Azure AD", "Okta SCIM Client", "Azure AD")]
    assert sync_status.clients_seen(rows) == ["Entra ID", "Okta"]
