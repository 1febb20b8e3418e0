"""The ``trigger:`` block of a Flow 2.0 file: a cron schedule, dependencies to wait for, and a longest wait.

::

    trigger:
      maxWaitMins: 60
      schedule:
        type: cron
        value: 0 0 1 * * ?
      triggerDependencies:
        - name: orders
          type: file
          params:
            path: /data/in/orders-*.csv

The rules are Azkaban's (its NodeBeanLoader), with its reasons, checked in its order:

* ``schedule`` is required ("flow trigger schedule must not be null"), has exactly ``type: cron`` and a
  ``value`` that is a valid Quartz cron expression whose seconds field is ``0`` (a trigger fires at most once
  a minute: "interval of flow trigger schedule has to be larger than 1 min");
* each dependency has a ``name`` and a ``type``; names are unique, and so are (type, params) pairs;
* ``maxWaitMins`` is required when there are dependencies, at least 1, and more than 10 days is cut to 10
  days (14,400 minutes), as Azkaban does.

Two departures, both stricter: a dependency ``type`` must be one sudoless knows
(:mod:`sudoless.flows.triggers.dependencies`), whose params are checked now; and a file whose flow has no
nodes is refused (Azkaban loads it as a flow of 0 nodes that can never do anything). Every problem is
reported, not only the first, each as one line naming the file and, where YAML tells, the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sudoless.errors import InputError

__all__ = ["MAX_WAIT_MINS", "FlowTrigger", "TriggerDependency", "read_trigger"]

#: Azkaban's DEFAULT_FLOW_TRIGGER_MAX_WAIT_TIME: 10 days; longer waits are cut to it.
MAX_WAIT_MINS = 10 * 24 * 60
#: Azkaban's MIN_FLOW_TRIGGER_WAIT_TIME.
MIN_WAIT_MINS = 1


@dataclass(frozen=True)
class TriggerDependency:
    """One dependency: its unique ``name``, its ``type`` (a registered dependency type) and ``params``."""

    name: str
    type: str
    params: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "params": dict(self.params)}


@dataclass(frozen=True)
class FlowTrigger:
    """A flow's trigger: ``cron`` (Quartz), ``max_wait_mins`` (None: no dependencies, no wait) and the
    dependencies an instance waits for before the flow runs."""

    cron: str
    max_wait_mins: int | None
    dependencies: tuple[TriggerDependency, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "cron": self.cron,
            "maxWaitMins": self.max_wait_mins,
            "dependencies": [d.to_json() for d in self.dependencies],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowTrigger:
        return cls(
            cron=str(data["cron"]),
            max_wait_mins=data.get("maxWaitMins"),
            dependencies=tuple(
                TriggerDependency(
                    str(d["name"]), str(d["type"]), {str(k): str(v) for k, v in (d.get("params") or {}).items()}
                )
                for d in data.get("dependencies") or ()
            ),
        )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class _Lines:
    """Line numbers (1-based) of the trigger block's parts, read from the YAML node tree."""

    def __init__(self, text: str) -> None:
        import yaml  # only a Flow 2.0 file with a trigger block gets here (see flow2.py)

        self.lines: dict[tuple[Any, ...], int] = {}
        try:
            root = yaml.compose(text)
        except yaml.YAMLError:
            return
        self._walk(root, ())

    def _walk(self, node: Any, path: tuple[Any, ...]) -> None:
        import yaml

        if len(path) > 4:
            return
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                self.lines[sub] = key.start_mark.line + 1
                self._walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                sub = (*path, index)
                self.lines[sub] = item.start_mark.line + 1
                self._walk(item, sub)

    def at(self, *path: Any) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def read_trigger(path: Path, rel: str, data: Mapping[str, Any]) -> tuple[FlowTrigger | None, list[str]]:
    """The trigger of the flow file ``path`` (shown as ``rel``) whose parsed YAML is ``data``.

    Returns (None, []) when the file has no ``trigger`` key, else the trigger or the problems found.
    """
    if "trigger" not in data:
        return None, []
    lines = _Lines(path.read_text(encoding="utf-8"))
    errors: list[str] = []

    def problem(reason: str, *where: Any) -> None:
        line = lines.at("trigger", *where)
        errors.append(f"{rel}{f' line {line}' if line else ''}: flow trigger: {reason}")

    raw = data["trigger"]
    if not isinstance(raw, Mapping):
        problem("'trigger' must be a mapping with schedule, maxWaitMins and triggerDependencies")
        return None, errors
    cron = _schedule(raw.get("schedule"), problem)
    dependencies = _dependencies(raw.get("triggerDependencies"), problem)
    max_wait = _max_wait(raw, bool(raw.get("triggerDependencies")), problem)
    if not data.get("nodes"):
        problem(f"flow {path.stem} has a trigger but no nodes: it would run nothing; add its jobs under nodes:")
    if errors or cron is None:
        return None, errors
    return FlowTrigger(cron=cron, max_wait_mins=max_wait, dependencies=dependencies), []


def _schedule(raw: Any, problem: Any) -> str | None:
    from sudoless.flows.schedule import CronExpression

    if raw is None:
        problem("flow trigger schedule must not be null; add schedule: {type: cron, value: <Quartz cron>}")
        return None
    if not isinstance(raw, Mapping):
        problem("schedule must be a mapping of type and value", "schedule")
        return None
    if _text(raw.get("type")) != "cron":
        problem("flow trigger schedule type must be cron", "schedule", "type")
    value = _text(raw.get("value")).strip()
    cron = None
    try:
        CronExpression.parse(value)
        cron = value
    except InputError as error:
        problem(f"flow trigger schedule value must be a valid cron expression ({error})", "schedule", "value")
    if cron is not None and cron.split()[0] != "0":
        problem(
            f"interval of flow trigger schedule has to be larger than 1 min: the seconds field of '{cron}' must be 0",
            "schedule",
            "value",
        )
        cron = None
    if set(raw) != {"type", "value"}:
        problem("flow trigger schedule must contain type and value only", "schedule")
        cron = None
    return cron


def _dependencies(raw: Any, problem: Any) -> tuple[TriggerDependency, ...]:
    from sudoless.flows.triggers.dependencies import check_params

    if raw is None:
        return ()
    if not isinstance(raw, list):
        problem("triggerDependencies must be a list of dependencies", "triggerDependencies")
        return ()
    found: list[TriggerDependency] = []
    names: set[str] = set()
    configs: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    for index, item in enumerate(raw):
        where = ("triggerDependencies", index)
        if not isinstance(item, Mapping):
            problem("a dependency must be a mapping of name, type and params", *where)
            continue
        name, kind = _text(item.get("name")).strip(), _text(item.get("type")).strip()
        if not name:
            problem("dependency name is required", *where)
        if not kind:
            problem(f"dependency type is required for {name or f'dependency {index + 1}'}", *where)
        params_raw = item.get("params") or {}
        if not isinstance(params_raw, Mapping):
            problem(f"params of dependency {name} must be a mapping", *where, "params")
            continue
        params = {str(k): _text(v) for k, v in params_raw.items()}
        if not name or not kind:
            continue
        if name in names:
            problem(f"duplicate dependency.name {name} found, dependency.name should be unique", *where)
            continue
        names.add(name)
        config = (kind, tuple(sorted(params.items())))
        if config in configs:
            problem(
                f"duplicate dependency config {name} found (same type and params as {configs[config]}), "
                "dependency config should be unique",
                *where,
            )
            continue
        configs[config] = name
        for reason in check_params(kind, params):
            problem(f"dependency {name}: {reason}", *where)
        found.append(TriggerDependency(name, kind, params))
    return tuple(found)


def _max_wait(raw: Mapping[str, Any], has_dependencies: bool, problem: Any) -> int | None:
    value = raw.get("maxWaitMins")
    if value is None:
        if has_dependencies:
            problem("max wait min cannot be null unless no dependency is defined; add maxWaitMins")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problem(f"maxWaitMins must be a whole number of minutes, not '{_text(value)}'", "maxWaitMins")
        return None
    if value < MIN_WAIT_MINS:
        problem(f"max wait min must be at least {MIN_WAIT_MINS} min(s)", "maxWaitMins")
        return None
    return min(value, MAX_WAIT_MINS)
