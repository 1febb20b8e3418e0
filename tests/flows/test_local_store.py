"""A local ``sudoless flow run`` on a SQLite home at the newest schema goes through the plain ``sqlite3`` store
(:mod:`sudoless.store.local`); it must store exactly what the SQLAlchemy store stores.

The same flows (a success, a failure, a job retried, several jobs with a disabled one) run through both stores in
two homes, and every row of every table is compared, apart from times, process ids and the homes' paths. The
schema check's fallbacks (a new home, an older schema, another back end, a URL with options) are checked too.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from flows.harness import write_project
from sudoless.cli import run as run_cli
from sudoless.store import Store, local
from sudoless.store.local import LocalStore, open_local
from sudoless.store.revision import REVISION_QUERY, head_revision

#: Columns whose values differ from run to run whatever the store: times, process ids, a zip's checksum (it
#: holds the files' times), a random id.
VARYING = re.compile(r"(time|heartbeat|started|^pid$|^md5$|^claim_token$|^duration$|^next_fire$)")

FLOWS = {
    "only.job": "type=command\ncommand=true\n",
    "bad.job": "type=command\ncommand=false\n",
    "flaky.job": "type=command\ncommand=false\nretries=2\nretry.backoff=0\n",
    "a.job": "type=command\ncommand=echo a\n",
    "b.job": "type=command\ncommand=echo b\ndependencies=a\n",
    "c.job": "type=command\ncommand=echo c\ndependencies=a\n",
    "d.job": "type=command\ncommand=echo d\ndependencies=b,c\n",
}
#: (flow, extra arguments, exit code): each ``sudoless flow run``; the first creates the database
RUNS = [
    ("only", (), 0),
    ("only", (), 0),
    ("bad", (), 1),
    ("flaky", (), 1),
    ("d", ("--disable", "c", "-p", "who=me"), 0),
    ("only", (), 0),
]


def local_store(url: str) -> LocalStore | None:
    return open_local(url, lambda: Store(url, migrate_schema=False))


def flow_run(monkeypatch: pytest.MonkeyPatch, home: Path, project: Path, flow: str, *extra: str) -> int:
    monkeypatch.setenv("SUDOLESS_HOME", str(home))
    monkeypatch.delenv("SUDOLESS_DB", raising=False)
    return run_cli(["flow", "run", str(project), "--flow", flow, "--json", *extra])


def run_all(monkeypatch: pytest.MonkeyPatch, home: Path, project: Path, light: bool) -> list[LocalStore | None]:
    """Every run of :data:`RUNS` in ``home``, the first of which creates its database, through the store asked
    for; the stores :func:`open_local` gave."""
    opened: list[LocalStore | None] = []

    def spy(url: str, full: Any) -> LocalStore | None:
        opened.append(open_local(url, full) if light else None)
        return opened[-1]

    with monkeypatch.context() as patch:
        patch.setattr("sudoless.store.open_local", spy)
        for flow, extra, code in RUNS:
            assert flow_run(monkeypatch, home, project, flow, *extra) == code, flow
    return opened


def rows(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, without the columns that vary from run to run; the home's path and log
    lines' times and numbers written the same way."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with sqlite3.connect(home / "sudoless.db") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in sorted(tables):
            cursor = db.execute(f"SELECT * FROM {table}")  # names from sqlite_master
            columns = [column[0] for column in cursor.description]
            kept = [i for i, name in enumerate(columns) if not VARYING.search(name)]
            found[table] = sorted(
                (tuple(columns[i] for i in kept), *(_same(row[i], home, table, columns[i]) for i in kept))
                for row in cursor
            )
    return found


def _same(value: Any, home: Path, table: str, column: str) -> Any:
    if isinstance(value, bytes):
        if table == "project_files":
            return len(value) > 0  # a zip: it holds the files' times
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        value = value.replace(str(home), "<home>")
        if table == "logs" or column == "input_props":
            value = re.sub(r"\d", "0", value)  # times, pids and sizes in log lines and properties
            value = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", value)
    return value


def test_both_stores_store_the_same_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj", FLOWS)
    full = run_all(monkeypatch, tmp_path / "full", project, light=False)
    light = run_all(monkeypatch, tmp_path / "light", project, light=True)
    assert full == [None] * len(RUNS)
    assert all(isinstance(store, LocalStore) for store in light)
    # the runs never needed the full store (which imports SQLAlchemy) on the light path
    assert not any("full" in vars(store) for store in light if store is not None)
    expected, got = rows(tmp_path / "full"), rows(tmp_path / "light")
    assert set(got) == set(expected)
    for table in expected:
        assert got[table] == expected[table], table
    # what the rows compared hold: the retries, the disabled job, the runtime property, the failures
    db = sqlite3.connect(tmp_path / "light" / "sudoless.db")
    attempts = db.execute("SELECT nested_id, attempt, status FROM job_runs WHERE exec_id = 4").fetchall()
    assert attempts == [("flaky", 0, "FAILED"), ("flaky", 1, "FAILED"), ("flaky", 2, "FAILED")]
    skipped = db.execute("SELECT status FROM job_runs WHERE exec_id = 5 AND nested_id = 'c'").fetchone()
    assert skipped == ("SKIPPED",)
    options = json.loads(db.execute("SELECT options FROM executions WHERE id = 5").fetchone()[0])
    assert options["runtime"] == {"ROOT": {"who": "me"}}
    statuses = [status for (status,) in db.execute("SELECT status FROM executions ORDER BY id")]
    assert statuses == ["SUCCEEDED", "SUCCEEDED", "FAILED", "FAILED", "SUCCEEDED", "SUCCEEDED"]
    db.close()


def test_a_local_store_answers_what_it_lacks_from_a_full_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Store(url).close()
    store = local_store(url)
    assert store is not None
    assert store.projects.active() == []  # a full ProjectQueries method
    assert isinstance(store.full, Store) and store.engine is store.full.engine
    store.close()


def test_only_a_plain_sqlite_file_new_or_at_the_newest_schema_is_opened_locally(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite"
    url = f"sqlite:///{database}"
    store = local_store(url)  # no file: created with the newest schema (tests/flows/test_fresh_schema.py)
    assert isinstance(store, LocalStore)
    store.close()
    with sqlite3.connect(database) as db:
        assert db.execute(REVISION_QUERY).fetchall() == [(head_revision(),)]
    empty = tmp_path / "empty.sqlite"
    empty.touch()  # what a full store that stopped before creating the schema leaves
    store = local_store(f"sqlite:///{empty}")
    assert isinstance(store, LocalStore)
    store.close()
    store = local_store(url)
    assert isinstance(store, LocalStore)
    store.close()
    with sqlite3.connect(database) as db:
        db.execute("UPDATE alembic_version SET version_num = '0001'")
    assert local_store(url) is None  # older: the full store migrates it
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    assert local_store(f"sqlite:///{garbage}") is None  # the full store says what is wrong with it
    assert local_store(f"sqlite:///{tmp_path}") is None  # a folder
    for other in (f"{url}?timeout=5", "sqlite://", "sqlite:///:memory:", "mysql://root@127.0.0.1/x"):
        assert local_store(other) is None, other


def test_the_new_database_of_a_local_run_is_private(tmp_path: Path) -> None:
    """Created 0600 in a folder made 0700, as the full store creates one (sudoless.private), whatever the
    umask."""
    old = os.umask(0o022)
    try:
        store = local_store(f"sqlite:///{tmp_path / 'new' / 'db.sqlite'}")
    finally:
        os.umask(old)
    assert store is not None
    store.close()
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    for name in ("db.sqlite", "db.sqlite-wal", "db.sqlite-shm"):
        path = tmp_path / "new" / name
        if path.exists() or name == "db.sqlite":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


def test_the_schema_check_is_one_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Store(url).close()
    seen: list[str] = []
    real = local.LocalConnection.execute

    def traced(self: local.LocalConnection, statement: str, params: Any = None) -> Any:
        seen.append(statement)
        return real(self, statement, params)

    monkeypatch.setattr(local.LocalConnection, "execute", traced)
    store = local_store(url)
    assert store is not None and seen == [REVISION_QUERY]
    assert head_revision() == max(
        p.name[:4] for p in (Path(local.__file__).parent / "migrations" / "versions").glob("0*.py")
    )
    store.close()


def test_a_failed_write_leaves_nothing_behind_and_the_connection_usable(tmp_path: Path) -> None:
    from sudoless.store import statements as q

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Store(url).close()
    store = local_store(url)
    assert store is not None
    chunk = {"exec_id": 1, "name": "", "attempt": 0, "start_byte": 0, "end_byte": 1, "data": b"x"}
    with pytest.raises(sqlite3.IntegrityError), store.write() as conn:
        q.run(conn, q.INSERT_LOG, chunk)
        q.run(conn, q.INSERT_LOG, chunk)  # the same key again
    with store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM logs").scalar() == 0
    assert store.logs.append_at_end(1, "", 0, b"abc") == 0
    assert store.logs.append_at_end(1, "", 0, b"de") == 3
    store.close()


@pytest.mark.parametrize(
    "names",
    [
        [],
        ["a"],
        ["a", "sub:b"],
        ['q"uo\\te', "line\nbreak\x00", "\u00e9t\u00e9", "\U0001f600", "\ud800lone"],
        ["x"] * 5,
    ],
)
def test_a_node_row_s_parents_are_the_json_json_dumps_writes(names: list[str]) -> None:
    """The submission writes each node row's parents without ``json.dumps`` (an encoder set up per row): the same
    text, which the run and the API read back with ``json.loads``."""
    from sudoless.store.light.executions import json_names

    assert json_names(names) == json.dumps(names)
    assert json.loads(json_names(names)) == names
