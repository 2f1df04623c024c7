"""The PatchOp message (RFC 7644 §3.5.2) as clients send it: its `Operations`, and each operation's `op`, `path`
and `value`, all keys matched in any case because Entra writes `Add`, `Replace`, `Remove` (pitfall 1 of
docs/idp-behaviour.md §2).

The one reading of those keys: `scim.patch` applies the operations, `scim.group_patch` folds the membership ones,
and `scim.users` looks at their paths and values before either does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim.definitions import PATCH_OP
from scim.errors import InvalidPath, InvalidSyntax, InvalidValue

PATCH_OPS = ("add", "replace", "remove")
# Operations in one PATCH. Okta and Entra send a handful (members travel many to an operation); thousands of
# one-value operations only make each later one slower.
MAX_OPERATIONS = 1000


def patch_operations(body: dict[str, Any]) -> list[Any]:
    """Return the `Operations` of a PatchOp message (RFC 7644 §3.5.2), its key matched in any case."""
    schemas = body.get("schemas")
    if isinstance(schemas, list) and schemas and PATCH_OP not in schemas:
        raise InvalidSyntax(f"a PATCH body must declare the schema {PATCH_OP}")
    operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("a PATCH body needs a non-empty 'Operations' list")
    if len(operations) > MAX_OPERATIONS:
        raise InvalidValue(f"a PATCH body may hold at most {MAX_OPERATIONS} operations, not {len(operations)}")
    return operations


@dataclass(frozen=True)
class Operation:
    """One item of `Operations`, read but not yet checked: `check()` says whether it can be applied."""

    op: object  # lowercased when it is a string
    path: object
    value: object
    has_value: bool  # `"value": null` is sent, which is not the same as no value
    sent_op: object  # as the client wrote it, to quote in an error

    @property
    def pathless(self) -> bool:
        """Whether the operation names no path, so its value is an object of paths (RFC 7644 §3.5.2.1, §3.5.2.3)."""
        return not (isinstance(self.path, str) and self.path.strip())

    def check(self) -> tuple[str, str | None]:
        """Refuse an op we do not know, a path that is not a string, and add or replace without a value.

        Return the op and the path as checked: the path is None when the operation names none (`pathless`).
        """
        if not isinstance(self.op, str) or self.op not in PATCH_OPS:
            raise InvalidSyntax(f"Unsupported PATCH op {self.sent_op!r}; expected add, replace or remove.")
        if self.path is not None and not isinstance(self.path, str):
            raise InvalidPath("'path' must be a string.")
        if self.op != "remove" and not self.has_value:
            raise InvalidValue(f"The '{self.op}' operation requires a 'value' (RFC 7644 §3.5.2.1, §3.5.2.3).")
        return self.op, None if self.pathless else self.path


def read_operation(operation: object) -> Operation:
    """Read `op`, `path` and `value` from one item of `Operations`, whatever the case of their keys."""
    if not isinstance(operation, dict):
        raise InvalidSyntax("Each item of 'Operations' must be an object.")
    fields = {str(key).lower(): value for key, value in operation.items()}
    op = fields.get("op")
    return Operation(
        op=op.lower() if isinstance(op, str) else op,
        path=fields.get("path"),
        value=fields.get("value"),
        has_value="value" in fields,
        sent_op=op,
    )
