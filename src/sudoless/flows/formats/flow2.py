"""Flow 2.0 projects: one ``.project`` file and ``.flow`` YAML files anywhere under the project root.

Each ``.flow`` file is one flow named after the file. Nodes of ``type: flow`` carry their own ``nodes``
and become embedded flows with Azkaban's ids (``outer:node``), which are addressable but not listed as
top-level flows. Config values are read as strings, as Azkaban's bean does (``seconds: 0`` is ``"0"``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sudoless.flows.formats.trigger import read_trigger
from sudoless.flows.formats.validate import check_conditions, check_jvm_sizes, check_name, find_cycle
from sudoless.flows.model import Flow, Node

if TYPE_CHECKING:
    import yaml  # imported where a YAML file is read: a Flow 1.0 project (and `sudoless --help`) never needs it


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def find_project_file(root: Path) -> tuple[Path | None, list[str]]:
    """Find the ``*.project`` file: at the root, else in subdirectories; two in one directory is an error."""
    by_dir: dict[Path, list[Path]] = {}
    for path in sorted(root.rglob("*.project")):
        if path.is_file() and path.name != ".project" and _visible(path, root):
            by_dir.setdefault(path.parent, []).append(path)
    if not by_dir:
        return None, []
    first = min(by_dir, key=lambda d: (len(d.relative_to(root).parts), d.as_posix()))
    if len(by_dir[first]) > 1:
        names = ", ".join(p.relative_to(root).as_posix() for p in by_dir[first])
        return None, [f"{names}: Duplicate project YAML files found in the project directory. Only one is allowed."]
    return by_dir[first][0], []


def check_project_file(path: Path, root: Path) -> list[str]:
    import yaml

    rel = path.relative_to(root).as_posix()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        reason = _yaml_reason(exc) if isinstance(exc, yaml.YAMLError) else f" {exc}"
        return [f"{rel}: Error loading project yaml file:{reason}"]
    if not isinstance(data, dict) or "azkaban-flow-version" not in data:
        return [f"{rel}: azkaban-flow-version is not specified in the project YAML file."]
    version = data["azkaban-flow-version"]
    if not isinstance(version, float) or version != 2.0:
        return [f"{rel}: Invalid azkaban-flow-version in the project YAML file."]
    return []


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f" line {mark.line + 1}: {problem}" if mark is not None else f" {problem}"


#: The keys of Azkaban's node bean, into which it binds both a ``.flow`` file (whose ``name`` and ``type``
#: it then overwrites) and each of its nodes; any other key fails the upload there, and here.
#: ``trigger`` is a flow trigger, whose contents the trigger loader checks.
BEAN_KEYS = frozenset({"name", "type", "config", "dependsOn", "condition", "nodes", "trigger"})


def unknown_keys(text: str, rel: str) -> list[str]:
    """One problem per key of a ``.flow`` file that Azkaban's bean does not have, with its line, at the top
    level and in every node (embedded ones included); ``config`` and ``trigger`` contents are not keys."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []  # the parse itself reports the syntax error
    problems: list[str] = []

    def check(mapping: yaml.Node, where: str) -> None:
        if not isinstance(mapping, yaml.MappingNode):
            return
        name = ""
        for key, value in mapping.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "name" and isinstance(value, yaml.ScalarNode):
                name = value.value
        owner = where if where else f"node '{name}'" if name else "a node without a name"
        for key, value in mapping.value:
            text_key = key.value if isinstance(key, yaml.ScalarNode) else "?"
            if text_key not in BEAN_KEYS:
                hint = [k for k in sorted(BEAN_KEYS) if k.lower() == str(text_key).lower()]
                also = f" (did you mean '{hint[0]}'? keys are case-sensitive)" if hint else ""
                problems.append(
                    f"{rel} line {key.start_mark.line + 1}: unknown key '{text_key}' in {owner}{also}; "
                    f"known keys: {', '.join(sorted(BEAN_KEYS))}"
                )
            elif text_key == "nodes" and isinstance(value, yaml.SequenceNode):
                for item in value.value:
                    check(item, "")

    if root is not None:
        check(root, "the flow")
    return problems


def _as_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _config(raw: Any, where: str, errors: list[str]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.append(f"{where}: 'config' must be a mapping of property names to values")
        return {}
    return {str(k): _as_str(v) for k, v in raw.items()}


def _build(
    flow_id: str,
    raw_nodes: Any,
    config: dict[str, str],
    rel: str,
    embedded: bool,
    flows: dict[str, Flow],
    errors: list[str],
) -> None:
    invalid = (
        f"{rel}: Failed to validate nodeBean for {rel}. Duplicate nodes found or dependency "
        "undefined or ROOT used as a name."
    )
    if not raw_nodes:
        owner = f"embedded flow {flow_id}" if embedded else f"flow {flow_id}"
        errors.append(f"{rel}: {owner} has no nodes; give it a 'nodes:' list with at least one node")
        return
    if not isinstance(raw_nodes, list):
        errors.append(f"{rel}: 'nodes' of {flow_id} must be a list")
        return
    nodes: dict[str, Node] = {}
    valid = True
    for raw in raw_nodes:
        if not isinstance(raw, dict) or not raw.get("name"):
            errors.append(f"{rel}: a node of {flow_id} has no name")
            valid = False
            continue
        name = str(raw["name"])
        bad_name = check_name(name, "node", f"{rel}: flow {flow_id}")
        if bad_name:
            errors.append(bad_name)  # the node is still built, so that its dependants are not errors too
        node_type = _as_str(raw.get("type")).strip()
        if not node_type:
            errors.append(f"{rel}: node '{name}' of {flow_id} has no type")
            valid = False
            continue
        deps_raw = raw.get("dependsOn") or []
        if not isinstance(deps_raw, list):
            deps_raw = [deps_raw]
        props = _config(raw.get("config"), f"{rel}: node '{name}'", errors)
        props["type"] = node_type
        subflow = None
        if node_type == "flow":
            subflow = f"{flow_id}:{name}"
            _build(subflow, raw.get("nodes"), props, rel, True, flows, errors)
        condition = raw.get("condition")
        if name in nodes or name == "ROOT":
            valid = False
        nodes[name] = Node(
            name=name,
            type=node_type,
            props=props,
            dependencies=tuple(str(d) for d in deps_raw),
            condition=None if condition is None else _as_str(condition),
            source=rel,
            subflow=subflow,
        )
    if any(dep not in nodes for node in nodes.values() for dep in node.dependencies):
        valid = False
    if not valid:
        errors.append(invalid)
        return
    cycle = find_cycle({n: node.dependencies for n, node in nodes.items()})
    if cycle:
        errors.append(f"{rel}: Cycles found at {'>>'.join(cycle)}")
        return
    flows[flow_id] = Flow(
        name=flow_id, nodes=nodes, props={k: v for k, v in config.items() if k != "type"}, embedded=embedded, source=rel
    )


def load_flow2(
    root: Path, project_file: Path, max_xms: str = "1G", max_xmx: str = "2G"
) -> tuple[dict[str, Flow], list[str]]:
    """Load every ``.flow`` file under ``root``; return flows by id and the list of errors found."""
    import yaml

    errors = check_project_file(project_file, root)
    if errors:
        return {}, errors
    flows: dict[str, Flow] = {}
    seen: dict[str, str] = {}
    for path in sorted(root.rglob("*.flow")):
        if not path.is_file() or path.name == ".flow" or not _visible(path, root):
            continue
        rel = path.relative_to(root).as_posix()
        name = path.stem
        bad_name = check_name(name, "flow", rel)
        if bad_name:
            errors.append(bad_name)
            continue
        if name in seen:
            errors.append(f"{rel}: Duplicate flows found in the project with name {name} (also {seen[name]})")
            continue
        seen[name] = rel
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            reason = _yaml_reason(exc) if isinstance(exc, yaml.YAMLError) else f" {exc}"
            errors.append(f"{rel}: Error loading flow yaml file {path.name}:{reason}")
            continue
        if data is None:
            data = {}
        if not isinstance(data, dict):
            errors.append(f"{rel}: Error loading flow yaml file {path.name}: the top level must be a mapping")
            continue
        unknown = unknown_keys(text, rel)
        if unknown:
            errors.extend(unknown)
            continue
        _build(name, data.get("nodes"), _config(data.get("config"), rel, errors), rel, False, flows, errors)
        trigger, trigger_errors = read_trigger(path, rel, data)
        errors.extend(trigger_errors)
        if trigger is not None and name in flows:
            flows[name] = replace(flows[name], trigger=trigger)
    all_nodes = [node for flow in flows.values() for node in flow.nodes.values()]
    errors.extend(check_jvm_sizes(all_nodes, max_xms, max_xmx))
    for flow in flows.values():
        errors.extend(check_conditions(flow))
    return (flows, []) if not errors else ({}, errors)
