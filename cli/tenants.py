"""`flask bootstrap` (the default tenant, its first sign-in link) and `flask tenants` (tenants, their SCIM switch)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

import origins
from cli.common import fail, tenant_named
from services import setup, tenants
from services.errors import DomainError

tenants_cli = AppGroup("tenants", help="Create and list tenants; switch their SCIM feature.")


@click.command("bootstrap")
@click.option(
    "--port",
    default=5000,
    show_default=True,
    help="Port the app listens on, for the printed link when PUBLIC_URL is unset.",
)
def bootstrap(port: int) -> None:
    """Make sure the default tenant exists and say how to sign in.

    While the tenant has no admin, print a fresh one-time setup link (it replaces any earlier one);
    the link is the last line of the output, alone. Its origin is PUBLIC_URL (or the tenant's host
    under TENANT_BASE_DOMAIN), else http://127.0.0.1:PORT.
    """
    tenant, created = tenants.ensure_default()
    click.echo(
        f"tenant '{tenant.slug}' {'created' if created else 'ready'} (SCIM {'on' if tenant.learn_scim else 'off'})"
    )
    origin = origins.public_origin(current_app.config, tenant.slug) or f"http://127.0.0.1:{port}"
    if setup.has_admin(tenant):
        click.echo("sign in at:")
        click.echo(origin + _path("admin.login"))
        return
    minutes = int(current_app.config.get("SETUP_LINK_MINUTES", setup.DEFAULT_MINUTES))
    store = setup.token_file(current_app.config.get("SETUP_TOKEN_FILE"), current_app.instance_path)
    token = setup.issue_link_token(tenant, store, minutes)
    click.echo(f"no admin yet; open this link to create the first super-admin (single use, expires in {minutes} min):")
    click.echo(origin + _path("admin.setup_account", token=token))


def _path(endpoint: str, **values) -> str:
    """Return the path of a view, without a request (whose host TRUSTED_HOSTS might refuse)."""
    adapter = current_app.url_map.bind("localhost", script_name=current_app.config.get("APPLICATION_ROOT") or "/")
    return adapter.build(endpoint, values)


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (defaults to the slug).")
@click.option("--scim/--no-scim", default=True, show_default=True, help="Whether the learn_scim feature is on.")
def tenants_create(slug: str, name: str | None, scim: bool) -> None:
    """Create tenant SLUG (also its subdomain when TENANT_BASE_DOMAIN is set)."""
    try:
        tenant = tenants.create_tenant(slug, name, learn_scim=scim)
    except DomainError as error:
        fail(error)
    click.echo(f"{tenant.id}\t{tenant.slug}\t{tenant.name}\tscim={'on' if tenant.learn_scim else 'off'}")


@tenants_cli.command("list")
def tenants_list() -> None:
    """List tenants: id, slug, name, scim=on|off (tab-separated)."""
    for tenant in tenants.list_tenants():
        click.echo(f"{tenant.id}\t{tenant.slug}\t{tenant.name}\tscim={'on' if tenant.learn_scim else 'off'}")


@tenants_cli.command("scim")
@click.argument("slug")
@click.argument("state", type=click.Choice(["on", "off"]))
def tenants_scim(slug: str, state: str) -> None:
    """Switch SCIM on or off for tenant SLUG; off makes every /scim/v2 path answer 404."""
    tenant = tenants.set_scim(tenant_named(slug), state == "on")
    click.echo(f"{tenant.slug}\tscim={'on' if tenant.learn_scim else 'off'}")
