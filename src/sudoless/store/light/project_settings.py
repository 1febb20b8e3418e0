"""The per-project settings a flow run reads: its flow's lock, the version's job overrides, the sandbox grants;
and their records (:mod:`sudoless.store.light`; :mod:`sudoless.store.project_settings` sets them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sudoless.store import statements as q

if TYPE_CHECKING:
    from sudoless.store.local import Queryable

__all__ = ["FlowLock", "LightProjectSettingQueries", "SandboxGrants"]


@dataclass(frozen=True)
class FlowLock:
    """A locked flow: ``message`` is the lock's reason (Azkaban's ``flowLockErrorMessage``), if given."""

    flow_id: str
    message: str | None
    locked_time: int
    locked_by: str


@dataclass(frozen=True)
class SandboxGrants:
    """What an admin lets a project's jobs touch beyond the sandbox's defaults: paths to read, paths to read
    and write, and the only TCP ports they may connect to (None: any port)."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    ports: tuple[int, ...] | None = None


class LightProjectSettingQueries:
    """What a flow run asks of the per-project settings."""

    def __init__(self, store: Queryable) -> None:
        self.store = store

    def flow_lock(self, project_id: int, flow_id: str) -> FlowLock | None:
        """The lock of one flow; None when it is not locked."""
        with self.store.read() as conn:
            row = q.run(conn, q.FLOW_LOCK, {"project_id": project_id, "flow_id": flow_id}).first()
        return FlowLock(row.flow_id, row.message, int(row.locked_time), row.locked_by) if row else None

    def job_overrides(self, project_id: int, version: int) -> dict[tuple[str, str], dict[str, str]]:
        """The override properties of a project version, by (flow id or "", job id)."""
        with self.store.read() as conn:
            rows = q.run(conn, q.JOB_OVERRIDES, {"project_id": project_id, "version": version}).all()
        return {(row.flow_id, row.job_id): json.loads(row.props) for row in rows}

    def sandbox_grants(self, project_id: int) -> SandboxGrants:
        """The grants of a project; empty (the sandbox's defaults) when an admin set none."""
        with self.store.read() as conn:
            row = q.run(conn, q.SANDBOX_GRANTS, {"project_id": project_id}).first()
        if row is None:
            return SandboxGrants()
        ports = None if row.connect_ports is None else tuple(json.loads(row.connect_ports))
        return SandboxGrants(tuple(json.loads(row.read_paths)), tuple(json.loads(row.write_paths)), ports)
