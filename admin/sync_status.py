"""A credential's sync in the dashboard's words: checklist labels, operation labels, client names, failure hints."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.database import AnyRow
from services.first_sync import COUNTED_WINDOW, milestones_reached


@dataclass(frozen=True)
class Step:
    """One first-sync milestone and whether the credential's log shows it yet."""

    key: str
    label: str
    how: str
    done: bool


# Per milestone (services.first_sync): its label, and what to do in the IdP to get there.
_STEP_WORDS = {
    "connection": (
        "Connection test seen",
        "Okta: Test API Credentials. Entra ID: Test Connection. Or run the curl line above.",
    ),
    "user_created": ("First user created", "Assign a person to the app in the IdP."),
    "user_updated": ("First profile update", "Change an assigned person's name or email in the IdP."),
    "user_deactivated": ("First deactivation", "Unassign or suspend a person in the IdP."),
    "group_created": ("First group", "Push a group from the IdP."),
    "members_changed": ("First membership change", "Add or remove a member of a pushed group."),
}

OPERATION_LABELS = {
    "connection.tested": "connection test",
    "users.searched": "users searched",
    "resources.searched": "users and groups searched",
    "user.read": "user read",
    "user.created": "user created",
    "user.updated": "user updated",
    "user.deactivated": "user deactivated",
    "user.reactivated": "user reactivated",
    "user.deleted": "user deprovisioned",
    "groups.searched": "groups searched",
    "group.read": "group read",
    "group.created": "group created",
    "group.updated": "group updated",
    "group.members_changed": "members changed",
    "group.deleted": "group deleted",
}

# What to do, per failure kind the SCIM side records (product guide, troubleshooting).
HINTS = {
    "invalid_token": "The token is wrong, disabled or revoked. Paste the token of an active credential into "
    "the IdP, or issue a new one on this page.",
    "credential_disabled": "This credential is disabled. Enable it on this page, or switch the IdP to an active one.",
    "credential_revoked": "This credential is revoked for good. Issue a new one and paste its token into the IdP.",
    "not_visible": "SCIM may not touch this user or group: it is not SCIM-managed, or its role is above member (2). "
    "Manage it in the dashboard, not through the IdP.",
    "not_found": "No such user or group for SCIM: it was deprovisioned here or never pushed. Let the IdP "
    "create it again.",
    "no_super_admin": "Groups need a super-admin (role 5) to own their cohorts. Promote a verified admin to "
    "super-admin, then push the group again.",
    "concurrent_change": "The user changed in the dashboard while this request ran; the IdP's retry will settle it.",
    "uniqueness": "Another account in this tenant already has this userName or externalId. Change it in the IdP, "
    "or match the existing account instead of creating a new one.",
    "invalidFilter": "The IdP sent a filter this service does not support. Check the matching attribute "
    "(userName for users, displayName for groups).",
    "invalidValue": "A required value is missing or malformed, often userName or an email. Check the IdP's "
    "attribute mappings.",
    "invalidSyntax": "The body is not valid SCIM JSON. Check custom attribute mappings in the IdP.",
    "invalidPath": "A PATCH names an attribute this service does not support. Remove or fix that mapping.",
    "noTarget": "A PATCH filter matched nothing, for example an email type the user does not have.",
    "mutability": "The IdP tried to change a read-only attribute such as id. Remove that mapping.",
    "method_not_allowed": "This endpoint does not take that method; bulk requests are not supported.",
    "not_implemented": "The IdP asked for a feature this service does not offer (bulk, sorting, or password change).",
    "unsupported_media_type": "Send Content-Type application/scim+json or application/json.",
    "server_error": "The request failed on our side. The IdP retries by itself; if it keeps failing, check the "
    "server log for this time.",
    "rate_limited": "Too many requests at once. The IdP backs off and retries; no action is needed unless it persists.",
    "too_many_failures": "Too many requests with a missing, wrong, disabled or revoked token came from this address, "
    "so its failed attempts are answered 429 for up to a minute; valid tokens still work. Give the IdP the token "
    "of an active credential.",
}


def skipped_hint(skipped: int) -> str:
    """Say what a group write's skipped member ids mean and what to do about them (R7)."""
    ids = "1 member id" if skipped == 1 else f"{skipped:,} member ids"
    return (
        f"{ids} named no user SCIM can see, so {'it was' if skipped == 1 else 'they were'} skipped and the rest "
        "applied: people never pushed or deprovisioned here, promoted past member, local accounts, or groups. "
        "Push the missing people from the IdP; manage promoted and local ones in the dashboard."
    )


_HINTS_BY_STATUS = {401: "invalid_token", 404: "not_found", 409: "uniqueness", 503: "server_error"}


@dataclass(frozen=True)
class LogEntry:
    """A logged request, or a counted run of refusals, as the detail page shows it."""

    request: AnyRow  # a row of the request log (services.request_log selects its columns)
    client: str
    label: str
    hint: str | None
    count: int
    until: datetime | None  # for a counted row, the end of its minute


def checklist(operations_seen: Iterable[str]) -> list[Step]:
    """Tick each first-sync step whose proof appears among the credential's successful operations."""
    return [Step(key, *_STEP_WORDS[key], done) for key, done in milestones_reached(operations_seen)]


def recognise_client(user_agent: str | None) -> str | None:
    """Name the IdP behind a User-Agent, or None when it is not one we recognise.

    Okta sends "Okta SCIM Client 1.0.0" (and "OKTA SCIM Integration" in its test suite). Entra ID's
    User-Agent is not documented, so any mention of Azure, Microsoft or Entra is taken as Entra ID;
    OneLogin's SCIM provisioner is named when its User-Agent says so. Workday has no SCIM client of
    its own: it reaches us through Okta or Entra (shown as those) or a Studio integration (unnamed).
    """
    agent = (user_agent or "").lower()
    if "okta" in agent:
        return "Okta"
    if any(word in agent for word in ("entra", "azure", "microsoft")):
        return "Entra ID"
    if "onelogin" in agent:
        return "OneLogin"
    return None


def client_label(user_agent: str | None) -> str:
    """Return the IdP's name, else the start of the User-Agent, else a dash."""
    known = recognise_client(user_agent)
    if known:
        return known
    agent = (user_agent or "").strip()
    return agent[:32] + ("…" if len(agent) > 32 else "") if agent else "—"


def failure_hint(failure: str | None, status: int) -> str | None:
    """Say what to do about a failed request; None for a success or an unknown kind."""
    if status < 400:
        return None
    return HINTS.get(failure or "") or HINTS.get(_HINTS_BY_STATUS.get(status, ""))


def operation_labels(operation: str | None) -> list[str]:
    """Return the label of each kind of change a logged request made, in the order recorded."""
    return [OPERATION_LABELS.get(op, op) for op in (operation or "").split()]


# What a failure reason code (scim/errors.py, the filter compiler) means; the part after ":" is our attribute.
REASONS = {
    "filter_attribute_unknown": "The filter names an attribute this service does not know",
    "filter_attribute_not_filterable": "The filter names an attribute this service cannot filter on",
}


def reason_text(reason: str | None) -> str | None:
    """Say in words why a request failed, from its fixed reason code; None when none was recorded."""
    if not reason:
        return None
    code, _, attribute = reason.partition(":")
    text = REASONS.get(code, code)
    return f"{text}: {attribute}." if attribute else f"{text}."


def log_entries(requests: Iterable[AnyRow]) -> list[LogEntry]:
    """Attach the client name, operation label and hint to each logged request."""
    return [
        LogEntry(
            request=row,
            client=client_label(row.user_agent),
            label=", ".join(operation_labels(row.operation)) if row.status < 400 else (row.failure or ""),
            hint=failure_hint(row.failure, row.status)
            or (skipped_hint(row.skipped_members) if row.skipped_members else None),
            count=row._mapping["count"] or 1,  # `row.count` would read as the tuple method to a type checker
            until=row.at + COUNTED_WINDOW if row.bucket else None,
        )
        for row in requests
    ]


def clients_seen(requests: Iterable[AnyRow]) -> list[str]:
    """Return the recognised IdPs among these requests, in order of first appearance."""
    names: list[str] = []
    for row in requests:
        name = recognise_client(row.user_agent)
        if name and name not in names:
            names.append(name)
    return names
