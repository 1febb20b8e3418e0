"""The flow model every loader produces and the runner consumes.

A :class:`Project` holds :class:`Flow` objects; a flow holds :class:`Node` objects. Flow 1.0 and Flow 2.0
projects load into the same shapes, so nothing after loading knows which format a project used.
Embedded flows are flows too: a node of type ``flow`` names the flow it runs in ``subflow``. For Flow 2.0
the inline embedded flows are stored under their Azkaban ids (``outer:node``) with ``embedded=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sudoless.flows.formats.trigger import FlowTrigger


class FailureAction(StrEnum):
    """What a flow does when a job fails after its retries (Azkaban's ExecutionOptions.FailureAction)."""

    FINISH_CURRENTLY_RUNNING = "FINISH_CURRENTLY_RUNNING"
    CANCEL_ALL = "CANCEL_ALL"
    FINISH_ALL_POSSIBLE = "FINISH_ALL_POSSIBLE"

    @classmethod
    def parse(cls, text: str) -> FailureAction:
        """Accept the AJAX API's names, the Flow 2.0 config names and the enum names alike."""
        key = text.strip().replace("-", "_").lower()
        aliases = {
            "finishcurrent": cls.FINISH_CURRENTLY_RUNNING,
            "finish_currently_running": cls.FINISH_CURRENTLY_RUNNING,
            "cancelimmediately": cls.CANCEL_ALL,
            "cancel_all": cls.CANCEL_ALL,
            "finishpossible": cls.FINISH_ALL_POSSIBLE,
            "finish_all_possible": cls.FINISH_ALL_POSSIBLE,
        }
        if key not in aliases:
            from sudoless.errors import InputError

            raise InputError(
                f"unknown failure action {text!r}: use finishCurrent, cancelImmediately or "
                "finishPossible (or FINISH_CURRENTLY_RUNNING, CANCEL_ALL, FINISH_ALL_POSSIBLE)"
            )
        return aliases[key]

    @property
    def ajax_name(self) -> str:
        return {
            "FINISH_CURRENTLY_RUNNING": "finishCurrent",
            "CANCEL_ALL": "cancelImmediately",
            "FINISH_ALL_POSSIBLE": "finishPossible",
        }[self.value]


@dataclass(frozen=True)
class Node:
    """One node of a flow: a job, or an embedded flow when ``type == "flow"``.

    ``props`` are the node's own properties (its ``.job`` file or Flow 2.0 ``config``), unresolved;
    ``shared`` are the Flow 1.0 ``.properties`` inherited from its directory, already chained.
    """

    name: str
    type: str
    props: Mapping[str, str]
    dependencies: tuple[str, ...] = ()
    condition: str | None = None
    source: str = ""
    shared: Mapping[str, str] = field(default_factory=dict)
    subflow: str | None = None

    @property
    def is_flow(self) -> bool:
        return self.subflow is not None


@dataclass(frozen=True)
class Flow:
    """A DAG of nodes. ``props`` is the Flow 2.0 ``config`` (empty for Flow 1.0); ``trigger`` the Flow 2.0
    ``trigger`` block, when the file has one."""

    name: str
    nodes: Mapping[str, Node]
    props: Mapping[str, str] = field(default_factory=dict)
    embedded: bool = False
    source: str = ""
    trigger: FlowTrigger | None = None

    def children(self) -> dict[str, list[str]]:
        kids: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for dep in node.dependencies:
                kids[dep].append(node.name)
        return kids

    @property
    def start_nodes(self) -> list[str]:
        return [n.name for n in self.nodes.values() if not n.dependencies]

    @property
    def end_nodes(self) -> list[str]:
        kids = self.children()
        return [name for name, k in kids.items() if not k]

    def levels(self) -> dict[str, int]:
        """Longest distance from a start node, as Azkaban's UI and ``fetchflowjobs`` use it."""
        level: dict[str, int] = {}

        def visit(name: str) -> int:
            if name not in level:
                deps = self.nodes[name].dependencies
                level[name] = 1 + max((visit(d) for d in deps), default=-1)
            return level[name]

        for name in self.nodes:
            visit(name)
        return level


@dataclass(frozen=True)
class Project:
    """A loaded project: its top-level and embedded flows, and where its files are."""

    name: str
    root: Path
    flow_version: str
    flows: Mapping[str, Flow]
    #: what loads but deserves a word to the uploader (upload's ``warn``), e.g. a project without flows
    warnings: tuple[str, ...] = ()

    @property
    def top_flows(self) -> list[str]:
        """The flows Azkaban lists (``fetchprojectflows``): all but Flow 2.0's inline embedded ones."""
        return sorted(name for name, flow in self.flows.items() if not flow.embedded)

    def flow(self, name: str) -> Flow:
        if name not in self.flows or self.flows[name].embedded:
            from sudoless.errors import NotFoundError

            raise NotFoundError(
                f"Flow '{name}' cannot be found in project {self.name} (flows: {', '.join(self.top_flows) or 'none'})"
            )
        return self.flows[name]
