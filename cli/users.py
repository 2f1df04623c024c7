"""`flask users`: local accounts, verification and roles, and handing members to the IdP (R1, R4)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cli.common import fail, tenant_named, user_named
from models import Role
from services import accounts, handover, roles
from services.errors import DomainError

users_cli = AppGroup("users", help="Create users, verify emails and change roles (the dashboard's rules apply).")

# --role takes the role's number; the help names each ("1 banned, 2 member, ...").
ROLE_NUMBER = click.IntRange(Role.BANNED.value, Role.SUPER_ADMIN.value)
ROLE_HELP = ", ".join(f"{role.value} {role.label}" for role in Role) + "."


@users_cli.command("create")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--email", required=True)
@click.option("--role", type=ROLE_NUMBER, required=True, help=ROLE_HELP)
@click.option("--password", help="Sign-in password (admins need one to use the dashboard).")
@click.option("--verified", is_flag=True, help="Mark the email as verified (needed for roles above 2).")
def users_create(slug: str, email: str, role: int, password: str | None, verified: bool) -> None:
    """Create a local (non-SCIM) user."""
    try:
        user = accounts.create_local_user(tenant_named(slug), email, role, password=password, verified=verified)
    except DomainError as error:
        fail(error)
    click.echo(f"{user.id}\t{user.email}\trole={user.role}\tverified={'yes' if user.email_verified else 'no'}")


@users_cli.command("verify")
@click.option("--tenant", "slug", required=True)
@click.option("--email", required=True)
def users_verify(slug: str, email: str) -> None:
    """Mark a user's email as verified (as the emailed link would)."""
    user = accounts.mark_verified(user_named(slug, email))
    click.echo(f"{user.id}\t{user.email}\tverified=yes")


@users_cli.command("role")
@click.option("--tenant", "slug", required=True)
@click.option("--email", required=True)
@click.option("--role", type=ROLE_NUMBER, required=True)
def users_role(slug: str, email: str, role: int) -> None:
    """Set a user's role; promotion past 2 needs a verified email (R4), and the last super-admin stays one."""
    try:
        user = roles.set_role(user_named(slug, email), role)
    except DomainError as error:
        fail(error)
    click.echo(f"{user.id}\t{user.email}\trole={user.role} ({user.role.label})")


@users_cli.command("adopt")
@click.option("--tenant", "slug", required=True)
@click.option("--email", help="The local member to hand over.")
@click.option("--all-members", is_flag=True, help="Every live local member (role 1 or 2) of the tenant.")
def users_adopt(slug: str, email: str | None, all_members: bool) -> None:
    """Hand local members to the IdP (userName = email); one line each: id, email, adopted or the reason not."""
    if bool(email) == all_members:
        raise click.UsageError("give either --email or --all-members")
    tenant = tenant_named(slug)
    users = handover.adoptable(tenant.id) if all_members else [user_named(slug, email)]
    failed = False
    for user in users:
        user_id, address = user.id, user.email
        try:
            handover.adopt(tenant, user_id)
        except DomainError as error:
            failed = True
            click.echo(f"{user_id}\t{address}\tnot adopted: {error.message}")
        else:
            click.echo(f"{user_id}\t{address}\tadopted\tuserName={address}")
    if failed and not all_members:
        raise click.exceptions.Exit(1)


@users_cli.command("duplicates")
@click.option("--tenant", "slug", required=True)
def users_duplicates(slug: str) -> None:
    """List SCIM accounts made beside local ones: SCIM id, userName, local id, email, mergeable (tab-separated)."""
    for pair in handover.duplicate_pairs(tenant_named(slug).id, limit=10_000):
        scim_user, local = pair.scim_user, pair.local_user
        mergeable = "yes" if pair.mergeable else "no (role above member)"
        click.echo(f"{scim_user.scim_id}\t{scim_user.user_name}\t{local.id}\t{local.email}\tmergeable={mergeable}")


@users_cli.command("merge")
@click.option("--tenant", "slug", required=True)
@click.option("--scim-id", required=True, help="The SCIM account the IdP created.")
@click.option("--email", required=True, help="The local account's email.")
def users_merge(slug: str, scim_id: str, email: str) -> None:
    """Merge a SCIM twin into the local account with this email; the local account keeps its id."""
    tenant = tenant_named(slug)
    pair = next((p for p in handover.duplicate_pairs(tenant.id, limit=10_000) if p.scim_user.scim_id == scim_id), None)
    local = user_named(slug, email)
    if pair is None or pair.local_user.id != local.id:
        raise click.ClickException(handover.NOT_A_PAIR)
    try:
        user = handover.merge(tenant, pair.scim_user.id, local.id)
    except DomainError as error:
        fail(error)
    click.echo(f"{user.id}\t{user.email}\tmerged\tscim_id={user.scim_id}\tuserName={user.user_name}")
