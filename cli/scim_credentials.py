"""`flask scim`: SCIM bearer credentials, request-log retention, name clashes left by the Unicode fold, and the
member counts the database keeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from cli.common import fail, tenant_named
from models import ScimCredential, utcnow
from services import audit, credentials, member_counts, name_clashes
from services.errors import DomainError

scim_cli = AppGroup("scim", help="Issue, list, disable, enable and revoke SCIM bearer credentials.")


@scim_cli.command("issue")
@click.option("--tenant", "slug", required=True)
@click.option("--name", required=True, help='A descriptive name, e.g. "Okta production".')
@click.option("--slug", "credential_slug", help="Optional short identifier, unique in the tenant.")
def scim_issue(slug: str, name: str, credential_slug: str | None) -> None:
    """Issue a credential; the token is printed once, alone on the last line."""
    tenant = tenant_named(slug)
    try:
        credential, token = credentials.issue(tenant, name, credential_slug)
    except DomainError as error:
        fail(error)
    click.echo(
        f"credential {credential.id} issued for tenant {tenant.slug}; store the token now, it is not shown again:"
    )
    click.echo(token)


@scim_cli.command("list")
@click.option("--tenant", "slug", required=True)
def scim_list(slug: str) -> None:
    """List credentials: id, state, name, slug, token hint (tab-separated)."""
    for credential in credentials.for_tenant(tenant_named(slug)):
        hint = f"...{credential.token_hint}"
        click.echo(f"{credential.id}\t{credential.state}\t{credential.name}\t{credential.slug or '-'}\t{hint}")


def _credential_command(name: str, action: Callable[[ScimCredential], ScimCredential], help_text: str) -> None:
    @scim_cli.command(name, help=help_text)
    @click.argument("credential_id", type=int)
    def command(credential_id: int) -> None:
        try:
            credential = action(credentials.get(None, credential_id))
        except DomainError as error:
            fail(error)
        click.echo(f"{credential.id}\t{credential.state}")


_credential_command("revoke", credentials.revoke, "Revoke credential ID for good; its next request answers 401.")
_credential_command("disable", credentials.disable, "Disable credential ID until it is enabled again.")
_credential_command("enable", credentials.enable, "Enable a disabled credential ID.")


@scim_cli.command("prune-log")
@click.option(
    "--days",
    type=click.IntRange(1),
    help="Keep this many days of history (default: the REQUEST_LOG_DAYS setting, 90 unless changed).",
)
def scim_prune_log(days: int | None) -> None:
    """Delete SCIM request-log rows older than DAYS days (all tenants); print how many."""
    if days is None:
        days = current_app.config["REQUEST_LOG_DAYS"]
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise click.ClickException("REQUEST_LOG_DAYS must be a whole number of days, at least 1")
    removed = audit.prune(utcnow() - timedelta(days=days))
    click.echo(f"{removed}\trequest-log rows older than {days} days deleted")


@scim_cli.command("name-clashes")
def scim_name_clashes() -> None:
    """List live users and SCIM groups that share a name key with an older one since the Unicode fold.

    One line each: kind, tenant, SCIM id, SCIM id of the older one. Both keep working; rename one in the IdP.
    """
    for clash in name_clashes.name_clashes():
        click.echo(f"{clash.kind}\t{clash.tenant}\t{clash.scim_id}\t{clash.older_scim_id}")


@scim_cli.command("member-counts")
@click.option("--repair", is_flag=True, help="Set every count that differs to the count of the tenant's members.")
def scim_member_counts(repair: bool) -> None:
    """Check each tenant's kept count of SCIM-visible members (GET /Users's total) against the members themselves.

    One line per tenant that differs: tenant, kept count, members counted. Exits 1 when one differs, unless
    --repair set it right.
    """
    wrong = member_counts.check(repair=repair)
    for check in wrong:
        click.echo(f"{check.tenant}\t{check.kept}\t{check.counted}")
    if not wrong:
        click.echo("member counts: every tenant's count agrees with its members")
    elif repair:
        click.echo(f"member counts: {len(wrong)} repaired")
    else:
        raise click.ClickException(f"member counts: {len(wrong)} tenant(s) differ; run again with --repair")
