"""PATCH (RFC 7644 §3.5.2) applied to a resource representation, tolerant of what Okta and Entra ID really send.

`apply_patch` only transforms the plain dict a client would see; the caller validates the result with the PUT schema
and stores it. Deviations from a strict reading of the RFC are deliberate and each is marked with the IdP behaviour
that needs it (see `docs/idp-behaviour.md` §2).
"""

from __future__ import annotations

import copy
from typing import Any

from scim.definitions import Attribute, ResourceType
from scim.errors import InvalidPath, InvalidSyntax, InvalidValue, Mutability, NoTarget
from scim.patch_message import read_operation
from scim.paths import Path, equality_template, parse_path
from scim.schemas import MAX_VALUES, as_boolean
from services.identifiers import fold

# Echoed by clients in path-less values (Okta group rename, Entra create-shaped bodies); never patchable.
_IGNORED_KEYS = frozenset({"schemas", "meta"})
_UNASSIGNED: tuple[object, ...] = (None, [], {})


def apply_patch(resource: dict[str, Any], operations: list[object], resource_type: ResourceType) -> dict[str, Any]:
    """Return a new representation with the PATCH operations applied in order (RFC 7644 §3.5.2).

    `resource` is not modified, so when any operation raises (InvalidSyntax, InvalidPath, InvalidFilter, NoTarget,
    InvalidValue, Mutability) the caller keeps the original: PATCH is all-or-nothing (RFC 7644 §3.5.2).
    """
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("'Operations' must be a non-empty list of PATCH operations (RFC 7644 §3.5.2).")
    result = copy.deepcopy(resource)
    for item in operations:
        operation = read_operation(item)
        op, path = operation.check()
        value = operation.value
        if path is None:
            _apply_without_path(result, op, value, resource_type)
        elif path.split(".", 1)[0].split("[", 1)[0].lower() == "meta":
            raise Mutability("'meta' is readOnly and cannot be patched.")
        else:
            _apply(result, op, parse_path(path, resource_type), value, resource_type)
    _sync_schemas(result, resource_type)
    return result


def _apply_without_path(result: dict[str, Any], op: str, value: object, resource_type: ResourceType) -> None:
    """Each key of the value object is applied as if it were a path (RFC 7644 §3.5.2.1, §3.5.2.3).

    Keys may be dotted or URN-qualified (Entra, pitfall 5); readOnly keys such as Okta's `id` pass when unchanged.
    """
    if op == "remove":
        raise NoTarget("A 'remove' operation requires a 'path' (RFC 7644 §3.5.2.2).")
    if not isinstance(value, dict):
        raise InvalidValue(f"An '{op}' operation without 'path' needs an object as 'value'.")
    for key, item in value.items():
        if key.lower() not in _IGNORED_KEYS:
            _apply(result, op, parse_path(key, resource_type), item, resource_type)


def _apply(result: dict[str, Any], op: str, path: Path, value: object, resource_type: ResourceType) -> None:
    if value is None and op != "remove":
        if op == "add":
            return  # null means unassigned (RFC 7643 §2.5): adding nothing changes nothing.
        op = "remove"
    if path.attribute is None:
        _apply_to_extension(result, op, path, value, resource_type)
        return
    attribute = path.attribute
    container = result
    if path.extension is not None:
        if not isinstance(result.get(path.extension), dict):
            result[path.extension] = {}
        container = result[path.extension]
    # Only readOnly targets need the before/after comparison; copying large member lists for every op is waste.
    guarded = "readOnly" in (attribute.mutability, (path.target or attribute).mutability)
    before = copy.deepcopy(container.get(attribute.name)) if guarded else None
    if path.value_filter is not None or (attribute.multi_valued and path.sub_attribute is not None):
        _apply_to_elements(container, op, path, attribute, value)
    elif path.sub_attribute is not None:
        _apply_to_sub_attribute(container, op, attribute, path.sub_attribute, value)
    elif op == "remove":
        _remove_attribute(container, attribute, value)
    elif attribute.multi_valued:
        new = _normalize_elements(attribute, value)
        if op == "replace":
            container[attribute.name] = new
        elif new:
            elements = container.get(attribute.name)
            elements = elements if isinstance(elements, list) else []
            container[attribute.name] = elements
            _single_primary(elements, _add_elements(attribute, elements, new))
    elif attribute.type == "complex":
        # Singular complex: add and replace both merge sub-attributes (RFC 7644 §3.5.2.1, §3.5.2.3).
        current = container.get(attribute.name)
        container[attribute.name] = current if isinstance(current, dict) else {}
        _merge(attribute, container[attribute.name], _normalize_complex(attribute, value))
        if not container[attribute.name]:
            del container[attribute.name]
    else:
        # `add` on a singular attribute is a replace (RFC 7644 §3.5.2.1; Entra adds `externalId`, pitfall 10).
        container[attribute.name] = _normalize(attribute, value)
    if guarded and not _unchanged(before, container.get(attribute.name)):
        raise Mutability(f"'{path.text}' is readOnly and cannot be changed.")
    values = container.get(attribute.name)
    if _capped(attribute) and isinstance(values, list):
        _check_count(attribute, len(values))  # one value per operation must not grow a list without end
    if path.extension is not None and not container:
        del result[path.extension]


def _apply_to_extension(
    result: dict[str, Any], op: str, path: Path, value: object, resource_type: ResourceType
) -> None:
    """The extension URN alone as path or key: its object's keys merge into the extension."""
    if op == "remove":
        result.pop(path.schema.id, None)
        return
    if not isinstance(value, dict):
        raise InvalidValue(f"'{path.schema.id}' must be given an object.")
    for key, item in value.items():
        # A serialised extension object may carry its own `schemas`/`meta`; they are not attributes.
        if key.lower() not in _IGNORED_KEYS:
            _apply(result, op, parse_path(f"{path.schema.id}:{key}", resource_type), item, resource_type)


def _apply_to_elements(container: dict[str, Any], op: str, path: Path, attribute: Attribute, value: object) -> None:
    """Value paths `attr[filter]` and `attr[filter].sub`; `attr.sub` on a multi-valued attribute means every element."""
    sub = path.sub_attribute
    elements = container.get(attribute.name)
    elements = elements if isinstance(elements, list) else []
    matched = [
        e for e in elements if isinstance(e, dict) and (path.value_filter is None or path.value_filter.matches(e))
    ]
    if op == "remove":
        # No match is success: removal is idempotent (pitfall 33), unlike replace.
        if sub is not None:
            for element in matched:
                _check_immutable(sub, element, None)
                element.pop(sub.name, None)
        elif matched:
            container[attribute.name] = [e for e in elements if not any(e is m for m in matched)]
        return
    new = {sub.name: _normalize(sub, value)} if sub is not None else _normalize_complex(attribute, value)
    if not matched:
        # Entra and its validator add `emails[type eq "work"].value` before any work email exists (pitfall 11).
        template = equality_template(path.value_filter)
        if template is None:
            raise NoTarget(f"No value of '{attribute.name}' matches the filter in {path.text!r} (RFC 7644 §3.5.2.3).")
        matched = [{key: _normalize(_sub(attribute, key), item) for key, item in template.items()}]
        elements.append(matched[0])
        container[attribute.name] = elements
    for element in matched:
        _merge(attribute, element, new)
    _single_primary(elements, matched)


def _apply_to_sub_attribute(
    container: dict[str, Any], op: str, attribute: Attribute, sub: Attribute, value: object
) -> None:
    current = container.get(attribute.name)
    if op == "remove":
        if isinstance(current, dict):
            _check_immutable(sub, current, None)
            current.pop(sub.name, None)
            if not current:
                del container[attribute.name]
        return
    if not isinstance(current, dict):
        current = container[attribute.name] = {}
    _merge(attribute, current, {sub.name: _normalize(sub, value)})


def _remove_attribute(container: dict[str, Any], attribute: Attribute, value: object) -> None:
    if attribute.required:
        raise InvalidValue(f"'{attribute.name}' is required and cannot be removed.")
    if not attribute.multi_valued or value is None:
        container.pop(attribute.name, None)
        return
    # Entra removes members with `path: members` plus the values to drop; never wipe the list (pitfall 7).
    criteria = _normalize_elements(attribute, value)
    if not all(criteria):
        raise InvalidValue(f"Each value to remove from '{attribute.name}' must name the value to match.")
    elements = container.get(attribute.name)
    if isinstance(elements, list):
        kept = [e for e in elements if not any(_same_element(attribute, e, c) for c in criteria)]
        if len(kept) != len(elements):
            container[attribute.name] = kept


def _add_elements(attribute: Attribute, elements: list[Any], new: list[dict[str, object]]) -> list[dict[str, Any]]:
    """Append values not already present; re-adding one merges into it (idempotent add, pitfall 9)."""
    touched: list[dict[str, Any]] = []
    for candidate in new:
        existing = next((e for e in elements if _same_element(attribute, e, candidate)), None)
        if existing is None:
            elements.append(candidate)
            touched.append(candidate)
        else:
            # A re-sent member carrying a differently spelled `$ref` must not fail the retry loop on immutability.
            kept = {
                k: v for k, v in candidate.items() if _sub(attribute, k).mutability != "immutable" or k not in existing
            }
            _merge(attribute, existing, kept)
            touched.append(existing)
    return touched


def _same_element(attribute: Attribute, element: object, candidate: dict[str, object]) -> bool:
    """Elements are identified by `value` when the candidate has one; otherwise it must be a non-empty subset."""
    if not isinstance(element, dict) or not candidate:
        return False
    if "value" in candidate and attribute.sub("value") is not None:
        return _equal(attribute.sub("value"), element.get("value"), candidate["value"])
    return all(_equal(attribute.sub(key), element.get(key), item) for key, item in candidate.items())


def _merge(attribute: Attribute, target: dict[str, Any], new: dict[str, object]) -> None:
    """Set the given sub-attributes, leaving others unchanged (RFC 7644 §3.5.2.3)."""
    value = attribute.sub("value")
    if value is not None and "value" in new and not _equal(value, target.get("value"), new["value"]):
        # Server-derived sub-attributes (manager.displayName, $ref) described the previous value.
        for sub in attribute.sub_attributes:
            if sub.mutability == "readOnly" and sub.name not in new:
                target.pop(sub.name, None)
    for key, item in new.items():
        sub = _sub(attribute, key)
        _check_immutable(sub, target, item)
        target[sub.name] = item


def _check_immutable(sub: Attribute, element: dict[str, Any], new: object) -> None:
    if sub.mutability == "immutable" and element.get(sub.name) is not None and not _equal(sub, element[sub.name], new):
        raise Mutability(f"'{sub.name}' is immutable once set (RFC 7643 §2.2).")


def _single_primary(elements: list[Any], touched: list[dict[str, Any]]) -> None:
    """Setting `primary` true on one value sets it false on the others (RFC 7644 §3.5.2)."""
    if any(t.get("primary") is True for t in touched):
        for element in elements:
            if isinstance(element, dict) and element.get("primary") is True and not any(element is t for t in touched):
                element["primary"] = False


def _normalize(attribute: Attribute, value: object) -> object:
    """Coerce a client value to the representation of `attribute`."""
    if attribute.multi_valued:
        return _normalize_elements(attribute, value)
    if attribute.type == "complex":
        return _normalize_complex(attribute, value)
    if attribute.type == "boolean":
        flag = as_boolean(value)  # Entra sends "True"/"False" strings (pitfall 2).
        if flag is None:
            raise InvalidValue(f"'{attribute.name}' must be a boolean, got {value!r}.")
        return flag
    if isinstance(value, (dict, list)):
        raise InvalidValue(f"'{attribute.name}' must be a single {attribute.type} value.")
    return value


def _normalize_elements(attribute: Attribute, value: object) -> list[dict[str, object]]:
    """Coerce a client value to the elements of a multi-valued attribute (each one complex, as all of ours are)."""
    items = value if isinstance(value, list) else [value]
    if _capped(attribute):
        _check_count(attribute, len(items))  # before normalising, and comparing, each of them
    return [_normalize_complex(attribute, item) for item in items if item is not None]


def _normalize_complex(attribute: Attribute, value: object) -> dict[str, object]:
    """Coerce a client value to a complex value of `attribute` (one element of it if it is multi-valued)."""
    if isinstance(value, list) and len(value) == 1 and not attribute.multi_valued:
        value = value[0]  # Entra sends manager as `[{"$ref": ..., "value": id}]` (A17).
    if not isinstance(value, dict):
        if attribute.sub("value") is None or isinstance(value, list):
            raise InvalidValue(f"'{attribute.name}' must be an object.")
        value = {"value": value}  # Entra sends manager as a bare id (pitfall 25).
    result: dict[str, object] = {}
    for key, item in value.items():
        sub = attribute.sub(key)
        if item is None:
            continue  # null is unassigned (RFC 7643 §2.5); Entra sends `"$ref": null` (A14).
        if sub is None:
            raise InvalidPath(f"Unknown attribute '{attribute.name}.{key}'.")
        # Clients echo server-derived sub-attributes (Okta sends members' `display`); ignore as on POST (§3.3).
        if sub.mutability != "readOnly" or attribute.mutability == "readOnly":
            result[sub.name] = _normalize(sub, item)
    return result


def _sub(attribute: Attribute, name: str) -> Attribute:
    """Return the sub-attribute `name` of `attribute`, for names `_normalize_complex` or a value filter resolved."""
    sub = attribute.sub(name)
    if sub is None:
        raise InvalidPath(f"Unknown attribute '{attribute.name}.{name}'.")
    return sub


def _capped(attribute: Attribute) -> bool:
    """Group members are bounded by the body size only; every other multi-valued attribute by MAX_VALUES."""
    return attribute.multi_valued and attribute.name != "members"


def _check_count(attribute: Attribute, count: int) -> None:
    if count > MAX_VALUES:
        raise InvalidValue(f"'{attribute.name}' would hold {count} values; at most {MAX_VALUES} are accepted.")


def _equal(attribute: Attribute | None, left: object, right: object) -> bool:
    if isinstance(left, str) and isinstance(right, str) and not (attribute and attribute.case_exact):
        return fold(left) == fold(right)
    return left == right


def _unchanged(before: object, after: object) -> bool:
    return before == after or (before in _UNASSIGNED and after in _UNASSIGNED)


def _sync_schemas(result: dict[str, Any], resource_type: ResourceType) -> None:
    """Keep `schemas` listing exactly the extensions present (RFC 7643 §3), when the representation has it."""
    schemas = result.get("schemas")
    if not isinstance(schemas, list):
        return
    for extension in resource_type.extensions:
        listed = [s for s in schemas if isinstance(s, str) and s.lower() == extension.id.lower()]
        if result.get(extension.id) and not listed:
            schemas.append(extension.id)
        elif not result.get(extension.id) and listed:
            result["schemas"] = schemas = [s for s in schemas if s not in listed]
