"""marshmallow schemas that validate incoming SCIM resources (RFC 7643 §4) into canonical dicts.

Attribute names are case-insensitive on the wire; loading maps every key to its canonical
name, drops nulls (Entra sends them for unassigned values), and ignores what we do not keep.

Pitfall numbers refer to docs/idp-behaviour.md §2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from scim.definitions import ENTERPRISE_USER_SCHEMA
from scim.errors import InvalidValue
from services.validation import EMAIL_MAX_LENGTH, is_email

# C0 controls, DEL and C1 controls (U+009B is a terminal's CSI). Names, ids and titles are shown in the dashboard,
# exported, and put into mail, where a CR/LF or a terminal escape sequence does damage; no IdP has a reason to send one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# RFC 7643 §4.1.2 lets formatted and streetAddress carry line breaks; the other controls stay out there too.
_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _no_control(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("must not contain control characters")


def _no_control_but_newlines(value: str) -> None:
    if _CONTROL_EXCEPT_NEWLINES.search(value):
        raise ValidationError("must not contain control characters other than line breaks")


def _mailbox(value: str) -> None:
    # Kept as sent, but one mailbox (services.validation.is_email). "" names no address; nothing is mailed to it.
    if value and not is_email(value):
        raise ValidationError(
            "must be one email address: a single '@' with text on both sides, no whitespace or control characters"
        )


def _text(max_length: int, *, min_length: int | None = None, multiline: bool = False, **kwargs: Any) -> fields.String:
    """Declare a string of at most `max_length` characters without control characters (line breaks if `multiline`)."""
    check = _no_control_but_newlines if multiline else _no_control
    return fields.String(validate=[validate.Length(min=min_length, max=max_length), check], **kwargs)


_SHORT = 255
# Values one multi-valued attribute (emails, phoneNumbers, addresses, ...) may hold; IdPs send a handful. Group
# members are not capped here: a group holds thousands, bounded by the body size.
MAX_VALUES = 100


def as_boolean(value: object) -> bool | None:
    """Read a boolean, or a "True"/"false" string in any case as Entra sends them (pitfall 2); None for anything else.

    The one reading of booleans for bodies (`ScimBoolean`), PATCH values (`scim.patch`) and filters (`scim.filters`).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


class ScimBoolean(fields.Boolean):
    """A boolean that also takes "True"/"false" strings in any case, as Entra sends them."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        flag = as_boolean(value)
        if flag is None:
            raise self.make_error("invalid")
        return flag


class ScimSchema(Schema):
    """Base: case-insensitive keys, nulls treated as absent, unknown keys ignored."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def canonical_keys(self, data: object, **kwargs: Any) -> object:
        if not isinstance(data, dict):
            return data
        names = {(f.data_key or name).lower(): (f.data_key or name) for name, f in self.fields.items()}
        return {names.get(k.lower(), k): v for k, v in data.items() if v is not None and isinstance(k, str)}

    @post_load
    def drop_empty(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v is not None and v != {}}


class NameSchema(ScimSchema):
    formatted = _text(1000)
    familyName = _text(_SHORT)
    givenName = _text(_SHORT)
    middleName = _text(_SHORT)
    honorificPrefix = _text(_SHORT)
    honorificSuffix = _text(_SHORT)


class MultiValueSchema(ScimSchema):
    value = _text(320)
    type = _text(40)
    primary = ScimBoolean()
    display = _text(320)


class EmailSchema(MultiValueSchema):
    value = fields.String(validate=[validate.Length(max=EMAIL_MAX_LENGTH), _mailbox])


class AddressSchema(ScimSchema):
    formatted = _text(1000, multiline=True)
    streetAddress = _text(1000, multiline=True)
    locality = _text(_SHORT)
    region = _text(_SHORT)
    postalCode = _text(_SHORT)
    country = _text(_SHORT)
    type = _text(40)
    primary = ScimBoolean()


class ManagerField(fields.Field[dict[str, str] | None]):
    """Entra sends the manager as a bare id string but reads it back as `{"value": id}` (pitfall 25)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, str] | None:
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict):
            lowered = {str(k).lower(): v for k, v in value.items()}
            value = lowered.get("value")
        if value is None or value == "":
            return None
        # bool is an int to Python: `"manager": true` was stored as the id "True".
        if isinstance(value, bool) or not isinstance(value, str | int) or len(str(value)) > 255:
            raise ValidationError("manager must be an id string or an object with a 'value'")
        _no_control(str(value))
        return {"value": str(value)}


class EnterpriseSchema(ScimSchema):
    employeeNumber = _text(_SHORT)
    costCenter = _text(_SHORT)
    organization = _text(_SHORT)
    division = _text(_SHORT)
    department = _text(_SHORT)
    manager = ManagerField()


def _multi(schema: type[ScimSchema]) -> fields.List[dict[str, Any]]:
    return fields.List(fields.Nested(schema), validate=validate.Length(max=MAX_VALUES))


class UserSchema(ScimSchema):
    """A User as clients send it on POST and PUT (and as PATCH leaves it)."""

    userName = _text(255, min_length=1, required=True)
    externalId = _text(_SHORT)
    name = fields.Nested(NameSchema)
    displayName = _text(_SHORT)
    nickName = _text(_SHORT)
    title = _text(_SHORT)
    preferredLanguage = _text(_SHORT)
    locale = _text(_SHORT)
    timezone = _text(_SHORT)
    active = ScimBoolean()
    emails = _multi(EmailSchema)
    phoneNumbers = _multi(MultiValueSchema)
    addresses = _multi(AddressSchema)
    enterprise = fields.Nested(EnterpriseSchema, data_key=ENTERPRISE_USER_SCHEMA)


class GroupSchema(ScimSchema):
    """A Group as clients send it on POST and PUT; `members` is read by `scim.group_patch.member_ids`."""

    displayName = _text(255, min_length=1, required=True)
    externalId = _text(255)
    members = fields.Raw()


def load(schema: Schema, body: dict[str, Any]) -> dict[str, Any]:
    """Validate a body, turning marshmallow's messages into one SCIM invalidValue error."""
    check_value_counts(schema, body)
    try:
        data: dict[str, Any] = schema.load(body)  # every ScimSchema loads to a dict (drop_empty)
        return data
    except ValidationError as error:
        raise InvalidValue(_describe(error.messages)) from None


def _describe(messages: object, prefix: str = "") -> str:
    parts: list[str] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            parts.append(_describe(value, f"{prefix}{key}."))
    elif isinstance(messages, list):
        parts.append(f"{prefix.rstrip('.')}: {' '.join(str(m) for m in messages)}")
    return "; ".join(p for p in parts if p)


def check_value_counts(schema: Schema, body: dict[str, Any]) -> None:
    """Refuse a multi-valued attribute over MAX_VALUES before marshmallow walks it (250,000 emails took seconds)."""
    if not isinstance(body, dict):
        return
    lists = {(f.data_key or n).lower(): f.data_key or n for n, f in schema.fields.items() if isinstance(f, fields.List)}
    for key, value in body.items():
        name = lists.get(key.lower()) if isinstance(key, str) else None
        if name and isinstance(value, list) and len(value) > MAX_VALUES:
            raise InvalidValue(f"{name} has {len(value)} values; at most {MAX_VALUES} are accepted")
