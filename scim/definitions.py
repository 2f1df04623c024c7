"""What the SCIM surface supports, declared once (RFC 7643 §2, §4, §7, §8.7.1).

The same definitions drive `/Schemas`, PATCH path resolution, attribute projection and
input coercion, so what we publish is exactly what we implement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SERVICE_PROVIDER_CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition, as RFC 7643 §7 describes it."""

    name: str
    type: str = "string"  # string | boolean | decimal | integer | dateTime | reference | complex
    multi_valued: bool = False
    sub_attributes: tuple[Attribute, ...] = ()
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"  # readOnly | readWrite | immutable | writeOnly
    returned: str = "default"  # always | never | default | request
    uniqueness: str = "none"  # none | server | global
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    description: str = ""

    def sub(self, name: str) -> Attribute | None:
        """Return the sub-attribute called `name` (case-insensitive), if any."""
        lowered = name.lower()
        return next((a for a in self.sub_attributes if a.name.lower() == lowered), None)

    def to_scim(self) -> dict[str, Any]:
        """Render this definition as an RFC 7643 §7 attribute object."""
        body: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description or self.name,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            body["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            body["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            body["subAttributes"] = [a.to_scim() for a in self.sub_attributes]
        return body


@dataclass(frozen=True)
class Schema:
    """A schema URN with its attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        """Return the top-level attribute called `name` (case-insensitive), if any."""
        lowered = name.lower()
        return next((a for a in self.attributes if a.name.lower() == lowered), None)


@dataclass(frozen=True)
class ResourceType:
    """A resource type: its core schema, extensions and endpoint (RFC 7643 §6)."""

    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[Schema, ...] = field(default=())

    def schemas(self) -> tuple[Schema, ...]:
        """Return the core schema followed by the extensions."""
        return (self.schema, *self.extensions)

    def extension(self, urn: str) -> Schema | None:
        """Return the extension schema with this URN (case-insensitive), if any."""
        lowered = urn.lower()
        return next((s for s in self.extensions if s.id.lower() == lowered), None)


def split_urn(text: str, schemas: Iterable[Schema]) -> tuple[Schema | None, str | None]:
    """Split `[URN ":"] attr[.sub]` into the schema its URN names and the rest as sent (RFC 7644 §3.10).

    A URN holds ':' and '.' itself (`...:extension:enterprise:2.0:User:manager.value`), so the longest URN of
    `schemas` that prefixes the text, in any case, wins and the rest is what follows its ':' (pitfall 6 of
    docs/idp-behaviour.md §2). Text that is a URN alone gives `(schema, None)`; text that starts with none of the
    URNs gives `(None, text)`, which each caller judges (an unqualified name, or a URN it does not know).
    """
    lowered = text.lower()
    for schema in sorted(schemas, key=lambda s: len(s.id), reverse=True):
        urn = schema.id.lower()
        if lowered == urn:
            return schema, None
        if lowered.startswith(urn + ":"):
            return schema, text[len(urn) + 1 :]
    return None, text


def _typed(*values: str) -> Attribute:
    return Attribute("type", canonical_values=values, description="A label for the value's function.")


_primary = Attribute("primary", type="boolean", description="Marks the preferred value.")

_common_attributes = (
    Attribute(
        "id",
        mutability="readOnly",
        returned="always",
        case_exact=True,
        uniqueness="server",
        description="Identifier assigned by the service provider.",
    ),
    Attribute("externalId", case_exact=True, description="Identifier assigned by the provisioning client."),
)

USER = Schema(
    id=USER_SCHEMA,
    name="User",
    description="A member of the tenant",
    attributes=(
        *_common_attributes,
        Attribute("userName", required=True, uniqueness="server", description="Unique login name, case-insensitive."),
        Attribute(
            "name",
            type="complex",
            sub_attributes=(
                Attribute("formatted"),
                Attribute("familyName"),
                Attribute("givenName"),
                Attribute("middleName"),
                Attribute("honorificPrefix"),
                Attribute("honorificSuffix"),
            ),
        ),
        Attribute("displayName"),
        Attribute("nickName"),
        Attribute("title"),
        Attribute("preferredLanguage"),
        Attribute("locale"),
        Attribute("timezone"),
        # Required in our schema: `active` is the member rung itself (R1), so it can be set but never
        # unassigned. Clients may still omit it on create (it defaults to true) and on PUT (unchanged).
        Attribute("active", type="boolean", required=True, description="False while the member is deactivated."),
        Attribute(
            "emails",
            type="complex",
            multi_valued=True,
            sub_attributes=(Attribute("value"), _typed("work", "home", "other"), _primary),
        ),
        Attribute(
            "phoneNumbers",
            type="complex",
            multi_valued=True,
            sub_attributes=(Attribute("value"), _typed("work", "home", "mobile", "fax", "pager", "other"), _primary),
        ),
        Attribute(
            "addresses",
            type="complex",
            multi_valued=True,
            sub_attributes=(
                Attribute("formatted"),
                Attribute("streetAddress"),
                Attribute("locality"),
                Attribute("region"),
                Attribute("postalCode"),
                Attribute("country"),
                _typed("work", "home", "other"),
                _primary,
            ),
        ),
        Attribute(
            "groups",
            type="complex",
            multi_valued=True,
            mutability="readOnly",
            sub_attributes=(
                Attribute("value", mutability="readOnly", case_exact=True),
                Attribute("$ref", type="reference", mutability="readOnly", reference_types=("Group",)),
                Attribute("display", mutability="readOnly"),
                Attribute("type", mutability="readOnly", canonical_values=("direct",)),
            ),
            description="Groups the member belongs to; read-only, changed through /Groups.",
        ),
    ),
)

ENTERPRISE_USER = Schema(
    id=ENTERPRISE_USER_SCHEMA,
    name="EnterpriseUser",
    description="Enterprise user extension",
    attributes=(
        Attribute("employeeNumber"),
        Attribute("costCenter"),
        Attribute("organization"),
        Attribute("division"),
        Attribute("department"),
        Attribute(
            "manager",
            type="complex",
            sub_attributes=(
                Attribute("value", case_exact=True),
                Attribute("$ref", type="reference", mutability="readOnly", reference_types=("User",)),
                Attribute("displayName", mutability="readOnly"),
            ),
        ),
    ),
)

GROUP = Schema(
    id=GROUP_SCHEMA,
    name="Group",
    description="A cohort of the tenant",
    attributes=(
        *_common_attributes,
        Attribute("displayName", required=True, uniqueness="server", description="The cohort's name."),
        Attribute(
            "members",
            type="complex",
            multi_valued=True,
            sub_attributes=(
                Attribute("value", mutability="immutable", case_exact=True),
                Attribute("$ref", type="reference", mutability="immutable", reference_types=("User",)),
                Attribute(
                    "display", mutability="readOnly", returned="request"
                ),  # only on request: clients compare members as sent
                Attribute("type", mutability="immutable", canonical_values=("User",)),
            ),
        ),
    ),
)

USER_RESOURCE = ResourceType("User", "/Users", "Tenant members", USER, (ENTERPRISE_USER,))
GROUP_RESOURCE = ResourceType("Group", "/Groups", "Tenant cohorts", GROUP)
RESOURCE_TYPES = (USER_RESOURCE, GROUP_RESOURCE)
SCHEMAS = (USER, ENTERPRISE_USER, GROUP)
