"""What every command group shares: finding the tenant and user named on the command line, and failing plainly."""

from __future__ import annotations

import click

from services import accounts, tenants
from services.errors import DomainError


def fail(error: DomainError) -> None:
    raise click.ClickException(error.message)


def tenant_named(slug: str):
    try:
        return tenants.get_by_slug(slug)
    except DomainError as error:
        fail(error)


def user_named(slug: str, email: str):
    user = accounts.find_by_email(tenant_named(slug), email)
    if user is None:
        raise click.ClickException(f"no user with email {email} in tenant {slug}")
    return user
