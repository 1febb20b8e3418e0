"""Checks shared by both project formats: cycles, conditions and JVM size limits."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from sudoless.errors import ConditionError
from sudoless.flows.formats.conditions import parse_condition
from sudoless.flows.model import Flow, Node


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one dependency cycle as ``[a, b, ..., a]`` (a depends on b ...), or None if acyclic."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            name, index = stack.pop()
            if index == 0:
                state[name] = 1
                path.append(name)
            deps = [d for d in graph.get(name, ()) if d in graph]
            if index < len(deps):
                stack.append((name, index + 1))
                dep = deps[index]
                if state.get(dep) == 1:
                    return path[path.index(dep):] + [dep]
                if not state.get(dep):
                    stack.append((dep, 0))
            else:
                state[name] = 2
                path.pop()
    return None


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
        for key, limit in (("Xms", max_xms), ("Xmx", max_xmx)):
            value = node.props.get(key)
            if value is None:
                continue
            size, cap = parse_size(value), parse_size(limit)
            if size is None:
                errors.append(f"{node.source}: {node.name}: {key} value '{value}' is not a size like 512M or 2G")
            elif cap is not None and size > cap:
                errors.append(f"{node.source}: {node.name}: {key} value has exceeded the allowed limit "
                              f"(max {key} = {limit})")
    return errors
