"""Moving an Azkaban installation to sudoless: ``import_azkaban`` reads Azkaban's database read-only and
brings its projects (every version), permissions, schedules and execution history into the sudoless database in use.

It is idempotent: a ledger (``azkaban_imports``) records what each run brought, so a second run adds only
what is new. Conflicts with what sudoless already holds are found before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sudoless.config import Settings
from sudoless.errors import InputError
from sudoless.store import Store

from .history import import_history
from .permissions import import_permissions, import_proxy_users
from .projects import ProjectPlan, import_project, plan_projects
from .properties import read_azkaban_properties
from .report import Progress, Report
from .schedules import import_schedules
from .source import AzkabanSource
from .users import import_users, plan_users

__all__ = ["ImportOptions", "Progress", "Report", "import_azkaban"]

_CONFLICT_MODES = ("fail", "skip", "rename")


@dataclass(frozen=True)
class ImportOptions:
    """``source_url`` is ``mysql://USER@HOST/DB`` (no password: that is ``password``, read from a file);
    ``projects`` limits the import to those names (empty: all); ``history`` is ``all``, ``none`` or a number
    of days of executions to bring; ``users`` an ``azkaban-users.xml`` to import with them; ``properties``
    Azkaban's ``azkaban.properties`` (:mod:`.properties`)."""

    source_url: str
    password: str | None = None
    projects: tuple[str, ...] = ()
    dry_run: bool = False
    on_conflict: str = "fail"
    enable_schedules: bool = False
    history: str = "all"
    users: Path | None = None
    #: Azkaban's azkaban.properties: the settings that map are reported as config.toml lines
    properties: Path | None = None


def import_azkaban(
    store: Store, settings: Settings, options: ImportOptions, progress: Progress | None = None
) -> Report:
    """Import (or, with ``dry_run``, only check) an Azkaban installation; returns the report.

    With ``on_conflict="fail"`` any conflict raises :class:`InputError` listing them, before anything is
    written. ``progress(step, done, total)`` is told how far the projects and then the executions are.
    """
    if options.history not in ("all", "none") and not options.history.isdigit():
        raise InputError(f"--history {options.history!r}: give a number of days, 'all' or 'none'")
    if options.on_conflict not in _CONFLICT_MODES:
        raise InputError(f"--on-conflict {options.on_conflict!r}: use one of {', '.join(_CONFLICT_MODES)}")
    source = AzkabanSource(options.source_url, options.password)
    try:
        return _run(store, settings, source, options, progress or _silent)
    finally:
        source.close()


def _silent(_step: str, _done: int, _total: int) -> None:
    """No one is watching."""


def _run(store: Store, settings: Settings, source: AzkabanSource, options: ImportOptions, progress: Progress) -> Report:
    report = Report(dry_run=options.dry_run)
    zone = read_azkaban_properties(options.properties, report).timezone if options.properties else ""
    origin = source.origin
    projects = source.projects()
    if options.projects:
        unknown = sorted(set(options.projects) - {p.name for p in projects})
        if unknown:
            raise InputError(
                f"--projects: {', '.join(unknown)} not in the Azkaban database {origin}; "
                "check the names (they are case-sensitive)"
            )
        projects = [p for p in projects if p.name in options.projects]
    plans = plan_projects(store, projects, store.imports.imported(origin, "project"), options.on_conflict, report)
    users = {user.name for user in store.accounts.users()}
    new_users: list[str] = []
    leave: set[str] = set()
    if options.users is not None:
        new_users, leave = plan_users(
            options.users, users, store.imports.imported(origin, "user"), options.on_conflict, report
        )
    if report.conflicts and options.on_conflict == "fail" and not options.dry_run:
        raise InputError("; ".join(report.conflicts))
    target = None if options.dry_run else store
    ledger = {kind: store.imports.imported(origin, kind) for kind in ("version", "events")}
    if options.users is not None:
        if options.dry_run:
            report.add("users", len(new_users))
        else:
            import_users(store, settings, options.users, new_users, leave, origin, report)
        users |= set(new_users)
    names: dict[int, str] = {}
    local: dict[int, tuple[int, str]] = {}
    paused_in_azkaban = source.paused_flow_triggers() if options.enable_schedules else set()

    def paused_there(plan: ProjectPlan) -> set[str]:
        return {flow for project_id, flow in paused_in_azkaban if project_id == plan.source.id}

    progress("projects", 0, len(plans))
    for done, plan in enumerate(plans, start=1):
        versions_before = report.counts["versions"]
        local_id = import_project(target, settings, source, plan, ledger, origin, report)
        if report.counts["versions"] > versions_before:
            _pause_flow_triggers(target, local_id, report, None if not options.enable_schedules else paused_there(plan))
        names[plan.source.id] = plan.name
        local[plan.source.id] = (local_id or 0, plan.name)
        grants, notes = import_permissions(target, local_id or 0, plan.name, source.permissions(plan.source.id), users)
        report.add("permissions", grants)
        report.unmapped.extend(notes)
        proxies, notes = import_proxy_users(
            store, not options.dry_run, local_id, plan.name, source.proxy_users(plan.source.id), plan.creator
        )
        report.add("proxy users", proxies)
        report.unmapped.extend(notes)
        for job in source.job_overrides(plan.source.id):
            report.unmapped.append(
                f"project {plan.name}: the properties of job {job} were changed in Azkaban's UI (a job override); "
                "not imported: set them again on the job's page here, or put them in the project's files"
            )
        progress("projects", done, len(plans))
    _report_unsupported(source, report)
    import_schedules(target, settings, source.triggers(), names, origin, options.enable_schedules, report, zone)
    import_history(
        store, settings, source, local, options.history, origin, report, write=not options.dry_run, progress=progress
    )
    if report.counts["flow triggers paused"] and not options.enable_schedules:
        report.notes.append(
            "the Flow 2.0 triggers of imported versions are paused too; resume them once Azkaban's are stopped"
        )
    if report.counts["schedules"] and not options.enable_schedules:
        report.notes.append(
            "schedules are imported paused, so no flow runs twice while Azkaban still runs; "
            "enable them once Azkaban's are stopped (or import with --enable-schedules)"
        )
    return report


def _report_unsupported(source: AzkabanSource, report: Report) -> None:
    """Ramps and flow deny lists have no counterpart here: each is listed, with what to do instead."""
    for ramp in source.optional_rows("SELECT rampId, rampPolicy, isActive FROM ramp ORDER BY rampId"):
        report.unmapped.append(
            f"ramp {ramp.rampId} (policy {ramp.rampPolicy}, {'active' if ramp.isActive else 'inactive'}): sudoless "
            "has no ramps; finish or stop it in Azkaban first, and upload the version it ramps to as the project's"
        )
    for deny in source.optional_rows(
        "SELECT flow_id, deny_mode, deny_version, rule_name FROM flow_deny_lists ORDER BY id"
    ):
        report.unmapped.append(
            f"deny-list entry {deny.rule_name} ({deny.deny_mode} of flow {deny.flow_id}): sudoless has no deny "
            "lists; to stop that flow from running, lock it (the flow's page or setFlowLock) or unschedule it"
        )


def _pause_flow_triggers(store: Store | None, project_id: int | None, report: Report, only: set[str] | None) -> None:
    """Pause the flow triggers an imported version brought (``trigger:`` blocks of Flow 2.0 flows): Azkaban
    still fires them until it is stopped, and a flow must not run in both. ``only`` (with --enable-schedules):
    pause just those flows' triggers, the ones paused in Azkaban."""
    if store is None or project_id is None:
        return
    for trigger in store.triggers.triggers(project_id):
        if not trigger.paused and (only is None or trigger.flow_id in only):
            store.triggers.set_paused(project_id, trigger.flow_id, True, None, "azkaban-import")
            report.add("flow triggers paused")
