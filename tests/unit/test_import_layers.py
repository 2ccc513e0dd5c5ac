"""The packages import each other one way only: no loops (issue 19, item 2).

Read from the source (``ast``), not from ``sys.modules``: an import inside a
function or under ``if TYPE_CHECKING:`` ties nothing at run time and is left
out; every other import counts, wherever it sits in the module.

Modules are named by their dotted names as strings, so the layout's move keeps
this test true to what it meant: the domain vocabulary, the core of the intake,
and the capability packages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.support.paths import REPO

ROOT = REPO

def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for top in ("daemon", "adapters") for p in sorted((ROOT / top).rglob("*.py"))}


# The vocabulary a sender's words become: what an adapter may import of the daemon.
DOMAIN = frozenset(name for name in MODULES if name.startswith("daemon.domain."))
# Verify, make durable, acknowledge, hand to the projectors: no capability in it.
CORE = frozenset({"daemon.intake.pipeline", "daemon.intake.durable", "daemon.intake.groupcommit", "daemon.domain.events",
                  "daemon.store.records"})
CAPABILITIES = ("calls", "contacts", "inquiries", "leads", "report", "routing", "screen", "sheets", "wishes")
# Every package in the order the data flows up: a module imports its own package and those
# before it, never one after. ``runtime`` here is its base (keys, metrics, logs, tasks, reload).
LAYERS = ("domain", "adapters", "wishes", "runtime", "store", "http", "intake", "sheets", "report", "routing",
          "contacts", "calls", "inquiries", "leads", "screen")
# Where the app is put together: they import everything, and nothing imports them.
COMPOSITION = frozenset({"daemon.cli", "daemon.runtime.app", "daemon.runtime.connect", "daemon.runtime.health",
                         "daemon.runtime.import_cli", "daemon.runtime.process"})




def _type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _statements(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run when the module is imported: not function bodies, not TYPE_CHECKING blocks."""
    for node in body:
        if _type_checking(node) or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        yield node
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(node, field, []))
        for handler in getattr(node, "handlers", []):
            yield from _statements(handler.body)


def imports_of(module: str) -> set[str]:
    """The project modules ``module`` imports when it is imported."""
    found: set[str] = set()
    for node in _statements(ast.parse(MODULES[module].read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def package_of(module: str) -> str | None:
    """The layer a module belongs to; None for the places that put the app together."""
    if module in COMPOSITION:
        return None
    parts = module.split(".")
    if parts[0] == "adapters":
        return "adapters"
    return parts[1] if len(parts) > 2 else None


def test_the_graph_is_read_from_the_source() -> None:
    """A guard against a test that checks nothing: known imports are found, TYPE_CHECKING ones are not."""
    assert "daemon.domain.events" in GRAPH["adapters.mango.translate"]
    assert "daemon.store.repository" in GRAPH["daemon.intake.pipeline"]
    assert "daemon.intake.durable" not in GRAPH["daemon.runtime.keys"]  # for the annotations only


def test_adapters_import_only_the_domain() -> None:
    """A sender's adapter translates its words into the domain's: nothing else of the daemon."""
    wrong = {(module, name) for module, names in GRAPH.items() if module.startswith("adapters.")
             for name in names if name.startswith("daemon.") and name not in DOMAIN}
    assert wrong == set()


def test_the_core_imports_no_capability() -> None:
    """Pipeline, intake, group commit, domain and record format know the projectors by a protocol only."""
    wrong = {(module, name) for module in CORE for name in GRAPH[module]
             if name not in DOMAIN and name.split(".")[1] in CAPABILITIES}
    assert wrong == set()


def test_the_domain_imports_only_the_domain() -> None:
    wrong = {(module, name) for module in DOMAIN for name in GRAPH[module]
             if name.startswith("daemon.") and name not in DOMAIN}
    assert wrong == set()


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _package_edges() -> dict[tuple[str, str], set[str]]:
    """(importing package, imported package) -> the module imports behind the edge."""
    edges: dict[tuple[str, str], set[str]] = {}
    for module, names in GRAPH.items():
        source = package_of(module)
        for name in names:
            target = package_of(name)
            if source is not None and target is not None and target != source:
                edges.setdefault((source, target), set()).add(f"{module} -> {name}")
    return edges


def test_every_package_has_a_layer() -> None:
    assert {package_of(module) for module in MODULES} - {None} == set(LAYERS)


def test_packages_import_down_the_layers_only() -> None:
    """Adapters, domain, store, intake and the capabilities import each other one way only,
    in the order of ``LAYERS``; the places that put the app together (``COMPOSITION``) are
    left out, as they import everything, and nothing imports them."""
    upward = {edge: imports for edge, imports in _package_edges().items()
              if LAYERS.index(edge[1]) > LAYERS.index(edge[0])}
    assert upward == {}
    assert not {name for module, names in GRAPH.items() if package_of(module) for name in names
                if name in COMPOSITION}


def test_no_loop_between_packages() -> None:
    packages: dict[str, set[str]] = {}
    for source, target in _package_edges():
        packages.setdefault(source, set()).add(target)
    assert _cycle(packages) is None


def test_no_loop_between_modules() -> None:
    assert _cycle(GRAPH) is None


def test_a_loop_is_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None
