"""The one case fold behind every `*_ci` column, and what an identifier (userName, displayName, externalId) may hold.

`fold` is the only definition of "the same, ignoring case": the models fill every folded column with it, and the
SCIM filters and PATCH value paths fold what they compare with it, so results never depend on the database's own
idea of lower case (SQLite's lower() folds ASCII only).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from services.errors import InvalidInput

# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt) beyond the Cf and Cc categories
# refused anyway: fillers and variation selectors that render as nothing, so "admin" and "admin\ufe0f" look alike.
_IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Cc: C0 and C1 controls and DEL. Cf: format characters, which include every bidi control (U+200E/F, U+061C,
# U+202A-202E, U+2066-2069) and the zero-width ones (U+200B-200D, U+2060, U+FEFF). Zl/Zp: line and paragraph
# separators. Cs: lone surrogates.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# The scripts whose letters are each other's look-alikes (a/а/α, o/о/ο, p/р/ρ ...): one word mixing them is a spoof.
_CONFUSABLE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
# Joiners and variation selectors that names need: ZWNJ/ZWJ shape Persian and Indic words and join emoji
# sequences, VS15/VS16 pick text or emoji form. A display name keeps them; a unique key (userName, a group's
# name) does not, because there they make two names that look alike.
_NAME_FORMATTING = frozenset({"\u200c", "\u200d", "\ufe0e", "\ufe0f"})


def fold(text: str) -> str:
    """Return the case-insensitive key of a string: NFKC, full case folding, NFKC again.

    NFKC first makes compatibility forms equal (fullwidth "Ａ", ligature "ﬁ", NFD "é"); casefold then maps
    "ß" to "ss" and "Σ/ς" to "σ"; the second NFKC recomposes what case folding decomposed, so fold is idempotent.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def fold_profile(profile: dict[str, Any] | None, prefix: str = "") -> dict[str, str]:
    """Return the fold of every singular string in a SCIM profile, keyed by its lowercased dotted path.

    `{"nickName": "Äda", "enterprise": {"manager": {"value": "X"}}}` gives `{"nickname": "äda",
    "enterprise.manager.value": "x"}`. Lists (phoneNumbers, addresses) are left out: they are not filtered on.
    """
    keys: dict[str, str] = {}
    for name, value in (profile or {}).items():
        path = f"{prefix}{str(name).lower()}"
        if isinstance(value, str):
            keys[path] = fold(value)
        elif isinstance(value, dict):
            keys.update(fold_profile(value, f"{path}."))
    return keys


def check_identifier(attribute: str, value: str | None, *, key: bool = False, display: bool = False) -> None:
    """Refuse invisible, control and bidi-control characters; for a unique key also unassigned and mixed-script text.

    The message names the attribute, never the value. `key` is for values that must not look like another
    account's or group's (userName, a group's displayName). `display` is for a person's display name, which
    may keep the joiners and variation selectors that writing systems and emoji need.
    """
    if not value:
        return
    for char in value:
        if key and unicodedata.category(char) == "Cn":
            invalid = True
        else:
            invalid = _invisible(char) and not (display and char in _NAME_FORMATTING)
        if invalid:
            raise InvalidInput(
                f"{attribute} must not contain control characters, bidirectional controls, invisible characters"
                + (" or unassigned code points" if key else "")
            )
    if key and mixes_scripts(value):
        raise InvalidInput(
            f"{attribute} mixes Latin, Cyrillic or Greek letters within one word, which makes it look like another"
        )


def check_folded_length(attribute: str, value: str | None, limit: int) -> None:
    """Refuse a value whose folded key would not fit its column (NFKC can expand one character to 18)."""
    if value is not None and len(fold(value)) > limit:
        raise InvalidInput(f"{attribute} is longer than {limit} characters once case-folded")


def mixes_scripts(value: str) -> bool:
    """Tell whether one word (a run of letters and marks) holds letters of two of Latin, Cyrillic and Greek."""
    scripts: set[str] = set()
    for char in unicodedata.normalize("NFKC", value):
        category = unicodedata.category(char)
        if category[0] not in "LM":
            scripts.clear()  # a separator ('@', '.', space, digit) ends the word: "иван@example.com" is fine
            continue
        script = unicodedata.name(char, "").split(" ", 1)[0]
        if script in _CONFUSABLE_SCRIPTS:
            scripts.add(script)
            if len(scripts) > 1:
                return True
    return False


def _invisible(char: str) -> bool:
    if unicodedata.category(char) in _REFUSED_CATEGORIES:
        return True
    point = ord(char)
    return any(low <= point <= high for low, high in _IGNORABLE)
