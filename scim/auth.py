"""Which tenant a SCIM request is for, and which credential it carries (docs/design.md R9, R10, R12)."""

from __future__ import annotations

from flask import current_app, g, request

from scim.errors import NotFound, Unauthorized
from services import credentials, tenants


def authenticate() -> None:
    """Resolve tenant and credential for this request or raise the SCIM error that applies.

    Order matters: an unknown tenant, or one without the SCIM feature, answers 404 on every
    path even with a valid token (R10); only then is the token checked.
    """
    tenant = tenants.resolve_host(request.host, current_app.config.get("TENANT_BASE_DOMAIN"))
    if tenant is None or not tenant.learn_scim:
        raise NotFound("SCIM is not enabled for this tenant")
    g.scim_tenant = tenant
    credential = credentials.find(tenant, bearer_token())
    if credential is None:
        raise Unauthorized("the bearer token is missing, wrong, disabled or revoked")
    if credential.state != "active":
        # Logged against the credential, so its own page shows the IdP still calling with it.
        g.scim_credential = credential
        raise Unauthorized(f"this credential is {credential.state}", failure=f"credential_{credential.state}")
    g.scim_credential = credential


def bearer_token() -> str:
    """Return the token from `Authorization: Bearer <t>` or a bare `Authorization: <t>` (Okta's header mode)."""
    header = request.headers.get("Authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    return header
