"""Project life cycle beyond a single upload: create, upload keeping schedules consistent, delete, purge.

These are the operations Azkaban's ProjectManager performs for its web server; the HTTP layer and the
command line call them. Error messages are Azkaban's, since API clients show them verbatim.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from sudoless.config import Settings
from sudoless.errors import InputError, StateError
from sudoless.flows.executions import upload_project
from sudoless.flows.model import Project
from sudoless.flows.store import Store
from sudoless.flows.store import projects as queries
from sudoless.flows.store.projects import ProjectRecord

__all__ = ["create_project", "delete_project", "purge_project", "upload_archive"]

#: Azkaban's project name rule (``[a-zA-Z][a-zA-Z_0-9|-]*``; the ``|`` is Azkaban's, kept for fidelity).
NAME = re.compile(r"[a-zA-Z][a-zA-Z_0-9|-]*")
MAX_NAME = 255


class Schedules(Protocol):
    """What project operations need from the scheduler: list a project's schedules and remove one."""

    def list(self, project_name: str | None = None) -> list[Any]: ...

    def remove(self, schedule_id: int) -> Any: ...


def create_project(store: Store, name: str | None, description: str | None, user: str) -> int:
    """Create an empty project (version 0) and return its id."""
    if not name:
        raise InputError("Project name cannot be empty.")
    if description is None or not description.strip():
        raise InputError("Description cannot be empty.")
    if not NAME.fullmatch(name):
        raise InputError("Project names must start with a letter, followed by any number of letters, digits, "
                         "'-' or '_'.")
    if len(name) > MAX_NAME:
        raise InputError(f"Project names can have at most {MAX_NAME} characters.")
    return queries.create_project(store, name, description, user)


def upload_archive(store: Store, settings: Settings, schedules: Schedules, project: ProjectRecord,
                   archive: Path, user: str) -> tuple[int, Project]:
    """Store ``archive`` as the next version of ``project``; return (version, loaded project).

    Nothing changes unless the archive unpacks safely and the project validates. Schedules of flows the
    new version no longer has are removed, as Azkaban does.
    """
    if not project.active:
        raise StateError(f"Project {project.name} was already removed.")
    _, version, loaded = upload_project(store, settings, archive, user, name=project.name)
    for schedule in schedules.list(project.name):
        if schedule.flow_id not in loaded.top_flows:
            schedules.remove(schedule.id)
            queries.add_event(store, project.id, "SCHEDULE", user, f"Schedule of flow {schedule.flow_id} "
                              f"removed: the flow is gone in version {version}.")
    return version, loaded


def delete_project(store: Store, schedules: Schedules, project: ProjectRecord, user: str) -> None:
    """Remove the project's schedules and mark it deleted; its versions stay until purged."""
    for schedule in schedules.list(project.name):
        schedules.remove(schedule.id)
    queries.deactivate_project(store, project.id, user)


def purge_project(store: Store, project: ProjectRecord, user: str) -> None:
    """Delete the stored versions of a project that was deleted before."""
    if project.active:
        raise StateError(f"Project {project.name} should be deleted before purging")
    queries.purge_project(store, project.id, user)
