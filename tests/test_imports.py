"""The layers import each other in one direction only: read from the source, not from what happens to load.

Two interfaces (scim/, admin/) and the small api/ sit over one domain (services/, models.py); app.py wires
them together. Every `import` in the project's own files counts, also one inside a function: deferring an
import hides a cycle from Python, not from a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every package of the application: scim, admin, api, services, models, cli, ... (not the tests or benchmarks).
PACKAGES = tuple(
    sorted(path.parent.name for path in ROOT.glob("*/__init__.py") if path.parent.name not in ("tests", "bench"))
)
INTERFACES = ("scim", "admin", "api")

# Imports the rules below allow although they cross a line, each with its reason. An entry names the
# importing module and the imported one exactly, so a new import of the same kind still fails.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {
    # The models fill every *_ci column with the one case fold; services/identifiers.py needs nothing that
    # needs the models (test_what_models_takes_from_services_never_leads_back checks it), so the domain's
    # two halves meet in one direction per module although services/ as a whole imports models/.
    ("models.base", "services.identifiers"): "the case fold of the *_ci columns",
    ("models.accounts", "services.identifiers"): "the folded profile of a user",
}


def _top_level_modules() -> list[str]:
    return sorted(path.stem for path in ROOT.glob("*.py") if "." not in path.stem)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str:
    """Return the package or top-level module a module belongs to (what the cycle check compares)."""
    return module.split(".")[0]


def _imports() -> list[tuple[str, str, int]]:
    """Return (importing module, imported module, line) for every import of a project module."""
    own = set(PACKAGES) | set(_top_level_modules())
    files = [ROOT / f"{name}.py" for name in _top_level_modules()]
    files += sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))
    found = []
    for path in files:
        source = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from scim import errors` imports scim.errors: name the submodule when there is one.
                targets = [
                    f"{node.module}.{alias.name}" if _is_module(f"{node.module}.{alias.name}") else node.module
                    for alias in node.names
                ]
            else:
                continue
            found.extend((source, target, node.lineno) for target in targets if _unit(target) in own)
    return found


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _crossing(rule, imports) -> list[str]:
    return sorted(
        f"{source} imports {target} (line {line})"
        for source, target, line in imports
        if rule(_unit(source), _unit(target)) and (source, target) not in KNOWN_EXCEPTIONS
    )


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected groups of more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for following in sorted(edges.get(node, ())):
            if following not in index:
                visit(following)
                low[node] = min(low[node], low[following])
            elif following in on_stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_graph_sees_the_imports_it_checks():
    imports = _imports()
    pairs = {(source, target) for source, target, _ in imports}
    assert ("app", "admin") in pairs and ("scim.auth", "extensions") in pairs
    assert ("scim", "scim.users") in pairs  # the route modules scim/__init__.py imports last


def test_no_cycle_between_packages_and_top_level_modules():
    edges: dict[str, set[str]] = {}
    for source, target, _ in _imports():
        if _unit(source) != _unit(target) and (source, target) not in KNOWN_EXCEPTIONS:
            edges.setdefault(_unit(source), set()).add(_unit(target))
    assert _cycles(edges) == []


def test_no_cycle_between_the_modules_of_a_package():
    """Inside a package too; what a package's __init__ holds is left out: Flask's blueprint pattern has the route
    modules take `bp` from it while it imports them, last, to register their routes."""
    edges: dict[str, set[str]] = {}
    for source, target, _ in _imports():
        if _unit(source) == _unit(target) and source != target and target != _unit(target):
            edges.setdefault(source, set()).add(target)
    assert _cycles(edges) == []


def _between_the_interfaces(source: str, target: str) -> bool:
    return {source, target} == {"scim", "admin"}


def _domain_to_interface(source: str, target: str) -> bool:
    return source in ("services", "models") and target in INTERFACES


def test_scim_and_admin_do_not_import_each_other():
    assert _crossing(_between_the_interfaces, _imports()) == []


def test_the_domain_imports_no_interface():
    assert _crossing(_domain_to_interface, _imports()) == []


def test_what_models_takes_from_services_never_leads_back():
    imports = _imports()
    leads_to: dict[str, set[str]] = {}
    for source, target, _ in imports:
        leads_to.setdefault(source, set()).add(target)
    reached, waiting = set(), [target for source, target in KNOWN_EXCEPTIONS if _unit(source) == "models"]
    while waiting:
        module = waiting.pop()
        if module not in reached:
            reached.add(module)
            waiting.extend(leads_to.get(module, ()))
    assert not [module for module in reached if _unit(module) == "models"], sorted(reached)


def test_the_checks_find_a_cycle_and_a_crossing():
    """The rules above would pass on an empty graph too: show them failing on a made-up one."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    made_up = [("scim.users", "admin.context", 1), ("services.members", "api.auth", 2), ("app", "admin", 3)]
    assert _crossing(_between_the_interfaces, made_up) == ["scim.users imports admin.context (line 1)"]
    assert _crossing(_domain_to_interface, made_up) == ["services.members imports api.auth (line 2)"]


def test_known_exceptions_are_still_needed():
    """An exception whose import is gone must go too, or it would quietly allow the next one."""
    pairs = {(source, target) for source, target, _ in _imports()}
    assert [edge for edge in KNOWN_EXCEPTIONS if edge not in pairs] == []
