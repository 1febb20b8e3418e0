"""The flow triggers as an upload leaves them: those of the new version's flows (:mod:`sudoless.store.light`;
:mod:`sudoless.store.triggers` fires and checks them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sudoless.store import statements as q

if TYPE_CHECKING:
    from sudoless.store.local import Queryable

__all__ = ["LightTriggerQueries"]


class LightTriggerQueries:
    """What an upload (a flow run's first step) asks of ``flow_triggers``."""

    def __init__(self, store: Queryable) -> None:
        self.store = store

    def replace_all(self, project_id: int, crons: Mapping[str, tuple[str, int]], user: str) -> None:
        """Make the project's triggers the flows of ``crons`` (flow -> (cron, first fire)); a trigger whose
        cron is unchanged keeps its state (paused, next fire), one whose flow lost its trigger goes."""
        now = self.store.clock()
        with self.store.write() as conn:
            existing = dict(q.run(conn, q.PROJECT_TRIGGERS, {"project_id": project_id}).all())
            for flow_id in set(existing) - set(crons):
                q.run(conn, q.DELETE_TRIGGER, {"project_id": project_id, "flow_id": flow_id})
            for flow_id, (cron, first) in crons.items():
                old = existing.get(flow_id)
                if old is None:
                    row = {
                        "project_id": project_id,
                        "flow_id": flow_id,
                        "cron": cron,
                        "paused": False,
                        "next_fire": first,
                        "last_fire": -1,
                        "modified_time": now,
                        "modified_by": user,
                    }
                    q.run(conn, q.insert_statement("flow_triggers", tuple(row)), row)
                elif old != cron:
                    changed = {"cron": cron, "next_fire": first, "modified_time": now, "modified_by": user}
                    key = {"k_project_id": project_id, "k_flow_id": flow_id}
                    q.run(
                        conn,
                        q.update_statement("flow_triggers", tuple(changed), ("project_id", "flow_id")),
                        {**changed, **key},
                    )
