"""Per-project settings beyond uploads: proxy users, flow locks, job override properties and sandbox grants.

Azkaban keeps these on its project object (proxy users, ``Flow.isLocked``) and in ``project_properties``
(``<job>.jor`` files); here they are three small tables. Reached as
``store.project_settings``; the rules (who may add a proxy user, what a lock blocks, how an
override applies) live in :mod:`sudoless.flows.projects` and :mod:`sudoless.flows.executions`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from sudoless.store import tables as t
from sudoless.store.light.project_settings import FlowLock, LightProjectSettingQueries, SandboxGrants
from sudoless.store.rows import upsert as _upsert

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["FlowLock", "ProjectSettingQueries", "SandboxGrants"]


class ProjectSettingQueries(LightProjectSettingQueries):
    """Queries on the per-project settings of one :class:`~sudoless.store.Store` (what a flow run reads is
    :class:`~sudoless.store.light.project_settings.LightProjectSettingQueries`'s)."""

    store: Store

    def proxy_users(self, project_id: int) -> list[str]:
        """The proxy users of a project, by name."""
        p = t.project_proxy_users
        with self.store.read() as conn:
            return list(
                conn.execute(sa.select(p.c.name).where(p.c.project_id == project_id).order_by(p.c.name)).scalars()
            )

    def add_proxy_user(self, project_id: int, name: str, user: str) -> bool:
        """Add ``name``; False when it was a proxy user already (adding twice is not an error, as in Azkaban)."""
        p = t.project_proxy_users
        with self.store.write() as conn:
            if conn.execute(sa.select(p.c.name).where(p.c.project_id == project_id, p.c.name == name)).first():
                return False
            conn.execute(
                p.insert().values(project_id=project_id, name=name, added_time=self.store.clock(), added_by=user)
            )
        return True

    def remove_proxy_user(self, project_id: int, name: str) -> bool:
        """Remove ``name``; False when it was not a proxy user."""
        p = t.project_proxy_users
        with self.store.write() as conn:
            return bool(conn.execute(p.delete().where(p.c.project_id == project_id, p.c.name == name)).rowcount)

    def flow_locks(self, project_id: int) -> dict[str, FlowLock]:
        """Every locked flow of a project, by flow id."""
        f = t.flow_locks
        with self.store.read() as conn:
            rows = conn.execute(sa.select(f).where(f.c.project_id == project_id)).all()
        return {row.flow_id: FlowLock(row.flow_id, row.message, int(row.locked_time), row.locked_by) for row in rows}

    def locked_flows(self, project_ids: Sequence[int]) -> set[tuple[int, str]]:
        """The (project id, flow id) of every locked flow of these projects, in one query."""
        f = t.flow_locks
        if not project_ids:
            return set()
        with self.store.read() as conn:
            rows = conn.execute(sa.select(f.c.project_id, f.c.flow_id).where(f.c.project_id.in_(project_ids))).all()
        return {(int(row.project_id), row.flow_id) for row in rows}

    def set_flow_lock(self, project_id: int, flow_id: str, locked: bool, message: str | None, user: str) -> None:
        """Lock (replacing the message of an existing lock) or unlock a flow."""
        f = t.flow_locks
        key = {"project_id": project_id, "flow_id": flow_id}
        with self.store.write() as conn:
            if locked:
                _upsert(conn, f, key, {"message": message, "locked_time": self.store.clock(), "locked_by": user})
            else:
                conn.execute(f.delete().where(f.c.project_id == project_id, f.c.flow_id == flow_id))

    def job_override(self, project_id: int, version: int, flow_id: str, job_id: str) -> dict[str, str] | None:
        """One job's override properties (``flow_id`` "" for Flow 1.0); None when it has none."""
        j = t.job_overrides
        with self.store.read() as conn:
            text = conn.execute(
                sa.select(j.c.props).where(
                    j.c.project_id == project_id, j.c.version == version, j.c.flow_id == flow_id, j.c.job_id == job_id
                )
            ).scalar()
        return json.loads(text) if text is not None else None

    def set_job_override(
        self, project_id: int, version: int, flow_id: str, job_id: str, props: dict[str, str], user: str
    ) -> None:
        """Store (replace) a job's override properties for one version."""
        key = {"project_id": project_id, "version": version, "flow_id": flow_id, "job_id": job_id}
        with self.store.write() as conn:
            _upsert(
                conn,
                t.job_overrides,
                key,
                {"props": json.dumps(props, sort_keys=True), "modified_time": self.store.clock(), "modified_by": user},
            )

    def set_sandbox_grants(self, project_id: int, grants: SandboxGrants, user: str) -> None:
        """Store (replace) a project's grants; empty grants remove the row."""
        g = t.project_sandbox
        with self.store.write() as conn:
            if grants == SandboxGrants():
                conn.execute(g.delete().where(g.c.project_id == project_id))
                return
            ports = None if grants.ports is None else json.dumps(list(grants.ports))
            _upsert(
                conn,
                g,
                {"project_id": project_id},
                {
                    "read_paths": json.dumps(list(grants.read)),
                    "write_paths": json.dumps(list(grants.write)),
                    "connect_ports": ports,
                    "modified_time": self.store.clock(),
                    "modified_by": user,
                },
            )
