"""Projects, every version of each, their times, owners, deleted state and event log.

Each version's zip is reassembled from Azkaban's chunks, checked against its MD5, and stored through
:func:`sudoless.flows.executions.upload_project`, the path every upload takes, so its flows are parsed and
validated exactly as a fresh upload's would be. The zip is kept byte for byte.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sudoless.config import Settings
from sudoless.errors import SudolessError
from sudoless.flows.formats import load_project_dir
from sudoless.flows.formats.archive import unpack_zip
from sudoless.flows.jobtypes import known_types
from sudoless.flows.model import Project
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store import projects as project_rows

from .report import Report
from .source import AzkabanSource, ProjectRow

__all__ = ["ProjectPlan", "import_project", "plan_projects"]

#: Azkaban's ProjectLogEvent.EventType codes, as the names sudoless's event log uses.
EVENT_TYPES = {
    1: "CREATED",
    2: "DELETED",
    3: "USER_PERMISSION",
    4: "GROUP_PERMISSION",
    5: "DESCRIPTION",
    6: "UPLOADED",
    7: "SCHEDULE",
    8: "SLA",
    9: "PROXY_USER",
    10: "PURGE",
    11: "PROPERTY_OVERRIDE",
    12: "FLOW_UPLOAD",
    13: "JOB_PROPERTY_OVERRIDE",
}


@dataclass
class ProjectPlan:
    """One Azkaban project and where it goes: ``name`` here (renamed on conflict), ``local_id`` when an
    earlier run created it already."""

    source: ProjectRow
    name: str
    local_id: int | None
    #: the user the project is created for (its first proxy user too), once this run creates it
    creator: str = ""


def plan_projects(
    store: Store, projects: list[ProjectRow], done: dict[str, int], on_conflict: str, report: Report
) -> list[ProjectPlan]:
    """Decide, before anything is written, what each project becomes; conflicts are reported one line each
    (``fail``: the caller stops; ``skip``: left out; ``rename``: imported as NAME_azkaban)."""
    taken = {p.name: p.id for p in store.projects.active()}
    plans: list[ProjectPlan] = []
    for project in projects:
        if str(project.id) in done:
            plans.append(ProjectPlan(project, project.name, done[str(project.id)]))
            continue
        if not project.active or project.name not in taken:
            plans.append(ProjectPlan(project, project.name, None))
            continue
        line = f"project {project.name} (Azkaban id {project.id}) exists in sudoless already (id {taken[project.name]})"
        if on_conflict == "rename":
            name = _free_name(f"{project.name}_azkaban", taken)
            taken[name] = -1
            report.conflicts.append(f"{line}: imported as {name}")
            plans.append(ProjectPlan(project, name, None))
        elif on_conflict == "skip":
            report.conflicts.append(f"{line}: skipped")
        else:
            report.conflicts.append(f"{line}; rerun with --on-conflict skip or rename, or rename it in sudoless")
    return plans


def _free_name(base: str, taken: dict[str, int]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}"
    return name


def _creator(source: AzkabanSource, project: ProjectRow) -> str:
    for event in source.events(project.id):
        if event.event_type == 1 and event.username:
            return str(event.username)
    return project.last_modified_by or "azkaban"


def import_project(
    store: Store | None,
    settings: Settings,
    source: AzkabanSource,
    plan: ProjectPlan,
    ledger: dict[str, dict[str, int]],
    origin: str,
    report: Report,
) -> int | None:
    """Import what of one project earlier runs did not (``store`` None: only check it); returns the
    project's id here (None in a dry run for a project not imported yet).

    ``ledger`` holds the earlier runs' ``version`` and ``events`` rows. A run killed between storing a
    version and recording it is resumed by the zip's MD5: a stored version with the same one is that version.
    """
    project = plan.source
    created = plan.local_id is None
    if created:
        report.add("projects")
        plan.creator = _creator(source, project)
        if store is not None:
            plan.local_id = store.imports.create_imported_project(
                origin,
                str(project.id),
                plan.name,
                project.description,
                plan.creator,
                project.create_time,
                project.active,
            )
    else:
        report.skipped["projects"] += 1
    stored = _stored_md5(store, plan.local_id, ledger["version"])
    new_versions = 0
    latest: tuple[int, Project] | None = None
    checked: tuple[int, Path] | None = None  # a dry run's newest whole version, loaded to check its job types
    with tempfile.TemporaryDirectory(prefix="sudoless-azkaban-") as scratch:
        for version in source.versions(project.id):
            key = f"{project.id}/{version.version}"
            if key in ledger["version"]:
                report.skipped["versions"] += 1
                continue
            where = f"project {project.name} version {version.version}"
            if version.file_type not in ("zip", ""):
                report.unmapped.append(f"{where}: a {version.file_type} upload; only zips are imported")
                continue
            if (
                store is not None
                and plan.local_id is not None
                and version.md5 is not None
                and bytes(version.md5).hex() in stored
            ):
                store.imports.record_import(origin, "version", key, stored.pop(bytes(version.md5).hex()))
                report.skipped["versions"] += 1
                continue
            path = Path(scratch) / f"{version.version}" / _zip_name(version.file_name, project.name)
            path.parent.mkdir()
            with open(path, "wb") as out:
                problem = source.write_zip(version, out)
            if problem:
                report.unmapped.append(f"{where}: {problem}")
                continue
            if store is not None and plan.local_id is not None:
                try:
                    _, local, loaded = upload_project(
                        store,
                        settings,
                        path,
                        version.uploader or "azkaban",
                        name=plan.name,
                        project_id=plan.local_id,
                        log_event=False,
                    )
                except SudolessError as exc:
                    report.unmapped.append(f"{where}: sudoless cannot load it: {exc}")
                    continue
                store.imports.set_version_time(plan.local_id, local, version.upload_time)
                latest = (version.version, loaded)
                store.imports.record_import(origin, "version", key, local)
            else:
                checked = (version.version, path)
            new_versions += 1
            report.add("versions")
        if checked is not None:
            latest = _dry_load(settings, plan.name, *checked, report)
    if store is not None and plan.local_id is not None and (new_versions or created):
        store.imports.set_project_times(
            plan.local_id,
            project.create_time,
            project.modified_time,
            project.last_modified_by or "azkaban",
            project.description,
        )
    if latest is not None:
        _report_job_types(plan.name, *latest, report)
    _import_events(store, source, plan, ledger["events"].get(str(project.id), 0), origin, report)
    return plan.local_id


def _dry_load(settings: Settings, name: str, version: int, path: Path, report: Report) -> tuple[int, Project] | None:
    """A dry run loads the newest version it would import, as the upload would, to report what would not load
    or run (older versions are loaded by the import itself)."""
    try:
        root = unpack_zip(path, path.parent / "unpacked", settings.project_max_bytes, settings.project_max_files)
        return version, load_project_dir(root, name, settings.max_job_xms, settings.max_job_xmx)
    except SudolessError as exc:
        report.unmapped.append(f"project {name} version {version}: sudoless cannot load it: {exc}")
        return None


def _report_job_types(name: str, version: int, project: Project, report: Report) -> None:
    """List the job types of the newest imported version that this installation does not have: such jobs
    load, and fail when they run."""
    known = set(known_types()) | {"flow"}
    unknown: dict[str, set[str]] = {}
    for flow_id, flow in project.flows.items():
        for node in flow.nodes.values():
            if node.type not in known:
                unknown.setdefault(node.type, set()).add(f"{flow_id}.{node.name}")
    for job_type, jobs in sorted(unknown.items()):
        listed = sorted(jobs)
        more = f" and {len(listed) - 5} more" if len(listed) > 5 else ""
        report.unmapped.append(
            f"project {name} version {version}: job type '{job_type}' ({', '.join(listed[:5])}{more}) is not one "
            f"sudoless has ({', '.join(sorted(known))}); those jobs fail when run: change their type (command "
            "runs any program) or add a job type plug-in"
        )


def _stored_md5(store: Store | None, project_id: int | None, recorded: dict[str, int]) -> dict[str, int]:
    """MD5 to version number of the project's stored versions that no ledger row claims (an interrupted run's)."""
    if store is None or project_id is None:
        return {}
    claimed = set(recorded.values())
    return {v.md5: v.version for v in store.projects.versions(project_id) if v.version not in claimed}


def _import_events(
    store: Store | None, source: AzkabanSource, plan: ProjectPlan, done: int, origin: str, report: Report
) -> None:
    """Append the project's Azkaban events that earlier runs did not bring (the first ``done`` they did)."""
    events = source.events(plan.source.id)
    new = [
        {
            "event_type": EVENT_TYPES.get(int(e.event_type), f"EVENT_{e.event_type}"),
            "event_time": int(e.event_time),
            "username": e.username or "",
            "message": (e.message or "")[: project_rows.MAX_EVENT_CHARS],
        }
        for e in events[done:]
    ]
    report.add("events", len(new))
    if store is not None and plan.local_id is not None and new:
        store.imports.add_events(origin, str(plan.source.id), plan.local_id, new, len(events))


def _zip_name(file_name: str, project: str) -> str:
    """Azkaban's uploaded file name, reduced to a safe base name ending in .zip."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(file_name).name) or f"{project}.zip"
    return name if name.lower().endswith(".zip") else f"{name}.zip"
