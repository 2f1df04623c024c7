"""`flask api-keys`: keys to the public request-log API at /api/v1."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from cli.common import fail, tenant_named
from services import api_keys
from services.errors import DomainError

api_keys_cli = AppGroup("api-keys", help="Issue, list and revoke keys to the public API (/api/v1).")


@api_keys_cli.command("issue")
@click.option("--tenant", "slug", required=True)
@click.option("--name", required=True, help='What the key is for, e.g. "SIEM export".')
@click.option(
    "--expires",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="YYYY-MM-DD: the key is refused from 00:00 UTC that day (default: no expiry).",
)
def api_keys_issue(slug: str, name: str, expires: datetime | None) -> None:
    """Issue an API key; the key is printed once, alone on the last line."""
    tenant = tenant_named(slug)
    try:
        key, token = api_keys.issue(tenant, name, expires.date() if expires else None)
    except DomainError as error:
        fail(error)
    click.echo(f"API key {key.id} issued for tenant {tenant.slug}; store it now, it is not shown again:")
    click.echo(token)


@api_keys_cli.command("list")
@click.option("--tenant", "slug", required=True)
def api_keys_list(slug: str) -> None:
    """List keys: id, state, name, scopes, expires, last used, key hint (tab-separated)."""
    for key in api_keys.for_tenant(tenant_named(slug)):
        expires = key.expires_at.strftime("%Y-%m-%d") if key.expires_at else "never"
        used = key.last_used_at.strftime("%Y-%m-%dT%H:%M:%SZ") if key.last_used_at else "never"
        click.echo(
            f"{key.id}\t{key.state}\t{key.name}\t{key.scopes}\texpires={expires}\tused={used}\t...{key.token_hint}"
        )


@api_keys_cli.command("revoke")
@click.argument("key_id", type=int)
def api_keys_revoke(key_id: int) -> None:
    """Revoke API key ID for good; its next request answers 401."""
    try:
        key = api_keys.revoke(api_keys.get(None, key_id))
    except DomainError as error:
        fail(error)
    click.echo(f"{key.id}\t{key.state}")
