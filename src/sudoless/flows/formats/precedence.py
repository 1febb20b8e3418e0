"""Which value a job sees for a property: Azkaban's layers, lowest to highest.

1. the ``.properties`` chain of the job's directory (Flow 1.0);
2. the input of the flow the job is in: built-in ``azkaban.flow.*`` values, the flow's ``config``, the
   flow-level runtime properties (``ROOT``), and for an embedded flow the layers 3 to 5 of its node;
3. the output properties of the job's direct parents;
4. the job's own file or Flow 2.0 ``config``;
5. runtime properties for exactly this node (``runtimeProperty[<nested id>][...]``).

With Azkaban's ``azkaban.executor.runtimeProps.override.eager=true``, the runtime properties of ``ROOT`` and
of the enclosing embedded flows are applied on top of layer 4 too. docs/azkaban.md
explains the layers; the resolution oracle of Azkaban's ``FlowRunnerPropertyResolutionTest``, replayed in
tests/flows/test_runner_oracles.py, is the test for this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo

Props = Mapping[str, str]


def overlay(*layers: Props) -> dict[str, str]:
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def node_layers(parent_outputs: Sequence[Props], own: Props, runtime_node: Props) -> dict[str, str]:
    """Layers 3 to 5 of one node, which for an embedded-flow node become part of its flow's input."""
    return overlay(*parent_outputs, own, runtime_node)


def job_props(
    shared: Props,
    flow_input: Props,
    parent_outputs: Sequence[Props],
    own: Props,
    runtime_node: Props,
    eager_overrides: Sequence[Props] = (),
) -> dict[str, str]:
    """The unresolved properties of a job; ``${...}`` substitution runs on the result."""
    return overlay(shared, flow_input, *parent_outputs, own, *eager_overrides, runtime_node)


def flow_builtins(
    *,
    flow: str,
    exec_id: int,
    project_id: int,
    project: str,
    version: int,
    submit_user: str,
    source: str,
    start_ms: int,
    uuid: str,
    last_changed_by: str,
    last_changed_ms: int,
    zone: tzinfo = UTC,
) -> dict[str, str]:
    """The ``azkaban.flow.*`` properties every job of an execution sees (lowest part of layer 2).

    ``zone`` is the server's time zone (Azkaban's ``default.timezone.id``): the ``start.*`` values are its
    wall-clock time and ``start.timezone`` its name.
    """
    start = datetime.fromtimestamp(max(start_ms, 0) / 1000, zone)
    values = {
        "flowid": flow,
        "execid": str(exec_id),
        "projectid": str(project_id),
        "projectname": project,
        "projectversion": str(version),
        "uuid": uuid,
        "submituser": submit_user,
        "projectlastchangedby": last_changed_by,
        "projectlastchangeddate": str(last_changed_ms),
        "executionsource": source,
        "start.timestamp": start.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "start.year": f"{start:%Y}",
        "start.month": f"{start:%m}",
        "start.day": f"{start:%d}",
        "start.hour": f"{start:%H}",
        "start.minute": f"{start:%M}",
        "start.second": f"{start:%S}",
        "start.milliseconds": f"{start.microsecond // 1000:03d}",
        "start.timezone": str(zone),
    }
    return {f"azkaban.flow.{k}": v for k, v in values.items()}


def job_builtins(
    nested_id: str, attempt: int, innodes: Sequence[str], outnodes: Sequence[str], files: str
) -> dict[str, str]:
    """The ``azkaban.job.*`` properties of one attempt; they override everything, as Azkaban sets them last.

    ``files`` is the attempt's path without suffix: its log (a copy of what the store holds), and the
    metadata and attachment files a job may write, are that path with ``.log``, ``.meta`` and ``.attach``.
    """
    return {
        "azkaban.job.id": nested_id,
        "azkaban.job.attempt": str(attempt),
        "azkaban.job.innodes": ",".join(innodes),
        "azkaban.job.outnodes": ",".join(outnodes),
        "azkaban.job.log.file": f"{files}.log",
        "azkaban.job.metadata.file": f"{files}.meta",
        "azkaban.job.attachment.file": f"{files}.attach",
        "azkaban.flow.nested.path": nested_id,
    }
