"""Shapes shared by the services and both interfaces: slugs, names printed one per line by the CLI, emails."""

from __future__ import annotations

import re

# A DNS label: 1-63 lowercase letters, digits or hyphens, not starting or ending with '-'.
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Names are printed one per line, tab-separated, by the CLI: no control characters or line separators.
LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# The longest address a column holds: 64 for the local part, "@", 255 for the domain.
EMAIL_MAX_LENGTH = 320
# One mailbox: exactly one "@" with text on both sides, and no whitespace or control character, so the verification
# mail (R4) has somewhere to go and a value like "a@x.t\r\nBcc: b@y.t" can never become a mail header. No RFC 5322
# check: IdPs hold addresses we could not parse, so what they send is kept as sent. Quoted local parts holding "@"
# are legal but no IdP sends them.
_MAILBOX = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")
# An address a person types must also look like one, which catches typos: a dot in the domain, no C1 controls,
# and none of the separators that would make one address several.
_TYPED_PART = r"[^@\s\x00-\x1f\x7f-\x9f,;<>]+"
_TYPED = re.compile(rf"{_TYPED_PART}@{_TYPED_PART}\.{_TYPED_PART}")


def is_email(value: str, *, typed: bool = False) -> bool:
    """Tell whether `value` is one email address; `typed` for one a person enters, held to the stricter shape.

    The length is checked apart (EMAIL_MAX_LENGTH), so each interface words that refusal its own way.
    """
    return (_TYPED if typed else _MAILBOX).fullmatch(value) is not None
