"""Project life cycle beyond a single upload: create, upload keeping schedules consistent, delete, purge;
and the per-flow and per-job settings of a project: flow locks, job override properties and what its jobs may
touch beyond the sandbox's defaults.

These are the operations Azkaban's ProjectManager performs for its web server; the HTTP layer and the
command line call them. Error messages are Azkaban's, since API clients show them verbatim.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from sudoless.config import Settings
from sudoless.errors import InputError, NotFoundError, PermissionDenied, StateError
from sudoless.flows.model import Project
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store.project_settings import FlowLock, SandboxGrants
from sudoless.store.projects import FlowRecord, ProjectRecord

__all__ = [
    "change_description",
    "create_project",
    "delete_project",
    "flow_lock",
    "job_override",
    "purge_project",
    "set_flow_lock",
    "set_job_override",
    "set_sandbox_grants",
    "upload_archive",
]

#: Width of the ``job_overrides`` key columns.
MAX_OVERRIDE_KEY = 255

#: Azkaban's project name rule (``[a-zA-Z][a-zA-Z_0-9|-]*``; the ``|`` is Azkaban's, kept for fidelity).
NAME = re.compile(r"[a-zA-Z][a-zA-Z_0-9|-]*")
MAX_NAME = 255
MAX_DESCRIPTION = 16_000


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
        raise InputError(
            "Project names must start with a letter, followed by any number of letters, digits, '-' or '_'."
        )
    if len(name) > MAX_NAME:
        raise InputError(f"Project names can have at most {MAX_NAME} characters.")
    _check_description(description)
    return store.projects.create(name, description, user)


def _check_description(description: str) -> None:
    # The column is TEXT: 64 KB on MySQL, where a character may take 4 bytes.
    if len(description) > MAX_DESCRIPTION:
        raise InputError(f"Description can have at most {MAX_DESCRIPTION} characters.")


def change_description(store: Store, project: ProjectRecord, description: str, user: str) -> None:
    """Replace a project's description (``changeDescription``)."""
    _check_description(description)
    store.projects.set_description(project.id, description, user)


def upload_archive(
    store: Store, settings: Settings, schedules: Schedules, project: ProjectRecord, archive: Path, user: str
) -> tuple[int, Project]:
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
            store.projects.add_event(
                project.id,
                "SCHEDULE",
                user,
                f"Schedule of flow {schedule.flow_id} removed: the flow is gone in version {version}.",
            )
    return version, loaded


def delete_project(store: Store, schedules: Schedules, project: ProjectRecord, user: str) -> None:
    """Remove the project's schedules and flow triggers (cancelling their waiting instances) and mark it
    deleted; its versions stay until purged."""
    for schedule in schedules.list(project.name):
        schedules.remove(schedule.id)
    store.triggers.remove_project(project.id, f"project deleted by {user}")
    store.projects.deactivate(project.id, user)


def purge_project(store: Store, project: ProjectRecord, user: str) -> None:
    """Delete the stored versions of a project that was deleted before; a SQLite file gives their space back
    to the disk in the background (:func:`~sudoless.flows.retention.give_back_space`)."""
    from sudoless.flows.retention import give_back_space

    if project.active:
        raise StateError(f"Project {project.name} should be deleted before purging")
    store.projects.purge(project.id, user)
    give_back_space(store)


# -- flow locks ---------------------------------------------------------------------------------------------


def _flow(store: Store, project: ProjectRecord, flow_id: str) -> FlowRecord:
    flows = store.projects.flow_records(project.id, project.version) if project.version else {}
    if flow_id not in flows:
        raise NotFoundError(f"Flow {flow_id} not found in project {project.name}")
    return flows[flow_id]


def flow_lock(store: Store, project: ProjectRecord, flow_id: str) -> FlowLock | None:
    """The lock of a flow of the current version; None when unlocked. NotFoundError for an unknown flow."""
    _flow(store, project, flow_id)
    return store.project_settings.flow_lock(project.id, flow_id)


def set_flow_lock(
    store: Store, project: ProjectRecord, flow_id: str, locked: bool, message: str | None, user: str
) -> FlowLock | None:
    """Lock or unlock a flow; returns the lock now in force (None when unlocked).

    A locked flow is not executed (``executeFlow`` answers "Flow F for project P is locked.", its schedule
    skips its slots) and cannot be scheduled. The lock belongs to the flow id, so it outlives uploads.
    """
    _flow(store, project, flow_id)
    store.project_settings.set_flow_lock(project.id, flow_id, locked, message if locked else None, user)
    return store.project_settings.flow_lock(project.id, flow_id)


# -- job override properties --------------------------------------------------------------------------------


def _override_key(store: Store, project: ProjectRecord, flow_id: str, job_id: str) -> tuple[str, str]:
    """Where a job's override is kept: per job file for Flow 1.0 (one job whatever flows use it, like
    Azkaban's ``<job>.jor``), per (flow, node) for Flow 2.0, whose node names repeat across flows."""
    flow = _flow(store, project, flow_id)
    if not any(node["name"] == job_id for node in flow.graph.get("nodes", ())):
        raise NotFoundError(f"Job {job_id} not found in flow {flow_id}")
    version = store.projects.version(project.id, project.version)
    key_flow = "" if version is None or version.flow_version == "1.0" else flow_id
    if len(key_flow) > MAX_OVERRIDE_KEY or len(job_id) > MAX_OVERRIDE_KEY:
        raise InputError(f"flow and job names of overridden jobs are limited to {MAX_OVERRIDE_KEY} characters")
    return key_flow, job_id


def job_override(store: Store, project: ProjectRecord, flow_id: str, job_id: str) -> dict[str, str] | None:
    """A job's override properties in the current version; None when it has none."""
    key_flow, job = _override_key(store, project, flow_id, job_id)
    return store.project_settings.job_override(project.id, project.version, key_flow, job)


def set_job_override(
    store: Store, project: ProjectRecord, flow_id: str, job_id: str, props: dict[str, str], user: str
) -> None:
    """Store a job's override properties for the current version (Azkaban's ``setJobOverrideProperty``).

    When the job runs they replace its own properties: the whole set, not a merge (reference §3.5), so
    callers send every property the job needs, ``type`` included. The next upload starts without them.
    """
    key_flow, job = _override_key(store, project, flow_id, job_id)
    store.project_settings.set_job_override(project.id, project.version, key_flow, job, dict(props), user)
    shown = ", ".join(f"{key}={value}" for key, value in sorted(props.items()))
    store.projects.add_event(project.id, "PROPERTY_OVERRIDE", user, f"Modified Properties: {job} {{{shown}}}")


# -- sandbox grants -----------------------------------------------------------------------------------------


def _paths(field: str, paths: list[str]) -> tuple[str, ...]:
    for path in paths:
        if not path.startswith("/") or "\0" in path or any(ch < " " for ch in path):
            raise InputError(f"{field}: {path!r} is not an absolute path; give each path in full, from '/'")
    return tuple(dict.fromkeys(paths))


def _ports(ports: list[str] | None) -> tuple[int, ...] | None:
    if ports is None:
        return None
    numbers = []
    for port in ports:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise InputError(f"ports: {port!r} is not a TCP port; give numbers from 1 to 65535")
        numbers.append(int(port))
    return tuple(sorted(set(numbers)))


def set_sandbox_grants(
    store: Store,
    project: ProjectRecord,
    read: list[str],
    write: list[str],
    ports: list[str] | None,
    user: str,
    *,
    is_admin: bool,
) -> SandboxGrants:
    """Let the project's jobs read ``read``, read and write ``write`` and connect only to TCP ``ports``
    (None: any port); replaces the previous grants and returns the new ones.

    Only a server admin may call this: a grant widens what every job of the project touches (a project's own
    ADMIN, any user who created it, could otherwise open SUDOLESS_HOME to their jobs).
    """
    if not is_admin:
        raise PermissionDenied("Permission denied. Only a server admin may grant paths or ports to jobs.")
    grants = SandboxGrants(_paths("read", read), _paths("write", write), _ports(ports))
    store.project_settings.set_sandbox_grants(project.id, grants, user)
    ports_shown = "any" if grants.ports is None else list(grants.ports)
    shown = f"read={list(grants.read)} write={list(grants.write)} ports={ports_shown}"
    store.projects.add_event(project.id, "PROPERTY_OVERRIDE", user, f"Sandbox grants: {shown}")
    return grants
