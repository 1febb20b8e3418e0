"""The application database is a package of its own, below flows, accounts and the server: it imports none of
them, it is reached one way (a query class per noun on the Store), and a project is created one way."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

import sudoless
from sudoless.store import Store
from sudoless.store import tables as t

SRC = Path(sudoless.__file__).parent
ABOVE = ("sudoless.flows", "sudoless.accounts", "sudoless.server", "sudoless.cli")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module an import statement in ``path`` names, those inside functions and
    ``TYPE_CHECKING`` blocks included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_store_imports_nothing_of_the_packages_built_on_it() -> None:
    files = sorted((SRC / "store").rglob("*.py"))
    assert len(files) > 10
    offenders = [
        f"{path.relative_to(SRC)}: {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if any(name == top or name.startswith(top + ".") for top in ABOVE)
    ]
    assert offenders == []


def test_store_has_one_access_shape(sqlite_store: Store) -> None:
    """Store itself only opens transactions and looks after the database as a whole (up, compacted);
    everything else is a query class, one per noun, whose module is named after the attribute."""
    own = {name for name in vars(Store) if not name.startswith("_")}
    queries = {name for name in own if type(getattr(sqlite_store, name)).__name__.endswith("Queries")}
    assert own - queries == {"close", "read", "shared_reads", "write", "ping", "database_up", "reclaim_space"}
    assert {
        "projects",
        "executions",
        "job_runs",
        "logs",
        "schedules",
        "accounts",
        "project_settings",
        "tokens",
        "triggers",
        "notifications",
    } <= queries
    for name in queries:
        assert type(getattr(sqlite_store, name)).__module__ == f"sudoless.store.{name}"


def test_a_project_is_created_one_way_whatever_the_caller(sqlite_store: Store) -> None:
    """An upload of a new name (``id_of`` with ``create_as``) and the API's create write the same rows."""
    made = sqlite_store.projects.create("by-api", "d", "alice")
    uploaded = sqlite_store.projects.id_of("by-upload", create_as="alice", description="d")
    assert sqlite_store.projects.id_of("by-upload") == uploaded
    events = [sqlite_store.projects.events(project_id) for project_id in (made, uploaded)]
    assert [[(e.type, e.user, e.message) for e in log] for log in events] == [
        [("CREATED", "alice", "Project created.")]
    ] * 2
    assert sqlite_store.project_settings.proxy_users(made) == sqlite_store.project_settings.proxy_users(uploaded)


def test_log_range_reads_across_chunks(store: Store) -> None:
    """The one read path returns exactly the bytes asked for, whichever chunks hold them, with the log's size,
    on every back end; a log nothing was written to is empty."""
    project_id = store.projects.id_of(f"logs-{uuid.uuid4().hex[:8]}", create_as="alice")
    exec_id = store.executions.submit(project_id, "logs", 0, "f", [], {}, "alice")
    data = b"".join(bytes([65 + i]) * 10 for i in range(5))
    for start in range(0, len(data), 10):
        store.logs.append(exec_id, "job", 0, start, data[start : start + 10])
    store.logs.append(exec_id, "job", 1, 0, b"second attempt")
    assert store.logs.size(exec_id, "job", 0) == len(data)
    for offset, length in ((0, 50), (5, 10), (9, 2), (10, 10), (45, 100), (50, 5), (60, 5), (0, 0), (15, 0)):
        expected = data[offset : offset + length]
        assert store.logs.read(exec_id, "job", 0, offset, length) == expected
        assert store.logs.page(exec_id, "job", 0, offset, length) == (len(data), expected)
    assert store.logs.page(exec_id, "job", 1, 7, 100) == (14, b"attempt")
    assert store.logs.page(exec_id, "job", 2, 0, 100) == (0, b"")
    assert store.logs.page(exec_id, "other", 0, 0, 100) == (0, b"")


def test_an_execution_with_its_project_in_one_read(sqlite_store: Store) -> None:
    """``get_with_project`` answers what ``get`` and ``projects.get(project_id=..., active_only=False)`` answer,
    a deleted project's row included, and None for a project row that is gone."""
    import sqlalchemy as sa

    from sudoless.errors import NotFoundError
    from sudoless.store import tables as t

    store = sqlite_store
    project_id = store.projects.id_of("joined", create_as="alice")
    exec_id = store.executions.submit(project_id, "joined", 0, "f", [], {}, "alice")
    for expect_active in (True, False):
        record, project = store.executions.get_with_project(exec_id)
        assert record == store.executions.get(exec_id)
        assert project == store.projects.get(project_id=project_id, active_only=False)
        assert project is not None and project.active is expect_active
        with store.write() as conn:
            conn.execute(sa.update(t.projects).where(t.projects.c.id == project_id).values(active=False))
    with store.write() as conn:
        conn.execute(sa.delete(t.projects).where(t.projects.c.id == project_id))
    assert store.executions.get_with_project(exec_id)[1] is None
    with pytest.raises(NotFoundError, match="Cannot find execution '987654'"):
        store.executions.get_with_project(987654)


def test_the_attempts_of_one_job(store: Store) -> None:
    """``job_runs.attempts`` reads one node's rows, oldest attempt first, as ``of`` holds them; a name differing
    only in case names no job (MySQL compares such names as equal)."""
    project_id = store.projects.id_of(f"attempts-{uuid.uuid4().hex[:8]}", create_as="alice")
    nodes = [
        {"nested_id": name, "type": "command", "status": "READY", "parents": parents, "condition": None}
        for name, parents in (("job", []), ("next", ["job"]), ("sub:job", []))
    ]
    exec_id = store.executions.submit(project_id, "attempts", 0, "f", nodes, {}, "alice")
    store.job_runs.update(exec_id, "job", 1, status="RUNNING", start_time=5)
    every = store.job_runs.of(exec_id)
    assert store.job_runs.attempts(exec_id, "job") == [run for run in every if run.nested_id == "job"]
    assert [run.attempt for run in store.job_runs.attempts(exec_id, "job")] == [0, 1]
    assert store.job_runs.attempts(exec_id, "next")[0].parents == ["job"]
    assert store.job_runs.attempts(exec_id, "JOB") == store.job_runs.attempts(exec_id, "job ") == []
    assert store.job_runs.attempts(exec_id + 1, "job") == []


def test_a_versions_flows_are_kept_until_its_project_can_be_purged(db_url: str, tmp_path: Path) -> None:
    """``version_flows`` keeps a version's flows decoded for the server (one Store), while another process (a
    second Store on the same database) uploads, deletes and purges: a new version is a new key, and a deleted
    project's flows are read again, so its purge shows at once."""
    server, other = Store(db_url), Store(db_url)
    try:
        archive = tmp_path / "project.zip"
        archive.write_bytes(b"not read back here")
        name = f"cached-{uuid.uuid4().hex[:8]}"
        project_id = other.projects.id_of(name, create_as="alice")
        first = {"etl": (False, {"nodes": [{"name": "a"}]})}
        other.projects.add_version(project_id, archive, first, "2.0", "alice")

        def flows() -> dict[str, list[str]]:
            project = server.projects.get(project_id=project_id, active_only=False)
            assert project is not None
            found = server.projects.version_flows(project, project.version)
            return {flow_id: [n["name"] for n in record.graph["nodes"]] for flow_id, record in found.items()}

        assert flows() == flows() == {"etl": ["a"]}
        project = server.projects.get(project_id=project_id)
        assert project is not None
        assert server.projects.version_flows(project, 1) is server.projects.version_flows(project, 1)  # kept
        other.projects.add_version(project_id, archive, {"etl": (False, {"nodes": [{"name": "b"}]})}, "2.0", "bob")
        assert flows() == {"etl": ["b"]}
        other.projects.deactivate(project_id, "alice")
        assert flows() == {"etl": ["b"]}
        other.projects.purge(project_id, "alice")
        assert flows() == {}
        assert server.projects.version_flows(project, 3) == {}  # no such version: nothing kept
    finally:
        server.close()
        other.close()


def test_a_page_of_projects_with_its_total(store: Store) -> None:
    """The projects list's page carries its total (one statement), a page past the end counts apart; a search
    matches parts of names and descriptions in any case, its wildcards literal; the ids allowed restrict."""
    with store.write() as conn:  # a database shared by the run's tests: only this test's projects counted
        conn.execute(sa.update(t.projects).where(t.projects.c.name.like("pg-%")).values(active=False))
    made = {
        name: store.projects.create(name, description, "ann")
        for name, description in (
            ("pg-Alpha", "first"),
            ("pg-b%ta", "with a WILDCARD"),
            ("pg-gamma", "under_score"),
            ("pg-delta", ""),
        )
    }
    ours = list(made.values())

    def names(search: str, limit: int, offset: int, allowed: list[int]) -> tuple[list[str], int]:
        found, total = store.projects.page(search, limit, offset, allowed)
        return [project.name for project in found], total

    assert names("", 10, 0, ours) == (["pg-Alpha", "pg-b%ta", "pg-delta", "pg-gamma"], 4)
    assert names("", 2, 2, ours) == (["pg-delta", "pg-gamma"], 4)
    assert names("", 2, 8, ours) == ([], 4)  # past the end: the total still
    assert names("ALPH", 10, 0, ours) == (["pg-Alpha"], 1)
    assert names("%", 10, 0, ours) == (["pg-b%ta"], 1)
    assert names("_", 10, 0, ours) == (["pg-gamma"], 1)
    assert names("wildcard", 10, 0, ours) == (["pg-b%ta"], 1)
    assert names("pg-", 10, 0, [made["pg-delta"], made["pg-Alpha"]]) == (["pg-Alpha", "pg-delta"], 2)
    assert names("", 10, 0, []) == ([], 0)
    everything, total = store.projects.page("", 1_000, 0)
    assert total == len(everything) >= 4
