"""Shapes shared by several services: slugs, and names printed one per line by the CLI."""

from __future__ import annotations

import re

# A DNS label: 1-63 lowercase letters, digits or hyphens, not starting or ending with '-'.
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Names are printed one per line, tab-separated, by the CLI: no control characters or line separators.
LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
