"""Flow 1.0 projects: ``.job`` and ``.properties`` files, flows derived from the dependency graph.

Azkaban's rules, which this module follows: job names are global to the project; each directory's
``.properties`` files chain in file-name order and are inherited by subdirectories; every job that no
other job depends on ends a flow named after it (``root.node=true`` adds one); ``type=flow`` with
``flow.name`` embeds another flow. All errors are collected and reported together, as an upload would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from sudoless.errors import InputError
from sudoless.flows.formats.properties import decode_properties, parse_properties, read_properties_text
from sudoless.flows.formats.validate import check_conditions, check_jvm_sizes, check_name, find_cycle
from sudoless.flows.model import Flow, Node

#: the files a Flow 1.0 project is read from, by the end of their name
SUFFIXES = (".job", ".properties")


def _read(path: str, rel: str, errors: list[str], contents: Mapping[str, bytes]) -> dict[str, str] | None:
    """Parse one file, from its bytes in ``contents`` (by project path) when there; a syntax error is collected
    with the file's project path ``rel``, like every other error."""
    try:
        data = contents.get(rel)
        return parse_properties(read_properties_text(path) if data is None else decode_properties(data))
    except InputError as exc:
        errors.append(f"{rel}: {exc}")
        return None


def _walk(
    directory: str,
    prefix: str,
    inherited: dict[str, str],
    jobs: list[tuple[str, str, dict[str, str]]],
    errors: list[str],
    contents: Mapping[str, bytes],
) -> None:
    """Collect (path, project path, inherited properties) of every visible ``.job`` under ``directory``, whose
    project path is ``prefix``. A name starting with a dot is hidden, and so is all below it: the walk never
    enters a hidden folder, so a path is hidden exactly when its own name is (strings and ``os.scandir``'s
    cached file types: a 300-job project cost a third more through ``pathlib``)."""
    shared = dict(inherited)
    with os.scandir(directory) as listing:
        entries = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
    for entry in entries:
        if entry.name.endswith(".properties") and _is(entry.is_file):
            shared.update(_read(entry.path, prefix + entry.name, errors, contents) or {})
    for entry in entries:
        if entry.name.endswith(".job") and _is(entry.is_file):
            jobs.append((entry.path, prefix + entry.name, shared))
        elif _is(entry.is_dir):
            _walk(entry.path, f"{prefix}{entry.name}/", shared, jobs, errors, contents)


def _is(test: Callable[[], bool]) -> bool:
    """A ``DirEntry`` test that, like ``pathlib``'s, takes what cannot be read (a link to itself) as not so."""
    try:
        return test()
    except OSError:
        return False


def load_flow1(
    root: Path, max_xms: str = "1G", max_xmx: str = "2G", contents: Mapping[str, bytes] | None = None
) -> tuple[dict[str, Flow], list[str]]:
    """Load every ``.job`` under ``root``; return the flows by name and the list of errors found.

    ``contents``: the bytes of files under ``root`` by project path, which the caller has in memory already
    (an upload, which just wrote them there): they are parsed instead of being read again. Which files
    count is still what the walk of ``root`` finds."""
    errors: list[str] = []
    found: list[tuple[str, str, dict[str, str]]] = []
    contents = contents or {}
    _walk(str(root), "", {}, found, errors, contents)
    # Every job file counts for duplicates, valid or not, as Azkaban checks names before contents.
    where: dict[str, list[str]] = {}
    loaded: dict[str, Node] = {}
    for path, rel, shared in found:
        name = rel.rpartition("/")[2][: -len(".job")]
        where.setdefault(name, []).append(rel)
        props = _read(path, rel, errors, contents)
        if props is None:
            continue
        if name == "ROOT":
            errors.append(f"{rel}: ROOT is not allowed as a name. Pick some other name.")
            continue
        bad_name = check_name(name, "job", rel)
        if bad_name:
            errors.append(bad_name)
            continue
        job_type = props.get("type", "").strip()
        if not job_type:
            errors.append(f"{rel}: Job doesn't have type set '{name}'.")
            continue
        deps = tuple(filter(None, map(str.strip, props.get("dependencies", "").split(","))))
        subflow = props.get("flow.name", "").strip() if job_type == "flow" else None
        if job_type == "flow" and not subflow:
            errors.append(f"{rel}: job '{name}' has type=flow but no flow.name")
            continue
        loaded[name] = Node(
            name=name,
            type=job_type,
            props=props,
            dependencies=deps,
            condition=props.get("condition") or None,
            source=rel,
            shared=shared,
            subflow=subflow,
        )
    duplicates = {name for name, paths in where.items() if len(paths) > 1} if len(where) < len(found) else set()
    for name in sorted(duplicates):
        errors.append(f"{', '.join(where[name])}: Duplicate job names found '{name}'.")
    nodes = {name: node for name, node in loaded.items() if name not in duplicates} if duplicates else loaded
    # A job whose own file was rejected above exists: its dependents get no second, misleading error.
    rejected = set(where) - set(nodes) - duplicates - {"ROOT"}
    for node in nodes.values():
        for dep in node.dependencies:
            if dep == node.name:
                errors.append(f"{node.source}: {node.name} has a self cycle")
            elif dep in duplicates:
                errors.append(f"{node.source}: {node.name} has ambiguous dependency {dep}")
            elif dep not in nodes and dep not in rejected:
                errors.append(f"{node.source}: {node.name} cannot find dependency {dep}")
    errors.extend(check_jvm_sizes(nodes.values(), max_xms, max_xmx))
    if errors:
        return {}, errors
    cycle = find_cycle({n: node.dependencies for n, node in nodes.items()})
    if cycle:
        errors.append(f"{nodes[cycle[0]].source}: Cyclical dependency found at {'>>'.join(cycle)}")
        return {}, errors
    depended = {dep for node in nodes.values() for dep in node.dependencies}
    terminals = [n for n, node in nodes.items() if n not in depended or node.props.get("root.node") == "true"]
    flows: dict[str, Flow] = {}
    for end in sorted(terminals):
        members: dict[str, Node] = {}
        stack = [end]
        while stack:
            name = stack.pop()
            if name not in members:
                members[name] = nodes[name]
                stack.extend(nodes[name].dependencies)
        ordered = {n: members[n] for n in sorted(members)}
        flows[end] = Flow(name=end, nodes=ordered, source=nodes[end].source)
    errors.extend(_check_embedded(flows))
    for flow in flows.values():
        errors.extend(check_conditions(flow))
    return (flows, []) if not errors else ({}, errors)


def _check_embedded(flows: dict[str, Flow]) -> list[str]:
    errors: list[str] = []
    uses: dict[str, list[str]] = {}
    for flow in flows.values():
        for node in flow.nodes.values():
            if node.subflow is None:
                continue
            if node.subflow not in flows:
                errors.append(f"{node.source}: Flow {flow.name} depends on {node.subflow} but can't be found.")
            targets = uses.setdefault(flow.name, [])
            if node.subflow not in targets:
                targets.append(node.subflow)
    acyclic: set[str] = set()
    for start in sorted(uses):
        chain = _embedded_cycle([start], uses, acyclic)
        if chain:
            errors.append(f"{flows[start].source}: Embedded flow cycle found in {'->'.join(chain)}")
    return errors


def _embedded_cycle(path: list[str], uses: dict[str, list[str]], acyclic: set[str]) -> list[str] | None:
    """Return an embedding cycle reachable from ``path[-1]`` as ``[a, b, ..., a]``, or None.

    ``acyclic`` collects the flows known to reach no cycle: a flow embedded many times is walked once,
    where walking every path would take exponential time on a deep project.
    """
    for target in uses.get(path[-1], []):
        if target in path:
            return path[path.index(target) :] + [target]
        if target not in acyclic:
            chain = _embedded_cycle([*path, target], uses, acyclic)
            if chain:
                return chain
    acyclic.add(path[-1])
    return None
