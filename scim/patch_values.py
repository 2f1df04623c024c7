"""PATCH values (RFC 7644 §3.5.2) as `scim.patch` applies them: a client's value coerced to the representation of
the attribute it targets, the cap on multi-valued attributes, and the comparisons under the case fold.

Tolerant of what Okta and Entra ID really send; each deviation names the IdP behaviour that needs it
(`docs/idp-behaviour.md` §2).
"""

from __future__ import annotations

from scim.definitions import Attribute
from scim.errors import InvalidPath, InvalidValue
from scim.schemas import MAX_VALUES, as_boolean
from services.identifiers import fold

# What counts as unassigned (RFC 7643 §2.5) when a readOnly target is compared before and after an operation.
_UNASSIGNED: tuple[object, ...] = (None, [], {})


def normalize(attribute: Attribute, value: object) -> object:
    """Coerce a client value to the representation of `attribute`."""
    if attribute.multi_valued:
        return normalize_elements(attribute, value)
    if attribute.type == "complex":
        return normalize_complex(attribute, value)
    if attribute.type == "boolean":
        flag = as_boolean(value)  # Entra sends "True"/"False" strings (pitfall 2).
        if flag is None:
            raise InvalidValue(f"'{attribute.name}' must be a boolean, got {value!r}.")
        return flag
    if isinstance(value, (dict, list)):
        raise InvalidValue(f"'{attribute.name}' must be a single {attribute.type} value.")
    return value


def normalize_elements(attribute: Attribute, value: object) -> list[dict[str, object]]:
    """Coerce a client value to the elements of a multi-valued attribute (each one complex, as all of ours are)."""
    items = value if isinstance(value, list) else [value]
    if capped(attribute):
        check_count(attribute, len(items))  # before normalising, and comparing, each of them
    return [normalize_complex(attribute, item) for item in items if item is not None]


def normalize_complex(attribute: Attribute, value: object) -> dict[str, object]:
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
            result[sub.name] = normalize(sub, item)
    return result


def known_sub(attribute: Attribute, name: str) -> Attribute:
    """Return the sub-attribute `name` of `attribute`, for names `normalize_complex` or a value filter resolved."""
    sub = attribute.sub(name)
    if sub is None:
        raise InvalidPath(f"Unknown attribute '{attribute.name}.{name}'.")
    return sub


def capped(attribute: Attribute) -> bool:
    """Group members are bounded by the body size only; every other multi-valued attribute by MAX_VALUES."""
    return attribute.multi_valued and attribute.name != "members"


def check_count(attribute: Attribute, count: int) -> None:
    if count > MAX_VALUES:
        raise InvalidValue(f"'{attribute.name}' would hold {count} values; at most {MAX_VALUES} are accepted.")


def equal(attribute: Attribute | None, left: object, right: object) -> bool:
    if isinstance(left, str) and isinstance(right, str) and not (attribute and attribute.case_exact):
        return fold(left) == fold(right)
    return left == right


def unchanged(before: object, after: object) -> bool:
    return before == after or (before in _UNASSIGNED and after in _UNASSIGNED)
