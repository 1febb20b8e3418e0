"""Checks shared by both project formats: names, cycles, conditions and JVM size limits."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from sudoless.errors import ConditionError
from sudoless.flows.formats.conditions import parse_condition
from sudoless.flows.model import Flow, Node

#: The longest job or flow name, in characters (Azkaban keeps flow ids in 128-character columns).
MAX_NAME = 128


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a job or a flow, or None when it can.

    Names are data that the runner, the store and the APIs quote, never paths: a name holds no ``/`` or
    ``\\``, is not ``.`` or ``..``, holds no ``:`` (the separator of nested ids like ``sub:job``) and no
    control character, and is at most :data:`MAX_NAME` characters long. Other Unicode (look-alikes of a
    slash or a dot included) is allowed: it is just characters.
    """
    if not name.strip():
        return "it is empty"
    if len(name) > MAX_NAME:
        return f"it is {len(name)} characters long (at most {MAX_NAME})"
    for char in ("/", "\\", ":"):
        if char in name:
            return f"it holds {char!r}"
    if name in (".", ".."):
        return f"{name!r} is a directory name"
    if name.isprintable():  # holds none of Cc, Zl and Zp (nor other unprintable ones): no need to look at each
        return None
    for char in name:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return f"it holds the control character U+{ord(char):04X}"
    return None


def check_name(name: str, what: str, where: str) -> str | None:
    """The upload error for a bad ``name`` of ``what`` ("job", "flow", "node") in file ``where``, or None."""
    problem = name_problem(name)
    if problem is None:
        return None
    shown = name if len(name) <= 40 else name[:40] + "..."
    return f"{where}: {what} name {shown!r} is not allowed: {problem}; rename it"


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one dependency cycle as ``[a, b, ..., a]`` (a depends on b ...), or None if acyclic."""
    if _acyclic(graph):
        return None
    state: dict[str, int] = {}
    known: dict[str, list[str]] = {}  # a node's dependencies in the graph, listed once: a node is revisited
    for start in sorted(graph):  # once per dependency, and rebuilding the list each time was O(deps²)
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            name, index = stack.pop()
            if index == 0:
                state[name] = 1
                path.append(name)
            deps = known.get(name)
            if deps is None:
                deps = known[name] = [d for d in graph.get(name, ()) if d in graph]
            if index < len(deps):
                stack.append((name, index + 1))
                dep = deps[index]
                if state.get(dep) == 1:
                    return path[path.index(dep) :] + [dep]
                if not state.get(dep):
                    stack.append((dep, 0))
            else:
                state[name] = 2
                path.pop()
    return None


def _acyclic(graph: Mapping[str, Sequence[str]]) -> bool:
    """Whether ``graph`` has no cycle, by Kahn's algorithm: half the work of the depth-first walk, which an
    acyclic graph (every project that uploads) then skips; the walk names the cycle of one that is not."""
    waiting: dict[str, int] = {}
    users: dict[str, list[str]] = {}
    ready: list[str] = []
    for name, deps in graph.items():
        count = 0
        for dep in deps:
            if dep in graph:
                count += 1
                if dep in users:
                    users[dep].append(name)
                else:
                    users[dep] = [name]
        if count:
            waiting[name] = count
        else:
            ready.append(name)
    done = 0
    while ready:
        done += 1
        for user in users.get(ready.pop(), ()):
            left = waiting[user] - 1
            waiting[user] = left
            if not left:
                ready.append(user)
    return done == len(graph)


def descendants(flow: Flow, name: str) -> set[str]:
    kids = flow.children()
    seen: set[str] = set()
    stack = list(kids[name])
    while stack:
        child = stack.pop()
        if child not in seen:
            seen.add(child)
            stack.extend(kids[child])
    return seen


def check_conditions(flow: Flow) -> list[str]:
    """Parse every node's condition; return Azkaban's "Invalid condition for ..." messages."""
    errors = []
    for node in flow.nodes.values():
        if node.condition is None:
            continue
        try:
            parse_condition(node.condition, node.name, flow.nodes.keys(), descendants(flow, node.name))
        except ConditionError as exc:
            errors.append(f"{node.source or flow.source}: {exc}")
    return errors


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[bB]?\s*$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> float | None:
    match = _SIZE.match(text)
    if not match:
        return None
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def check_jvm_sizes(nodes: Iterable[Node], max_xms: str, max_xmx: str) -> list[str]:
    """Azkaban rejects ``Xms``/``Xmx`` above ``job.max.Xms``/``job.max.Xmx`` at upload time."""
    errors = []
    for node in nodes:
        props = node.props
        if "Xms" not in props and "Xmx" not in props:
            continue
        for key, limit in (("Xms", max_xms), ("Xmx", max_xmx)):
            value = props.get(key)
            if value is None or "${" in value:
                continue  # a variable is only known when the job starts; Azkaban skips it here too
            size, cap = parse_size(value), parse_size(limit)
            if size is None:
                errors.append(f"{node.source}: {node.name}: {key} value '{value}' is not a size like 512M or 2G")
            elif cap is not None and size > cap:
                errors.append(
                    f"{node.source}: {node.name}: {key} value has exceeded the allowed limit (max {key} = {limit})"
                )
    return errors
