"""Every rule, section, request step and pitfall the tree cites is defined in docs/, and nothing points elsewhere."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DESIGN_DOC = ROOT / "docs" / "design.md"
IDP_DOC = ROOT / "docs" / "idp-behaviour.md"
THIS_FILE = Path(__file__).resolve()

# Not part of the project's text: environments, caches, runtime data, build output.
SKIPPED_DIRS = {".git", ".venv", "venv", "instance", "node_modules", "build", "dist", "__pycache__"}
TEXT_SUFFIXES = {"", ".py", ".md", ".html", ".txt", ".toml", ".cfg", ".ini", ".mako", ".css", ".js", ".json", ".sh"}

RULE = re.compile(r"\bR(\d{1,2})\b")
PITFALLS = re.compile(r"\bpitfalls?\s+(\d+(?:\s*(?:,|and|or|-|–)\s*\d+)*)")
STEP = re.compile(r"\b([AK]\d{1,2}[a-z]?)\b")
BODY = re.compile(r"\b(B-(?:OK|EN)\d+)\b")
DESIGN_SECTION = re.compile(r"design\.md\)?\s*§\s?(\d+)")
IDP_SECTION = re.compile(r"idp-behaviour(?:\.md\)?)?\s*§\s?(\d+(?:\.\d+)?)")
# Bytes written in hex ("ED A0 80", "%ED%A0%80") are not Entra's steps.
HEX_BEFORE = re.compile(r"[0-9A-Fa-f]{2}[ %]$")
HEX_AFTER = re.compile(r"^[ %][0-9A-Fa-f]{2}")
# Pointers to material outside the repository (split up, so that a grep for them stays empty).
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "shared/" + "reference", r"\bDES" + r"IGN\b"]))


def text_files() -> Iterator[Path]:
    """Yield every text file of the project, docs included, but not this file and its sample citations."""
    for folder, subfolders, files in os.walk(ROOT):
        # Pruned in place, so os.walk never descends into a virtualenv or a cache.
        subfolders[:] = sorted(
            d for d in subfolders if d not in SKIPPED_DIRS and not d.endswith((".egg-info", "_cache"))
        )
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix in TEXT_SUFFIXES and path.resolve() != THIS_FILE:
                yield path


@cache
def lines() -> tuple[tuple[str, int, str], ...]:
    """Return (file, line number, text) for every line of every text file."""
    found = []
    for path in text_files():
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        name = str(path.relative_to(ROOT))
        found.extend((name, number, line) for number, line in enumerate(content.splitlines(), 1))
    return tuple(found)


def section(text: str, heading: str) -> str:
    """Return the text under a `## ` heading, up to the next one."""
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


@cache
def defined() -> dict[str, set[str]]:
    """Read what the two documents define."""
    design, idp = DESIGN_DOC.read_text(encoding="utf-8"), IDP_DOC.read_text(encoding="utf-8")
    return {
        "rules": set(re.findall(r"^- \*\*R(\d+) ", design, re.M)),
        "design sections": set(re.findall(r"^## §(\d+) ", design, re.M)),
        "idp sections": set(re.findall(r"^#{2,3} §(\d+(?:\.\d+)?) ", idp, re.M)),
        "steps": set(re.findall(r"^\| ([AK]\d+[a-z]?) \|", idp, re.M)),
        "pitfalls": set(re.findall(r"^(\d+)\. \*\*", section(idp, "## §2 "), re.M)),
        "bodies": set(re.findall(r"^`(B-(?:OK|EN)\d+)`", idp, re.M)),
    }


def undefined(pattern: re.Pattern, known: set[str], split: bool = False) -> list[str]:
    """Return `file:line: citation` for each citation of `pattern` that is not in `known`."""
    missing = []
    for name, number, line in lines():
        for match in pattern.finditer(line):
            if pattern is STEP and HEX_BEFORE.search(line[: match.start()]) and HEX_AFTER.match(line[match.end() :]):
                continue
            cited = re.findall(r"\d+", match.group(1)) if split else [match.group(1)]
            missing.extend(f"{name}:{number}: {match.group(0)}" for item in cited if item not in known)
    return missing


def test_the_documents_define_complete_lists():
    found = defined()
    assert found["rules"] == {str(n) for n in range(1, 13)}
    assert found["pitfalls"] == {str(n) for n in range(1, 43)}
    assert {"4", "5", "7", "8", "9"} <= found["design sections"]
    expected_steps = {f"K{n}" for n in range(1, 15)} | {"K6b", "K12b"} | {f"A{n}" for n in range(1, 18)}
    assert found["steps"] == expected_steps
    assert found["bodies"] == {"B-OK1", "B-OK2", "B-EN1", "B-EN3"}


def test_the_scan_reaches_code_tests_and_docs():
    names = {name for name, _, _ in lines()}
    assert {"app.py", "scim/patch.py", "tests/scim/test_okta.py", "docs/design.md", "README.md"} <= names


@pytest.mark.parametrize(
    ("pattern", "kind", "split"),
    [
        (RULE, "rules", False),
        (PITFALLS, "pitfalls", True),
        (STEP, "steps", False),
        (BODY, "bodies", False),
        (DESIGN_SECTION, "design sections", False),
        (IDP_SECTION, "idp sections", False),
    ],
    ids=["rules", "pitfalls", "request steps", "sample bodies", "design sections", "idp-behaviour sections"],
)
def test_every_citation_is_defined_in_the_docs(pattern, kind, split):
    assert undefined(pattern, defined()[kind], split) == []


def test_citation_patterns_catch_what_they_must(monkeypatch):
    sample = (
        ("x.py", 1, "# Entra A18 and pitfall 43 (R13), docs/design.md §10"),
        ("x.py", 2, "# pitfalls 31, 44; idp-behaviour §7; Okta K6c, B-OK9"),
        ("x.py", 3, "# the bytes ED A0 80 and %ED%A0%80 are not steps"),
    )
    monkeypatch.setattr(sys.modules[__name__], "lines", lambda: sample)
    found = defined()
    assert undefined(RULE, found["rules"]) == ["x.py:1: R13"]
    assert undefined(PITFALLS, found["pitfalls"], split=True) == ["x.py:1: pitfall 43", "x.py:2: pitfalls 31, 44"]
    assert undefined(STEP, found["steps"]) == ["x.py:1: A18", "x.py:2: K6c"]
    assert undefined(BODY, found["bodies"]) == ["x.py:2: B-OK9"]
    assert undefined(DESIGN_SECTION, found["design sections"]) == ["x.py:1: design.md §10"]
    assert undefined(IDP_SECTION, found["idp sections"]) == ["x.py:2: idp-behaviour §7"]


def test_nothing_points_outside_the_repository():
    outside = [f"{name}:{number}: {line.strip()}" for name, number, line in lines() if OUTSIDE.search(line)]
    assert outside == []
