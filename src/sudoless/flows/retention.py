"""What of an execution's leftovers may go: old executions' directories and logs, unused project versions.

Azkaban's ``execution.dir.retention``: a finished execution's directory (``executions/<id>``) is removed
``execution_dir_retention_days`` after the execution ended; a running one's never, however old. Azkaban's
``execution.logs.retention.ms``: its job and flow logs leave the database ``execution_log_retention_days``
after it ended (0 keeps them forever); a running execution's never. The execution's row and job runs
(statuses, times) stay: they are the history the UI and the API show, and cost little. A cached project version
(``projects/<id>.<version>.<archive MD5>``) may go when it is neither its project's current version nor the
version of an unfinished execution, or when it holds another archive than the database's for that version:
execution directories hold their own links to its files, and a version needed again is unpacked again from the
database.

The server's scheduler calls :func:`remove_expired_workdirs` and :func:`remove_expired_logs` periodically;
``sudoless clean`` lists all three kinds through :func:`flow_cleanables`, with the execution folders of a former
database at the same place that runs set aside (:func:`set_aside_workdirs`), and the folders no execution of the
database owns (:func:`unowned_workdirs`). A home may hold the folders of
several databases (:mod:`sudoless.datadir`); what is in a folder can only be judged by its own database, so
``clean`` prunes the folder of the database it is given and that of the home's default SQLite file when it
exists, and lists every other folder, with its size, as not judged (:func:`other_databases`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from sudoless.config import Settings
from sudoless.errors import NotFoundError
from sudoless.flows.workspace import parse_version_folder, project_cache
from sudoless.store import Store, store_for
from sudoless.store.status import TERMINAL_FLOW, Status

if TYPE_CHECKING:
    from sudoless.cleanable import Cleanable
    from sudoless.store.executions import ExecutionRecord

DAY_MS = 86_400_000
log = logging.getLogger(__name__)
_releasing: dict[int, threading.Thread] = {}  # id(store) -> the thread giving its free pages back
_releasing_lock = threading.Lock()


def give_back_space(store: Store) -> threading.Thread | None:
    """After rows went (old logs, a purged project): a SQLite file's free pages given back to the disk in a
    thread of its own, a small step at a time (:meth:`Store.reclaim_space` online), so that neither the
    scheduler's pass nor the purge's request waits for it and other processes' writers fit in between. One
    such thread per store; None when one is already at it, or for MySQL and PostgreSQL (they reuse the space
    inside their files)."""
    if store.dialect != "sqlite":
        return None
    with _releasing_lock:
        running = _releasing.get(id(store))
        if running is not None and running.is_alive():
            return None

        def release() -> None:
            try:
                freed = store.reclaim_space(online=True)
            except Exception:  # the pages stay free for reuse; the next removal tries again
                log.exception("could not give the database's free pages back to the disk")
            else:
                if freed:
                    log.info("gave %d bytes of the database file back to the disk", freed)

        thread = threading.Thread(target=release, name="sudoless-release-pages", daemon=True)
        _releasing[id(store)] = thread
        thread.start()
    return thread


def workdir_records(store: Store, settings: Settings) -> list[tuple[int, Path, ExecutionRecord | None]]:
    """(execution id, directory, its row or None) of every folder named by an id, each row read once."""
    found: list[tuple[int, Path, ExecutionRecord | None]] = []
    for exec_id, path in _numbered(settings.executions_dir):
        try:
            found.append((exec_id, path, store.executions.get(exec_id)))
        except NotFoundError:
            found.append((exec_id, path, None))
    return found


def expired_workdirs(
    store: Store,
    settings: Settings,
    now_ms: int,
    folders: list[tuple[int, Path, ExecutionRecord | None]] | None = None,
) -> list[tuple[int, Path]]:
    """(execution id, directory) of finished executions that ended more than the retention ago, among
    ``folders`` (:func:`workdir_records`, read here when not given).

    Folders that are not an execution of this database (no row, or not named by an id) are left alone.
    """
    cutoff = now_ms - int(settings.execution_dir_retention_days * DAY_MS)
    found = []
    for exec_id, path, record in workdir_records(store, settings) if folders is None else folders:
        if record is None:
            continue
        ended = record.end_time if record.end_time > 0 else record.update_time
        if record.status in TERMINAL_FLOW and ended < cutoff:
            found.append((exec_id, path))
    return found


def set_aside_workdirs(settings: Settings) -> list[Path]:
    """The execution folders of a former database at this place that a run moved out of its way
    (``.former-<id>-<n>``, :func:`~sudoless.flows.workspace.set_aside`): no execution of this database owns
    them, so nothing reads them again; they are kept only until ``sudoless clean`` removes them."""
    folder = settings.executions_dir
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(".former-") and p.is_dir())


def unowned_workdirs(
    store: Store,
    settings: Settings,
    now_ms: int,
    folders: list[tuple[int, Path, ExecutionRecord | None]] | None = None,
) -> list[tuple[str, Path]]:
    """(kind, folder) of what lies in the executions folder that no execution of this database owns
    (``folders``: :func:`workdir_records`, read here when not given):

    - ``orphan-execution``: a folder named by an id this database has no execution of (the database was
      restored from an older backup, or made again at the same place and has not reached that id yet). An
      execution's row is committed before its folder is made, so no run of this database can be caught
      between the two;
    - ``unfinished-staging``: a ``.<id>.<random>`` folder that a process killed while preparing an execution's
      directory left behind (:func:`~sudoless.flows.workspace.prepare_workdir` fills one and renames it),
      once it is a day old: one being filled now is minutes old at most.
    """
    folder = settings.executions_dir
    if not folder.is_dir():
        return []
    found: list[tuple[str, Path]] = [
        ("orphan-execution", path)
        for _, path, record in (workdir_records(store, settings) if folders is None else folders)
        if record is None
    ]
    stale = now_ms / 1000 - DAY_MS / 1000
    for path in sorted(folder.iterdir()):
        head, _, rest = path.name[1:].partition(".")
        if path.name.startswith(".") and head.isdigit() and rest and path.is_dir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < stale:
                    found.append(("unfinished-staging", path))
    return found


def remove_expired_workdirs(store: Store, settings: Settings, now_ms: int) -> list[int]:
    """Remove what :func:`expired_workdirs` finds; return the ids of the executions whose folder went."""
    from sudoless.cleanable import remove_path

    removed = []
    for exec_id, path in expired_workdirs(store, settings, now_ms):
        remove_path(path)
        removed.append(exec_id)
    return removed


def log_cutoff(settings: Settings, now_ms: int) -> int | None:
    """The end time before which a finished execution's logs may go; None when logs are kept forever."""
    if settings.execution_log_retention_days <= 0:
        return None
    return now_ms - int(settings.execution_log_retention_days * DAY_MS)


def expired_logs(store: Store, settings: Settings, now_ms: int) -> list[tuple[int, int]]:
    """(execution id, bytes of its logs) of the finished executions whose logs are past their retention."""
    cutoff = log_cutoff(settings, now_ms)
    return [] if cutoff is None else store.logs.ended_before(cutoff)


def remove_expired_logs(store: Store, settings: Settings, now_ms: int) -> list[int]:
    """Remove what :func:`expired_logs` finds; return the ids of the executions whose logs went."""
    cutoff = log_cutoff(settings, now_ms)
    found = [] if cutoff is None else [exec_id for exec_id, _ in store.logs.ended_before(cutoff)]
    if found:
        store.logs.delete(found, cutoff or 0)
        give_back_space(store)
    return found


def unused_versions(store: Store, settings: Settings) -> list[Path]:
    """Cached project versions that no project has as current and no unfinished execution runs, and those
    unpacked from an archive other than the one this database stores for their id and version (a former
    database's at the same place). A folder of a project this database does not know is left alone.

    A folder named by an older sudoless (``<id>.<version>``, without the archive's MD5) is never used again
    by this one; it is kept while its version is in use all the same, for an executor of the older version
    that may still share the database, and goes as any other once it is not."""
    cache = project_cache(settings)
    if not cache.is_dir():
        return []
    in_use = _versions_in_use(store)
    unused = []
    for path in sorted(cache.iterdir()):
        parsed = parse_version_folder(path.name)
        if parsed is None or not path.is_dir():
            continue
        project_id, version, digest = parsed
        try:
            current = store.projects.current_version(project_id)
        except NotFoundError:
            continue  # not a project of this database (another one may share the home): not ours to judge
        if ((project_id, version) in in_use or current == version) and _holds_stored(
            store, project_id, version, digest
        ):
            continue
        unused.append(path)
    return unused


def _holds_stored(store: Store, project_id: int, version: int, digest: str | None) -> bool:
    """Whether a cache folder of this version holds the archive this database stores for it (an older
    sudoless's folder, named without the MD5, is taken to)."""
    if digest is None:
        return True
    try:
        return store.projects.digest(project_id, version) == digest
    except NotFoundError:
        return False


def judged_settings(settings: Settings) -> list[Settings]:
    """The databases ``clean`` can judge: the one ``settings`` name, and the home's default SQLite file
    when that is another one and exists (it needs no password)."""
    from dataclasses import replace

    from sudoless.datadir import default_sqlite_url

    found = [settings]
    default = default_sqlite_url(settings.home)
    if settings.database_url != default and (settings.home / "sudoless.db").exists():
        found.append(replace(settings, db_url=default, db_password_file="", db_password=""))
    return found


def other_databases(settings: Settings) -> list[tuple[Path, int]]:
    """(folder, bytes) of every database folder of the home that :func:`judged_settings` cannot judge."""
    from sudoless.cleanable import tree_bytes
    from sudoless.datadir import data_root

    root = data_root(settings.home)
    if not root.is_dir():
        return []
    judged = {s.data_dir for s in judged_settings(settings)}
    return [
        (path, tree_bytes(path))
        for path in sorted(root.iterdir())
        if path.is_dir() and not path.name.startswith(".") and path not in judged
    ]


def all_flow_cleanables(settings: Settings) -> Iterator[Cleanable]:
    """:func:`flow_cleanables` of every database :func:`judged_settings` names."""
    for judged in judged_settings(settings):
        yield from flow_cleanables(judged)


def flow_cleanables(settings: Settings) -> Iterator[Cleanable]:
    """``sudoless clean``'s findings: expired execution directories, old executions' logs (one item: the bytes
    of log data the database drops) and unused cached versions, each sized by the bytes its removal alone
    frees (files with no other link; a directory sharing all its files with the cache frees next to nothing
    until the cache goes too)."""
    from sudoless.cleanable import Cleanable, remove_path

    if not settings.db_url and not (settings.home / "sudoless.db").exists():
        return  # no database yet: nothing to judge the folders by, and none to create
    store = store_for(settings)

    def remove_version(path: Path) -> bool:
        if path not in unused_versions(store, settings):  # taken into use since it was listed
            return False
        remove_path(path)
        return True

    now = store.clock()
    folders = workdir_records(store, settings)  # each execution's row read once, for both kinds below
    for _, path in expired_workdirs(store, settings, now, folders):
        yield Cleanable("execution-dir", path, unshared_bytes(path), partial(_removed, path))
    for path in set_aside_workdirs(settings):
        yield Cleanable("former-execution", path, unshared_bytes(path), partial(_removed, path))
    for kind, path in unowned_workdirs(store, settings, now, folders):
        yield Cleanable(kind, path, unshared_bytes(path), partial(_removed, path))
    logs = expired_logs(store, settings, now)
    if logs:
        ids = [exec_id for exec_id, _ in logs]
        where = (
            f"{settings.data_dir.name}: logs of {len(ids)} executions ended over "
            f"{settings.execution_log_retention_days:g} days ago (ids {ids[0]}..{ids[-1]})"
        )
        yield Cleanable(
            "execution-logs",
            where,
            sum(size for _, size in logs),
            lambda: store.logs.delete(ids, log_cutoff(settings, now) or 0) > 0,
            store.reclaim_space,
        )
    for path in unused_versions(store, settings):
        yield Cleanable("project-cache", path, unshared_bytes(path), partial(remove_version, path))


def unshared_bytes(path: Path) -> int:
    """The bytes of the files under ``path`` that no link elsewhere keeps: what removing it frees."""
    from sudoless.cleanable import file_stats

    return sum(st.st_size for st in file_stats(path) if st.st_nlink == 1)


def _removed(path: Path) -> bool:
    from sudoless.cleanable import remove_path

    remove_path(path)
    return True


def _versions_in_use(store: Store) -> set[tuple[int, int]]:
    unfinished = [status for status in Status if status not in TERMINAL_FLOW]
    return {(r.project_id, r.version) for r in store.executions.latest(statuses=unfinished, limit=1_000_000)}


def _numbered(folder: Path) -> Iterator[tuple[int, Path]]:
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.isdigit() and path.is_dir():
            yield int(path.name), path
