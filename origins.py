"""Where the install is reached: the origin of the links it hands out, and the Host names it answers.

Every absolute link that leaves a request (mailed verification and set-password links, the setup link
printed on the console, the SCIM base URL an admin copies into an IdP) is built from configuration,
never from the Host or X-Forwarded-Host header: whoever sends a request chooses those, and a link built
from them would carry a live token to their server (`mail_link` builds the mailed ones). The same configuration
gives Flask's TRUSTED_HOSTS, so a request for a host the install does not serve is refused with a 400 before
any view runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app, url_for

import logsafe
from services.errors import DomainError

if TYPE_CHECKING:  # config.py imports this module: it need not load the models
    from models import Tenant

SLUG = "{slug}"

log = logsafe.logger(__name__)


def check_public_url(value: object) -> str | None:
    """Return PUBLIC_URL as an origin without a trailing slash, or raise ValueError saying what is wrong."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError("PUBLIC_URL must be a string such as https://learn.example.com")
    url = value.strip().rstrip("/")
    parts = urlsplit(url.replace(SLUG, "tenant"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"PUBLIC_URL must start with http:// or https:// and name a host, not {value!r}")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"PUBLIC_URL must be an origin (scheme, host, optional port) and nothing else, not {value!r}")
    host = urlsplit(url).netloc
    if SLUG in url and not host.startswith(SLUG + "."):
        raise ValueError(f"{SLUG} may only stand for the first label of PUBLIC_URL's host, not in {value!r}")
    return url


def base_domain(config: Mapping[str, Any]) -> str | None:
    """Return TENANT_BASE_DOMAIN without surrounding dots, or None."""
    return (config.get("TENANT_BASE_DOMAIN") or "").strip().strip(".").lower() or None


def public_origin(config: Mapping[str, Any], slug: str) -> str | None:
    """Return the origin tenant `slug` is reached at, from configuration only; None when nothing says.

    PUBLIC_URL wins (`{slug}` in it stands for the tenant's slug); else, with TENANT_BASE_DOMAIN, the
    tenant's own subdomain in PREFERRED_URL_SCHEME.
    """
    public = check_public_url(config.get("PUBLIC_URL"))
    if public:
        return public.replace(SLUG, slug)
    domain = base_domain(config)
    if domain:
        return f"{config.get('PREFERRED_URL_SCHEME') or 'https'}://{slug}.{domain}"
    return None


def trusted_hosts(config: Mapping[str, Any]) -> list[str] | None:
    """Return the Host names to accept: TRUSTED_HOSTS plus those PUBLIC_URL and TENANT_BASE_DOMAIN imply.

    A leading dot accepts the name and every subdomain of it (werkzeug's rule). None, when nothing is
    configured, accepts any Host: only a bare development setup runs like that, and it mails no links.
    """
    hosts = [host.lower() for host in _listed(config.get("TRUSTED_HOSTS"))]
    public = check_public_url(config.get("PUBLIC_URL"))
    if public:
        host = urlsplit(public).hostname or ""
        if ":" in host:
            host = f"[{host}]"  # an IPv6 literal, written as the Host header writes it
        hosts.append("." + host.removeprefix(SLUG + ".") if host.startswith(SLUG + ".") else host)
    domain = base_domain(config)
    if domain:
        hosts.append("." + domain)
    return list(dict.fromkeys(hosts)) or None


def _listed(value: object) -> list[str]:
    """Read TRUSTED_HOSTS given as a list, or as one string of names separated by commas or spaces."""
    if not value:
        return []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list | tuple | set) or not all(isinstance(item, str) for item in value):
        raise ValueError("TRUSTED_HOSTS must be a list of host names, or one string of names separated by commas")
    return [item.strip() for item in value if item.strip()]


class NoLinkOrigin(DomainError):
    """Nothing in the configuration says where the dashboard is reached, so no link can be mailed."""

    def __init__(self) -> None:
        super().__init__(NO_ORIGIN)


NO_ORIGIN = "this server's public address is not configured (PUBLIC_URL), so it cannot mail links"


def link_origin(tenant: Tenant) -> str | None:
    """Return the origin of `tenant`'s mailed links, or None, saying so in the log for the operator."""
    origin = public_origin(current_app.config, tenant.slug)
    if origin is None:
        log.warning("mail: no link sent: set PUBLIC_URL (or TENANT_BASE_DOMAIN) to the public address")
    return origin


def mail_link(tenant: Tenant, endpoint: str, **values: Any) -> str:
    """Build the absolute link for a mail from configuration, never from the request.

    The Host header (or X-Forwarded-Host) is whatever the sender wrote: `Host: attacker.example` on a
    public form would otherwise mail a live token to someone else's server.
    """
    origin = link_origin(tenant)
    if origin is None:
        raise NoLinkOrigin()
    return origin + url_for(endpoint, **values)
