"""Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, url_for

from scim import bp
from scim.definitions import (
    RESOURCE_TYPE_SCHEMA,
    RESOURCE_TYPES,
    SCHEMA_SCHEMA,
    SCHEMAS,
    SERVICE_PROVIDER_CONFIG_SCHEMA,
    ResourceType,
    Schema,
)
from scim.errors import NotFound
from scim.wire import list_response, scim_response


@bp.get("/ServiceProviderConfig", strict_slashes=False)
def service_provider_config() -> Response:
    """Describe what we support (RFC 7643 §5); the IdPs' connection test reads it."""
    g.scim_operation = "connection.tested"
    body = {
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": current_app.config["SCIM_MAX_RESULTS"]},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "An ms_scim_ credential issued in the admin dashboard, sent as 'Authorization: Bearer'",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": url_for("scim.service_provider_config", _external=True),
        },
    }
    return scim_response(body)


def _resource_type_body(resource_type: ResourceType) -> dict[str, Any]:
    return {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": resource_type.name,
        "name": resource_type.name,
        "endpoint": resource_type.endpoint,
        "description": resource_type.description,
        "schema": resource_type.schema.id,
        "schemaExtensions": [{"schema": ext.id, "required": False} for ext in resource_type.extensions],
        "meta": {
            "resourceType": "ResourceType",
            "location": url_for("scim.resource_type", name=resource_type.name, _external=True),
        },
    }


def _schema_body(schema: Schema) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": [a.to_scim() for a in schema.attributes],
        "meta": {"resourceType": "Schema", "location": url_for("scim.schema", urn=schema.id, _external=True)},
    }


@bp.get("/ResourceTypes", strict_slashes=False)
def resource_types() -> Response:
    """List the User and Group resource types."""
    bodies = [_resource_type_body(rt) for rt in RESOURCE_TYPES]
    return scim_response(list_response(bodies, len(bodies), 1))


@bp.get("/ResourceTypes/<name>", strict_slashes=False)
def resource_type(name: str) -> Response:
    """Show one resource type by name (case-insensitive)."""
    found = next((rt for rt in RESOURCE_TYPES if rt.name.lower() == name.lower()), None)
    if found is None:
        raise NotFound(f"no resource type '{name}'")
    return scim_response(_resource_type_body(found))


@bp.get("/Schemas", strict_slashes=False)
def schemas() -> Response:
    """List the schemas, with only the attributes we really support."""
    bodies = [_schema_body(s) for s in SCHEMAS]
    return scim_response(list_response(bodies, len(bodies), 1))


@bp.get("/Schemas/<path:urn>", strict_slashes=False)
def schema(urn: str) -> Response:
    """Show one schema by URN (case-insensitive)."""
    found = next((s for s in SCHEMAS if s.id.lower() == urn.lower()), None)
    if found is None:
        raise NotFound("no such schema")
    return scim_response(_schema_body(found))
