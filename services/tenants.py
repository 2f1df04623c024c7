"""Tenants: creation, lookup by slug or Host, and the SCIM feature switch (docs/design.md R10, R12)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Tenant, db
from services.errors import Conflict, InvalidInput, NotFound
from services.validation import LINE_BREAKING, SLUG

DEFAULT_SLUG = "default"
NAME_MAX = 200  # the column's length; PostgreSQL refuses longer values


def create_tenant(slug: str, name: str | None = None, *, learn_scim: bool = True) -> Tenant:
    """Create a tenant; the slug doubles as its subdomain."""
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise InvalidInput("slug must be 1-63 lowercase letters, digits or hyphens, not starting or ending with '-'")
    name = (name or "").strip() or slug
    if len(name) > NAME_MAX:
        raise InvalidInput(f"name must be at most {NAME_MAX} characters")
    if LINE_BREAKING.search(name):
        raise InvalidInput("name must not contain tabs, newlines or other control characters")
    tenant = Tenant(slug=slug, name=name, learn_scim=learn_scim)
    db.session.add(tenant)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"tenant '{slug}' already exists", "slug") from None
    return tenant


def get_by_slug(slug: str) -> Tenant:
    """Return the tenant with this slug or raise NotFound."""
    tenant: Tenant | None = db.session.scalar(select(Tenant).where(Tenant.slug == slug.strip().lower()))
    if tenant is None:
        raise NotFound(f"no tenant '{slug}'")
    return tenant


def find_by_slug(slug: str) -> Tenant | None:
    """Return the tenant with this (already normalised) slug, or None."""
    return db.session.scalar(select(Tenant).where(Tenant.slug == slug))


def list_tenants() -> list[Tenant]:
    """Return every tenant, oldest first."""
    return list(db.session.scalars(select(Tenant).order_by(Tenant.id)))


def set_scim(tenant: Tenant, enabled: bool) -> Tenant:
    """Switch the `learn_scim` feature on or off for a tenant (R10)."""
    tenant.learn_scim = enabled
    db.session.commit()
    return tenant


def ensure_default() -> tuple[Tenant, bool]:
    """Return the default tenant, creating it (SCIM on) when missing; the flag says if it was created."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == DEFAULT_SLUG))
    if tenant is not None:
        return tenant, False
    return create_tenant(DEFAULT_SLUG, "Default tenant", learn_scim=True), True


def resolve_host(host: str | None, base_domain: str | None) -> Tenant | None:
    """Pick the tenant a request's Host names (docs/design.md §8), or None when it names none."""
    slug = host_slug(host, base_domain)
    return None if slug is None else db.session.scalar(select(Tenant).where(Tenant.slug == slug))


def host_slug(host: str | None, base_domain: str | None) -> str | None:
    """Return the slug of the tenant a request's Host names, or None when it names none (no query).

    With no base domain, the single default tenant serves every request. With one,
    `acme.example.com` selects `acme`; the bare domain and unknown subdomains select nothing.
    """
    if not base_domain:
        return DEFAULT_SLUG
    hostname, colon, port = (host or "").strip().lower().rpartition(":")
    if not colon:
        hostname = port
    elif port and not (port.isascii() and port.isdigit()):
        return None  # e.g. `acme.example.com:80@evil.test`: not a port, so not a host we serve
    hostname = hostname.rstrip(".")
    suffix = "." + base_domain.strip().lower().strip(".")
    if not hostname.endswith(suffix):
        return None
    slug = hostname[: -len(suffix)]
    return slug if SLUG.match(slug) else None
