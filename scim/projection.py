"""`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9), applied to a representation."""

from __future__ import annotations

from typing import Any

from scim.definitions import ResourceType, split_urn
from scim.errors import InvalidValue

_ALWAYS = {"id", "schemas"}


def wanted(resource_type: ResourceType, attributes: list[str], excluded: list[str], name: str) -> bool:
    """Tell whether top-level attribute `name` will be returned, so a caller can skip loading it."""
    name = name.lower()
    if attributes:
        return name in _ALWAYS or any(_split(resource_type, path)[1] == name for path in attributes)
    return all(_split(resource_type, path) != (None, name, None) for path in excluded)


def project(
    resource: dict[str, Any], resource_type: ResourceType, attributes: list[str], excluded: list[str]
) -> dict[str, Any]:
    """Return the representation trimmed as the query asked; `id` and `schemas` always stay."""
    if attributes:
        return _keep(resource, resource_type, attributes)
    if excluded:
        return _drop(resource, resource_type, excluded)
    return resource


def _split(resource_type: ResourceType, path: str) -> tuple[str | None, str, str | None]:
    """Split `urn:...:attr.sub` into (extension URN or None, attr, sub), all lowercased."""
    schema, rest = split_urn(path.strip(), resource_type.schemas())
    urn = schema.id.lower() if schema is not None and schema is not resource_type.schema else None
    if rest is None:
        return urn, "", None
    lowered = rest.lower()
    if not lowered or any(c in lowered for c in "[] "):
        raise InvalidValue(f"'{path}' is not an attribute path")
    attr, _, sub = lowered.partition(".")
    return urn, attr, sub or None


def _extension_key(resource: dict[str, Any], urn: str) -> str | None:
    return next((k for k in resource if k.lower() == urn), None)


def _keep(resource: dict[str, Any], resource_type: ResourceType, paths: list[str]) -> dict[str, Any]:
    result = {k: v for k, v in resource.items() if k in _ALWAYS}
    for path in paths:
        urn, attr, sub = _split(resource_type, path)
        source, target = resource, result
        if urn is not None:
            key = _extension_key(resource, urn)
            if key is None:
                continue
            source = resource[key]
            target = result.setdefault(key, {})
            if not attr:
                result[key] = source
                continue
        key = next((k for k in source if k.lower() == attr), None)
        if key is None:
            continue
        if sub is None:
            target[key] = source[key]
        else:
            target[key] = _merge_sub(target.get(key), source[key], sub)
    return result


def _merge_sub(existing: object, value: object, sub: str) -> object:
    """Keep only sub-attribute `sub` of a complex (or multi-valued complex) value, merging with earlier picks."""
    if isinstance(value, list):
        elements = [{k: v for k, v in item.items() if k.lower() == sub} for item in value if isinstance(item, dict)]
        if isinstance(existing, list) and len(existing) == len(elements):
            return [{**old, **new} for old, new in zip(existing, elements, strict=True)]
        return elements
    if isinstance(value, dict):
        picked = {k: v for k, v in value.items() if k.lower() == sub}
        # `existing` is None or what an earlier path picked from this same object.
        return {**(existing if isinstance(existing, dict) else {}), **picked}
    return value


def _drop(resource: dict[str, Any], resource_type: ResourceType, paths: list[str]) -> dict[str, Any]:
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in resource.items()}
    for path in paths:
        urn, attr, sub = _split(resource_type, path)
        target = result
        if urn is not None:
            key = _extension_key(result, urn)
            if key is None:
                continue
            if not attr:
                del result[key]
                continue
            target = result[key]
        key = next((k for k in target if k.lower() == attr), None)
        if key is None or key in _ALWAYS:
            continue
        if sub is None:
            del target[key]
        elif isinstance(target[key], list):
            target[key] = [{k: v for k, v in i.items() if k.lower() != sub} for i in target[key]]
        elif isinstance(target[key], dict):
            target[key] = {k: v for k, v in target[key].items() if k.lower() != sub}
    return result
