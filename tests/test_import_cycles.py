"""No import cycle in ``src/``: every module's imports, read with :mod:`ast`, form a graph without cycles.

A cycle hidden by an import inside a function still ties its modules together: none of them can be read,
tested or moved alone, and the first caller decides which half is initialised first. So the graph takes
every import statement wherever it stands (module level, functions, methods, ``try`` blocks), with two
exceptions, both imports that never run as part of the program's own code:

* imports under ``if TYPE_CHECKING:``: only a type checker executes them, to name a type in an annotation
  (a parameter typed by a class of a higher layer is not a dependency on its code);
* modules named in strings (``importlib.import_module(name)``, the job-type plug-in table): that is the
  point of a plug-in, a lower layer that finds the higher one by name at run time.

``from pkg import name`` is an edge to ``pkg.name`` when that is a module, to ``pkg`` otherwise. The package
``__init__`` a submodule import runs implicitly is not an edge: a package may re-export its submodules.

The same graph folded onto the top-level packages must point one way too, the foundation modules (errors,
settings, ...) must import no package, and docs/architecture.md must draw it as it is. Run as a script, this
file prints that drawing (``--cycles``: the module cycles).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT_PACKAGE = "sudoless"

#: The foundation: single modules that any package may use and that import no package, only each other.
FOUNDATION = frozenset(
    {"errors", "config", "private", "zone", "datadir", "extras", "processes", "outbound", "cleanable", "descriptors"}
)


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Every module under ``src/sudoless`` by dotted name (a package by its ``__init__``)."""
    modules: dict[str, Path] = {}
    for path in sorted((src / ROOT_PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree`` except those in the body of an ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _import_nodes(ast.Module(body=[child], type_ignores=[]))
        else:
            yield from _import_nodes(node)


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names, relative levels resolved."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    package = parts if is_package else parts[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` is or lies in (``a.b.c`` may name a class ``c`` of ``a.b``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, modules: dict[str, Path]) -> set[str]:
    """The modules of ``src/`` that ``module`` imports."""
    path = modules[module]
    is_package = path.name == "__init__.py"
    found: set[str | None] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(_target(alias.name, modules) for alias in node.names)
            continue
        base = _base(module, is_package, node)
        for alias in node.names:
            found.add(_target(f"{base}.{alias.name}", modules) if alias.name != "*" else _target(base, modules))
    found.discard(None)
    found.discard(module)
    return {name for name in found if name is not None}


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module name to the set of ``src/`` modules it imports."""
    modules = module_files(src)
    return {module: imports_of(module, modules) for module in modules}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def a_cycle(graph: dict[str, set[str]], component: Iterable[str]) -> list[str]:
    """One closed path through ``component`` (its first module back to itself), for the failure message."""
    members = set(component)
    start = min(members)
    paths: dict[str, list[str]] = {start: [start]}
    queue = [start]
    while queue:  # breadth first: the shortest way back to the start
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(f"{sorted(members)} is not strongly connected")


def describe(graph: dict[str, set[str]], component: list[str]) -> str:
    return f"{len(component)} modules: " + " -> ".join(a_cycle(graph, component))


def package_of(module: str) -> str:
    """The top-level part of ``sudoless`` a module belongs to (``flows``, ``cli``, ``errors``...)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph folded onto the top-level packages and modules of ``sudoless`` (its own
    ``__init__``, which loads its few names lazily, left out)."""
    folded: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if module == ROOT_PACKAGE:
            continue
        edges = folded.setdefault(package_of(module), set())
        edges.update(package_of(target) for target in targets if target != ROOT_PACKAGE)
    for package, edges in folded.items():
        edges.discard(package)
    return folded


def reduced(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The transitive reduction of an acyclic graph: an edge a -> b is left out when a longer path leads
    from a to b (it adds nothing to what depends on what)."""

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        stack = list(graph[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(graph.get(node, ()))
        return seen

    return {
        node: {b for b in targets if not any(b in reach(c) for c in targets - {b})} for node, targets in graph.items()
    }


def mermaid(graph: dict[str, set[str]]) -> str:
    """The packages above the foundation and the arrows between them, as docs/architecture.md draws them:
    reduced when the packages form no cycle, every arrow otherwise."""
    above = {package: edges - FOUNDATION for package, edges in graph.items() if package not in FOUNDATION}
    if not strongly_connected(above):
        above = reduced(above)
    lines = ["flowchart TD"]
    lines += [f"  {package} --> {target}" for package in sorted(above) for target in sorted(above[package])]
    lines += [
        f"  {package}"
        for package in sorted(above)
        if not above[package] and not any(package in edges for edges in above.values())
    ]
    return "\n".join(lines) + "\n"


# -- the tests -------------------------------------------------------------------------------------------------


def test_the_reader_finds_every_kind_of_import(tmp_path: Path) -> None:
    """The walker sees imports in functions, resolves relative ones and ``from pkg import module``,
    and leaves out TYPE_CHECKING: a reader that missed any of these would hide a cycle."""
    package = tmp_path / ROOT_PACKAGE / "pkg"
    package.mkdir(parents=True)
    (tmp_path / ROOT_PACKAGE / "__init__.py").write_text("")
    (tmp_path / ROOT_PACKAGE / "top.py").write_text("X = 1\n")
    (package / "__init__.py").write_text("from . import low\n")
    (package / "low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sudoless.pkg import typed\n"
        "else:\n    import sudoless.top\n"
        "def f():\n    from .high import g\n    return g\n"
    )
    (package / "high.py").write_text("from sudoless.pkg import low\nfrom ..top import X\n")
    (package / "typed.py").write_text("import sudoless.pkg.low\n")
    graph = import_graph(tmp_path)
    assert graph["sudoless.pkg"] == {"sudoless.pkg.low"}
    assert graph["sudoless.pkg.low"] == {"sudoless.top", "sudoless.pkg.high"}
    assert graph["sudoless.pkg.high"] == {"sudoless.pkg.low", "sudoless.top"}
    assert strongly_connected(graph) == [["sudoless.pkg.high", "sudoless.pkg.low"]]
    assert a_cycle(graph, ["sudoless.pkg.high", "sudoless.pkg.low"]) == [
        "sudoless.pkg.high",
        "sudoless.pkg.low",
        "sudoless.pkg.high",
    ]


def test_no_import_cycle_in_src() -> None:
    graph = import_graph()
    assert len(graph) > 150, "the walker found too few modules: is src/ where it looks?"
    cycles = [describe(graph, component) for component in strongly_connected(graph)]
    assert not cycles, "import cycles in src/ (break each by moving the shared part down a layer):\n" + "\n".join(
        cycles
    )


def test_the_foundation_imports_no_package() -> None:
    folded = package_graph(import_graph())
    upward = {module: sorted(folded.get(module, set()) - FOUNDATION) for module in sorted(FOUNDATION)}
    assert {module: up for module, up in upward.items() if up} == {}, (
        "a foundation module imports a package: move what it needs down, or the module up"
    )


def test_packages_import_each_other_one_way() -> None:
    """Between top-level packages every arrow points one way, so that each can be read knowing only
    those below it."""
    folded = package_graph(import_graph())
    cycles = [describe(folded, component) for component in strongly_connected(folded)]
    assert not cycles, "packages that import each other:\n" + "\n".join(cycles)


def test_architecture_page_draws_the_packages_as_they_are() -> None:
    page = (SRC.parent / "docs" / "architecture.md").read_text()
    drawn = page.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert drawn == mermaid(package_graph(import_graph())), (
        "docs/architecture.md draws other arrows than the code has: paste `python tests/test_import_cycles.py`"
    )


def test_the_reduction_keeps_only_the_longest_paths() -> None:
    graph = {"cli": {"server", "flows", "store"}, "server": {"flows"}, "flows": {"store"}, "store": set()}
    assert reduced(graph) == {"cli": {"server"}, "server": {"flows"}, "flows": {"store"}, "store": set()}


if __name__ == "__main__":
    graph = import_graph()
    if "--cycles" in sys.argv:
        for component in strongly_connected(graph):
            print(describe(graph, component))
    else:
        print(mermaid(package_graph(graph)), end="")
