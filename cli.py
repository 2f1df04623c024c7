"""Operator CLI: `flask --app app tenants|users|scim ...` (output a script can read)."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

import origins
from models import Role, utcnow
from services import api_keys, audit, credentials, handover, members, name_clashes, setup, tenants
from services.errors import DomainError

tenants_cli = AppGroup("tenants", help="Create and list tenants; switch their SCIM feature.")
users_cli = AppGroup("users", help="Create users, verify emails and change roles (the dashboard's rules apply).")
scim_cli = AppGroup("scim", help="Issue, list, disable, enable and revoke SCIM bearer credentials.")
api_keys_cli = AppGroup("api-keys", help="Issue, list and revoke keys to the public API (/api/v1).")


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
    for group in (tenants_cli, users_cli, scim_cli, api_keys_cli):
        app.cli.add_command(group)
    app.cli.add_command(bootstrap)


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


def _fail(error: DomainError) -> None:
    raise click.ClickException(error.message)


def _tenant(slug: str):
    try:
        return tenants.get_by_slug(slug)
    except DomainError as error:
        _fail(error)


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (defaults to the slug).")
@click.option("--scim/--no-scim", default=True, show_default=True, help="Whether the learn_scim feature is on.")
def tenants_create(slug: str, name: str | None, scim: bool) -> None:
    """Create tenant SLUG (also its subdomain when TENANT_BASE_DOMAIN is set)."""
    try:
        tenant = tenants.create_tenant(slug, name, learn_scim=scim)
    except DomainError as error:
        _fail(error)
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
    tenant = tenants.set_scim(_tenant(slug), state == "on")
    click.echo(f"{tenant.slug}\tscim={'on' if tenant.learn_scim else 'off'}")


@users_cli.command("create")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--email", required=True)
@click.option(
    "--role", type=click.IntRange(1, 5), required=True, help="1 banned, 2 member, 3 moderator, 4 admin, 5 super-admin."
)
@click.option("--password", help="Sign-in password (admins need one to use the dashboard).")
@click.option("--verified", is_flag=True, help="Mark the email as verified (needed for roles above 2).")
def users_create(slug: str, email: str, role: int, password: str | None, verified: bool) -> None:
    """Create a local (non-SCIM) user."""
    try:
        user = members.create_local_user(_tenant(slug), email, role, password=password, verified=verified)
    except DomainError as error:
        _fail(error)
    click.echo(f"{user.id}\t{user.email}\trole={user.role}\tverified={'yes' if user.email_verified else 'no'}")


def _user(slug: str, email: str):
    user = members.find_by_email(_tenant(slug), email)
    if user is None:
        raise click.ClickException(f"no user with email {email} in tenant {slug}")
    return user


@users_cli.command("verify")
@click.option("--tenant", "slug", required=True)
@click.option("--email", required=True)
def users_verify(slug: str, email: str) -> None:
    """Mark a user's email as verified (as the emailed link would)."""
    user = members.mark_verified(_user(slug, email))
    click.echo(f"{user.id}\t{user.email}\tverified=yes")


@users_cli.command("role")
@click.option("--tenant", "slug", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.IntRange(1, 5), required=True)
def users_role(slug: str, email: str, role: int) -> None:
    """Set a user's role; promotion past 2 needs a verified email (R4), and the last super-admin stays one."""
    try:
        user = members.set_role(_user(slug, email), role)
    except DomainError as error:
        _fail(error)
    click.echo(f"{user.id}\t{user.email}\trole={user.role} ({user.role.label})")


@users_cli.command("adopt")
@click.option("--tenant", "slug", required=True)
@click.option("--email", help="The local member to hand over.")
@click.option("--all-members", is_flag=True, help="Every live local member (role 1 or 2) of the tenant.")
def users_adopt(slug: str, email: str | None, all_members: bool) -> None:
    """Hand local members to the IdP (userName = email); one line each: id, email, adopted or the reason not."""
    if bool(email) == all_members:
        raise click.UsageError("give either --email or --all-members")
    tenant = _tenant(slug)
    users = handover.adoptable(tenant.id) if all_members else [_user(slug, email)]
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
    for pair in handover.duplicate_pairs(_tenant(slug).id, limit=10_000):
        scim_user, local = pair.scim_user, pair.local_user
        mergeable = "yes" if pair.mergeable else "no (role above member)"
        click.echo(f"{scim_user.scim_id}\t{scim_user.user_name}\t{local.id}\t{local.email}\tmergeable={mergeable}")


@users_cli.command("merge")
@click.option("--tenant", "slug", required=True)
@click.option("--scim-id", required=True, help="The SCIM account the IdP created.")
@click.option("--email", required=True, help="The local account's email.")
def users_merge(slug: str, scim_id: str, email: str) -> None:
    """Merge a SCIM twin into the local account with this email; the local account keeps its id."""
    tenant = _tenant(slug)
    pair = next((p for p in handover.duplicate_pairs(tenant.id, limit=10_000) if p.scim_user.scim_id == scim_id), None)
    local = _user(slug, email)
    if pair is None or pair.local_user.id != local.id:
        raise click.ClickException(handover.NOT_A_PAIR)
    try:
        user = handover.merge(tenant, pair.scim_user.id, local.id)
    except DomainError as error:
        _fail(error)
    click.echo(f"{user.id}\t{user.email}\tmerged\tscim_id={user.scim_id}\tuserName={user.user_name}")


@scim_cli.command("issue")
@click.option("--tenant", "slug", required=True)
@click.option("--name", required=True, help='A descriptive name, e.g. "Okta production".')
@click.option("--slug", "credential_slug", help="Optional short identifier, unique in the tenant.")
def scim_issue(slug: str, name: str, credential_slug: str | None) -> None:
    """Issue a credential; the token is printed once, alone on the last line."""
    tenant = _tenant(slug)
    try:
        credential, token = credentials.issue(tenant, name, credential_slug)
    except DomainError as error:
        _fail(error)
    click.echo(
        f"credential {credential.id} issued for tenant {tenant.slug}; store the token now, it is not shown again:"
    )
    click.echo(token)


@scim_cli.command("list")
@click.option("--tenant", "slug", required=True)
def scim_list(slug: str) -> None:
    """List credentials: id, state, name, slug, token hint (tab-separated)."""
    for credential in credentials.for_tenant(_tenant(slug)):
        hint = f"...{credential.token_hint}"
        click.echo(f"{credential.id}\t{credential.state}\t{credential.name}\t{credential.slug or '-'}\t{hint}")


def _credential_command(name: str, action, help_text: str) -> None:
    @scim_cli.command(name, help=help_text)
    @click.argument("credential_id", type=int)
    def command(credential_id: int) -> None:
        try:
            credential = action(credentials.get(None, credential_id))
        except DomainError as error:
            _fail(error)
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
    tenant = _tenant(slug)
    try:
        key, token = api_keys.issue(tenant, name, expires.date() if expires else None)
    except DomainError as error:
        _fail(error)
    click.echo(f"API key {key.id} issued for tenant {tenant.slug}; store it now, it is not shown again:")
    click.echo(token)


@api_keys_cli.command("list")
@click.option("--tenant", "slug", required=True)
def api_keys_list(slug: str) -> None:
    """List keys: id, state, name, scopes, expires, last used, key hint (tab-separated)."""
    for key in api_keys.for_tenant(_tenant(slug)):
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
        _fail(error)
    click.echo(f"{key.id}\t{key.state}")
