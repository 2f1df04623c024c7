"""marshmallow schemas that validate incoming SCIM resources (RFC 7643 §4) into canonical dicts.

Attribute names are case-insensitive on the wire; loading maps every key to its canonical
name, drops nulls (Entra sends them for unassigned values), and ignores what we do not keep.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from scim.definitions import ENTERPRISE_USER_SCHEMA
from scim.errors import InvalidValue

_SHORT = validate.Length(max=255)


class ScimBoolean(fields.Boolean):
    """A boolean that also takes "True"/"false" strings in any case, as Entra sends them."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if isinstance(value, bool):
            return value
        raise self.make_error("invalid")


class ScimSchema(Schema):
    """Base: case-insensitive keys, nulls treated as absent, unknown keys ignored."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def canonical_keys(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        names = {(f.data_key or name).lower(): (f.data_key or name) for name, f in self.fields.items()}
        return {names.get(k.lower(), k): v for k, v in data.items() if v is not None and isinstance(k, str)}

    @post_load
    def drop_empty(self, data, **kwargs):
        return {k: v for k, v in data.items() if v is not None and v != {}}


class NameSchema(ScimSchema):
    formatted = fields.String(validate=validate.Length(max=1000))
    familyName = fields.String(validate=_SHORT)
    givenName = fields.String(validate=_SHORT)
    middleName = fields.String(validate=_SHORT)
    honorificPrefix = fields.String(validate=_SHORT)
    honorificSuffix = fields.String(validate=_SHORT)


class MultiValueSchema(ScimSchema):
    value = fields.String(validate=validate.Length(max=320))
    type = fields.String(validate=validate.Length(max=40))
    primary = ScimBoolean()
    display = fields.String(validate=validate.Length(max=320))


class AddressSchema(ScimSchema):
    formatted = fields.String(validate=validate.Length(max=1000))
    streetAddress = fields.String(validate=validate.Length(max=1000))
    locality = fields.String(validate=_SHORT)
    region = fields.String(validate=_SHORT)
    postalCode = fields.String(validate=_SHORT)
    country = fields.String(validate=_SHORT)
    type = fields.String(validate=validate.Length(max=40))
    primary = ScimBoolean()


class ManagerField(fields.Field):
    """Entra sends the manager as a bare id string but reads it back as `{"value": id}` (pitfall 25)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict):
            lowered = {str(k).lower(): v for k, v in value.items()}
            value = lowered.get("value")
        if value is None or value == "":
            return None
        if not isinstance(value, str | int) or len(str(value)) > 255:
            raise ValidationError("manager must be an id string or an object with a 'value'")
        return {"value": str(value)}


class EnterpriseSchema(ScimSchema):
    employeeNumber = fields.String(validate=_SHORT)
    costCenter = fields.String(validate=_SHORT)
    organization = fields.String(validate=_SHORT)
    division = fields.String(validate=_SHORT)
    department = fields.String(validate=_SHORT)
    manager = ManagerField()


def _multi(schema) -> fields.List:
    return fields.List(fields.Nested(schema), validate=validate.Length(max=100))


class UserSchema(ScimSchema):
    """A User as clients send it on POST and PUT (and as PATCH leaves it)."""

    userName = fields.String(required=True, validate=validate.Length(min=1, max=255))
    externalId = fields.String(validate=_SHORT)
    name = fields.Nested(NameSchema)
    displayName = fields.String(validate=_SHORT)
    nickName = fields.String(validate=_SHORT)
    title = fields.String(validate=_SHORT)
    preferredLanguage = fields.String(validate=_SHORT)
    locale = fields.String(validate=_SHORT)
    timezone = fields.String(validate=_SHORT)
    active = ScimBoolean()
    emails = _multi(MultiValueSchema)
    phoneNumbers = _multi(MultiValueSchema)
    addresses = _multi(AddressSchema)
    enterprise = fields.Nested(EnterpriseSchema, data_key=ENTERPRISE_USER_SCHEMA)


def load(schema: Schema, body: dict) -> dict:
    """Validate a body, turning marshmallow's messages into one SCIM invalidValue error."""
    try:
        return schema.load(body)
    except ValidationError as error:
        raise InvalidValue(_describe(error.messages)) from None


def _describe(messages, prefix: str = "") -> str:
    parts: list[str] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            parts.append(_describe(value, f"{prefix}{key}."))
    elif isinstance(messages, list):
        parts.append(f"{prefix.rstrip('.')}: {' '.join(str(m) for m in messages)}")
    return "; ".join(p for p in parts if p)
