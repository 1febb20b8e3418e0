"""After an upload, the project's triggers become those of its new version's flows.

Apart from :mod:`sudoless.flows.triggers.instances` (which fires and checks triggers) because every upload
runs this, ``sudoless flow run`` included: a project without triggers needs neither the cron parser, the
zone helper nor the dependency types, which that module imports (about 8 ms of a one-job run's CPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sudoless.config import Settings
    from sudoless.flows.model import Project
    from sudoless.store import Store

__all__ = ["sync_project_triggers", "zone"]


def sync_project_triggers(store: Store, settings: Settings, project_id: int, project: Project, user: str) -> None:
    """After an upload: the project's triggers become those of the new version's flows.

    A trigger whose cron did not change keeps its state (paused or not, next slot); a new or changed one
    starts from the first slot after now. Waiting instances of older versions go on waiting.
    """
    now = store.clock()
    crons = {}
    for flow_id in project.top_flows:
        trigger = project.flows[flow_id].trigger
        if trigger is not None:
            from sudoless.flows.schedule import CronExpression, next_after

            crons[flow_id] = (trigger.cron, next_after(CronExpression.parse(trigger.cron, zone(settings)), now))
    store.triggers.replace_all(project_id, crons, user)


def zone(settings: Settings) -> str:
    """Triggers fire in the server's zone (the ``timezone`` setting), as Azkaban's fire in its default zone."""
    from sudoless.zone import server_zone

    return server_zone(settings.timezone).key
