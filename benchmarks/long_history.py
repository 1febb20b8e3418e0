"""Server time of every UI page and AJAX read over a long history (issue 22: under 50 ms with 1,000,000
executions and 20,000,000 job rows), on SQLite, MariaDB or PostgreSQL.

The history is generated, not run: a handful of projects with a few flows of ``--jobs-per-execution`` jobs
each (uploaded as real projects), then ``--executions`` executions spread over six months with their job
rows, shaped as the executor writes them (mostly SUCCEEDED; FAILED runs with the failed job's descendants
CANCELLED; KILLED ones; a few still RUNNING or queued at the end), streamed in batches: multi-row
``executemany`` on SQLite and MariaDB (PyMySQL folds an INSERT's rows into statements of many rows each),
``COPY`` on PostgreSQL. The newest executions get a job log each, and one a long log.

Each page is then requested through the ASGI application in process, ``--tries`` times. UI pages are timed
by their ``Server-Timing`` header (the server's own time, from the request to the rendered answer, as in
``benchmarks/ui_pages.py``); AJAX answers carry no such header, so they are timed around the in-process
call (a fraction of a millisecond more than the server's own time). The target is 50 ms for every one.

    .venv/bin/python benchmarks/long_history.py --db sqlite --executions 100000 --jobs-per-execution 20
    .venv/bin/python benchmarks/long_history.py --db mysql --executions 100000 --keep

The database is new and thrown away afterwards (a new MariaDB/PostgreSQL database, a temporary SQLite file)
unless ``--keep``. Results: a table on stdout and ``benchmarks/results/long_history-<db>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the test suite's database helpers

import sqlalchemy as sa  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: E402
from rich.table import Table  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from sudoless.accounts import Accounts  # noqa: E402
from sudoless.config import Settings  # noqa: E402
from sudoless.flows.scheduler import Scheduler  # noqa: E402
from sudoless.flows.upload import upload_project  # noqa: E402
from sudoless.server.app import create_app  # noqa: E402
from sudoless.store import Store  # noqa: E402
from sudoless.store import tables as t  # noqa: E402
from support.services import create_database, drop_database  # noqa: E402

TARGET_MS = 50.0
DAY_MS = 86_400_000
PROJECTS = 5
FLOWS = 4
USERS = ("alice", "bob", "carol", "dave", "erin")
BATCH = 20_000  # executions per transaction (400,000 job rows at 20 a run)
LOGGED = 200  # the newest executions with a job log each
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
KINDS = {"sqlite": "sqlite", "mysql": "mariadb", "postgres": "postgresql"}


def write_project(root: Path, name: str, jobs: int) -> Path:
    """``FLOWS`` flows, each a chain of ``jobs`` command jobs ending in the flow's job ``f<k>``."""
    folder = root / name
    folder.mkdir(parents=True)
    for flow in range(FLOWS):
        for job in range(jobs):
            lines = ["type=command", f"command=echo {job}"]
            if job:
                lines.append(f"dependencies={job_name(flow, job - 1, jobs)}")
            (folder / f"{job_name(flow, job, jobs)}.job").write_text("\n".join(lines) + "\n")
    return folder


def job_name(flow: int, job: int, jobs: int) -> str:
    return f"f{flow}" if job == jobs - 1 else f"f{flow}_j{job:03d}"


def flow_of(exec_id: int) -> int:
    """The flow an execution ran: projects take turns, and each project its flows."""
    return ((exec_id - 1) // PROJECTS) % FLOWS


EXEC_COLUMNS = (
    "id", "project_id", "project_name", "version", "flow_id", "status", "submit_user", "submit_time",
    "start_time", "end_time", "update_time", "source", "options", "executor_id", "control", "priority",
    "restarted_from",
)  # fmt: skip
RUN_COLUMNS = (
    "exec_id", "nested_id", "attempt", "type", "status", "start_time", "end_time", "update_time", "parents",
    "condition", "pid", "host", "input_props", "output_props",
)  # fmt: skip
Row = tuple[Any, ...]


def history_rows(
    executions: int, jobs: int, ids: list[int], names: list[str], now: int, rng: random.Random
) -> Iterator[tuple[list[Row], list[Row]]]:
    """(execution rows, job rows) as tuples in the order of ``EXEC_COLUMNS`` / ``RUN_COLUMNS``, in batches of
    ``BATCH`` executions, oldest first, over 180 days. Plain tuples and precomputed names: at 20,000,000 job
    rows the generator's own Python is a good part of the load time."""
    start = now - 180 * DAY_MS
    step = max(1, (180 * DAY_MS) // executions)
    names_of = [[job_name(flow, job, jobs) for job in range(jobs)] for flow in range(FLOWS)]
    parents_of = [
        [json.dumps([names_of[flow][job - 1]] if job else []) for job in range(jobs)] for flow in range(FLOWS)
    ]
    randint, random_, randrange = rng.randint, rng.random, rng.randrange
    for first in range(0, executions, BATCH):
        rows: list[Row] = []
        runs: list[Row] = []
        add = runs.append
        for index in range(first, min(first + BATCH, executions)):
            exec_id = index + 1
            project = index % PROJECTS
            flow = flow_of(exec_id)
            submitted = start + index * step + randrange(step)
            live = executions - index  # the last few still run or wait
            roll = random_()
            if live <= 3:
                state = "PREPARING"
            elif live <= 10:
                state = "RUNNING"
            elif roll < 0.08:
                state = "FAILED"
            elif roll < 0.10:
                state = "KILLED"
            else:
                state = "SUCCEEDED"
            began = submitted + randint(200, 3_000) if state != "PREPARING" else -1
            at = began
            failed_at = randrange(jobs) if state in ("FAILED", "KILLED") else jobs
            running_at = randrange(jobs) if state == "RUNNING" else jobs
            flow_names, flow_parents = names_of[flow], parents_of[flow]
            for job in range(jobs):
                if state == "PREPARING" or job > running_at:
                    status, s, e = "READY", -1, -1
                elif job == running_at:
                    status, s, e = "RUNNING", at, -1
                elif job > failed_at:
                    status, s, e = ("CANCELLED" if state == "FAILED" else "KILLED"), at, at
                else:
                    status = state if job == failed_at else "SUCCEEDED"
                    s, e = at, at + randint(1_000, 60_000)
                    at = e
                ran = s >= 0
                add(
                    (
                        exec_id,
                        flow_names[job],
                        0,
                        "command",
                        status,
                        s,
                        e,
                        max(e, s, submitted),
                        flow_parents[job],
                        None,
                        4_000 + job if ran else None,
                        "exec1" if ran else None,
                        None,
                        None,
                    )  # fmt: skip
                )
            ended = at if state in ("FAILED", "KILLED", "SUCCEEDED") else -1
            rows.append(
                (
                    exec_id,
                    ids[project],
                    names[project],
                    1,
                    f"f{flow}",
                    state,
                    USERS[int(random_() * 5)],
                    submitted,
                    began,
                    ended,
                    max(ended, began, submitted),
                    "schedule" if random_() < 0.7 else "adhoc",
                    "{}",
                    None if state == "PREPARING" else 1,
                    "",
                    5,
                    None,
                )  # fmt: skip
            )
        yield rows, runs


def tsv(rows: list[Row]) -> str:
    """Rows as tab-separated text with ``\\N`` for NULL, the text format of PostgreSQL's COPY and MariaDB's
    LOAD DATA alike. The generated values hold no tab, newline or backslash, so nothing needs escaping."""
    return "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows)


class Loader:
    """Bulk loading for one back end, the fastest path each offers without server settings changed:
    ``COPY ... FROM STDIN`` on PostgreSQL, ``LOAD DATA LOCAL INFILE`` on MariaDB (``local_infile`` is on by
    default there; the client asks for it on a connection of its own), ``executemany`` on SQLite's own
    driver, every row in one transaction. The secondary indexes of both tables are dropped first and built
    once at the end: maintaining five B-trees row by row costs more than building them sorted."""

    def __init__(self, store: Store, scratch: Path) -> None:
        self.store = store
        self.scratch = scratch
        self.dialect = store.dialect
        self.indexes = [*t.executions.indexes, *t.job_runs.indexes]
        self.raw: Any = None
        self.quote = store.engine.dialect.identifier_preparer.quote

    def __enter__(self) -> Loader:
        with self.store.engine.connect() as conn:
            for index in self.indexes:
                index.drop(conn)
            conn.commit()
        if self.dialect == "mysql":
            import pymysql

            url = self.store.engine.url
            self.raw = pymysql.connect(
                host=url.host, port=url.port or 3306, user=url.username, password=url.password or "",
                database=url.database, local_infile=True, autocommit=False,
            )  # fmt: skip
            with self.raw.cursor() as cursor:
                cursor.execute("SET unique_checks = 0, foreign_key_checks = 0")
        else:
            self.raw = self.store.engine.raw_connection()
        if self.dialect == "sqlite":  # the store's connections leave transactions to explicit BEGINs
            self.raw.driver_connection.execute("PRAGMA synchronous = OFF")
            self.raw.driver_connection.execute("BEGIN")
        return self

    def load(self, rows: list[Row], runs: list[Row]) -> None:
        for table, columns, batch in ((t.executions, EXEC_COLUMNS, rows), (t.job_runs, RUN_COLUMNS, runs)):
            names = ", ".join(map(self.quote, columns))  # "condition" is a reserved word in MariaDB
            if self.dialect == "postgresql":
                raw = self.raw.driver_connection
                with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    copy.write(tsv(batch))
            elif self.dialect == "mysql":
                path = self.scratch / f"{table.name}.tsv"
                path.write_text(tsv(batch))
                with self.raw.cursor() as cursor:
                    cursor.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table.name} ({names})", (str(path),))
            else:
                marks = ", ".join("?" * len(columns))
                self.raw.driver_connection.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", batch)
        if self.dialect != "sqlite":
            self.raw.commit()

    def __exit__(self, *exc: object) -> None:
        self.raw.commit()
        if self.dialect == "sqlite":
            self.raw.driver_connection.execute("PRAGMA synchronous = NORMAL")
        self.raw.close()
        with self.store.engine.connect() as conn:
            for index in self.indexes:
                index.create(conn)
            conn.commit()


def generate(store: Store, settings: Settings, scratch: Path, executions: int, jobs: int, console: Console) -> None:
    ids, names = [], []
    for p in range(PROJECTS):
        name = f"p{p:02d}"
        project_id, _, _ = upload_project(store, settings, write_project(scratch, name, jobs), "alice", name=name)
        ids.append(project_id)
        names.append(name)
    rng = random.Random(22)
    now = store.clock()
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    ]
    started = time.perf_counter()
    with Progress(*columns, console=console) as progress, Loader(store, scratch) as loader:
        task = progress.add_task("executions", total=executions, rate="")
        for rows, runs in history_rows(executions, jobs, ids, names, now, rng):
            loader.load(rows, runs)
            progress.advance(task, len(rows))
            done = progress.tasks[0].completed
            rate = done * (1 + jobs) / (time.perf_counter() - started)
            progress.update(task, rate=f"{rate:,.0f} rows/s")
        progress.update(task, description="indexes")
    loaded = time.perf_counter() - started
    with store.write() as conn:
        chunk = ("line of a job's log, " * 3 + "\n").encode() * 1_000
        logs = []
        for exec_id in range(max(1, executions - LOGGED + 1), executions + 1):
            logs.append(
                {
                    "exec_id": exec_id,
                    "name": f"f{flow_of(exec_id)}",
                    "attempt": 0,
                    "start_byte": 0,
                    "end_byte": len(chunk),
                    "data": chunk,
                }
            )
        logs.extend(
            {
                "exec_id": executions,
                "name": f"f{flow_of(executions)}_j000",
                "attempt": 0,
                "start_byte": i * len(chunk),
                "end_byte": (i + 1) * len(chunk),
                "data": chunk,
            }
            for i in range(200)
        )
        conn.execute(t.logs.insert(), logs)
        if store.dialect == "postgresql":
            conn.execute(sa.text("SELECT setval('executions_id_seq', :n)"), {"n": executions})
    # The statistics a server has after its routine maintenance (autovacuum on PostgreSQL, InnoDB's own
    # sampling on MariaDB): without them the planners guess at a freshly bulk-loaded table.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("executions", "job_runs", "logs"):
            if store.dialect == "postgresql":
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
            elif store.dialect != "sqlite":
                conn.exec_driver_sql(f"ANALYZE TABLE {table}")
        if store.dialect == "sqlite":
            conn.exec_driver_sql("ANALYZE")
    console.print(
        f"generated {executions:,} executions and {executions * jobs:,} job rows "
        f"in {time.perf_counter() - started:,.0f} s (rows and indexes {loaded:,.0f} s)"
    )


def targets(executions: int, jobs: int, session: str) -> list[tuple[str, str]]:
    """(name shown, request target) of every page and AJAX read timed."""
    newest, oldest, middle = executions, 1, executions // 2
    big_log = f"f{flow_of(newest)}_j000"
    month = datetime.fromtimestamp(time.time() - 60 * 86_400, UTC).strftime("%Y-%m-%d")
    ui = [
        "/ui/projects",
        "/ui/projects/p00",
        "/ui/projects/p00?tab=log",
        "/ui/projects/p00/flows/f0",
        "/ui/projects/p00/flows/f0/grid",
        "/ui/executions",
        "/ui/executions?status=FAILED&user=bob",
        "/ui/executions?project=p01&flow=f1",
        "/ui/executions?sort=duration",
        "/ui/executions?sort=project&order=asc",
        "/ui/executions?sort=ended",
        "/ui/executions?sort=user&order=asc&page=200",
        "/ui/executions?page=150",
        "/ui/executions?page=5000",
        # the same page as its "Older" link from page 4,999 reaches it: keyset (``after``: the last id shown
        # there, ids being 1..N newest first); code without keyset pages ignores ``after`` and uses the offset
        f"/ui/executions?page=5000&after={max(1, newest - 249_949)}",
        f"/ui/executions?sort=duration&page=2000&after={middle}",
        f"/ui/executions?sort=user&order=asc&page=200&after={middle}",
        f"/ui/executions?from={month}",
        "/ui/executions?q=p03",
        f"/ui/executions/{newest}",
        f"/ui/executions/{middle}",
        f"/ui/executions/{oldest}",
        "/ui/schedules",
        "/ui/status",
        f"/ui/data/executions/{newest}/runs?since=0",
        f"/ui/data/executions/{middle}/layout",
        f"/ui/data/executions/{middle}/jobs/f{flow_of(middle)}",
        "/ui/data/projects/p00/flows/f0/layout",
        f"/ui/data/executions/{newest}/log?job={big_log}&offset=-1",
    ]
    out = [(path, path) for path in ui]

    def ajax(base: str, **query: str) -> None:
        query["session.id"] = session
        shown = base + "?" + "&".join(f"{k}={v}" for k, v in query.items() if k != "session.id")
        out.append((shown, f"{base}?{urlencode(query)}"))

    ajax("/manager", ajax="fetchFlowExecutions", project="p00", flow="f0", start="0", length="20")
    ajax("/manager", ajax="fetchFlowExecutions", project="p00", flow="f0", start=str(executions // 40), length="20")
    ajax("/manager", ajax="fetchprojectflows", project="p00")
    ajax("/manager", ajax="fetchflowgraph", project="p00", flow="f0")
    ajax("/manager", ajax="fetchLastSuccessfulFlowExecution", project="p00", flow="f0")
    ajax("/manager", ajax="fetchProjectLogs", project="p00")
    ajax("/executor", ajax="fetchexecflow", execid=str(middle))
    ajax("/executor", ajax="fetchexecflowupdate", execid=str(newest), lastUpdateTime="-1")
    ajax("/executor", ajax="fetchExecJobLogs", execid=str(newest), jobId=big_log, offset="0", length="50000")
    ajax("/executor", ajax="fetchExecFlowLogs", execid=str(newest), offset="0", length="50000")
    ajax("/executor", ajax="fetchExecJobStats", execid=str(middle), jobid=f"f{flow_of(middle)}")
    ajax("/executor", ajax="getRunning", project="p00", flow="f0")
    ajax("/history", ajax="fetch")
    ajax("/history", ajax="fetch", search="true", searchterm="bob")
    ajax("/history", ajax="fetch", advfilter="true", projcontain="p02", status="FAILED")
    ajax("/schedule", ajax="fetchSchedules")
    return out


def timed(client: TestClient, target: str, tries: int) -> list[float]:
    times = []
    for _ in range(tries):
        began = time.perf_counter()
        response = client.get(target, follow_redirects=False)
        took = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{target}: HTTP {response.status_code}: {response.text[:200]}")
        header = response.headers.get("server-timing")
        found = re.search(r"dur=([0-9.]+)", header) if header else None
        times.append(float(found.group(1)) if found else took)
    return times


def measure(store: Store, root: Path, executions: int, jobs: int, tries: int, console: Console) -> dict[str, Any]:
    settings = Settings(home=root / "home", db_url=str(store.engine.url))
    accounts = Accounts(store, settings, hasher=CHEAP)
    scheduler = Scheduler(store, settings)
    if store.accounts.user("admin") is None:  # not there yet: a database generated by an earlier run has it
        accounts.add_user("admin", "admin-pw", roles=("admin",))
        scheduler.schedule("p00", "f0", "0 0 2 ? * *", "Europe/Paris", user="admin")
    client = TestClient(create_app(settings, store, accounts, scheduler), base_url="http://testserver")
    answer = client.post(
        "/ui/login", data={"username": "admin", "password": "admin-pw"}, headers={"Origin": "http://testserver"}
    )
    if answer.status_code not in (200, 303):
        raise RuntimeError(f"UI login: HTTP {answer.status_code}")
    session = client.post("/", data={"action": "login", "username": "admin", "password": "admin-pw"}).json()[
        "session.id"
    ]
    out = {}
    for shown, target in targets(executions, jobs, session):
        times = timed(client, target, tries)
        out[shown] = times
        console.print(f"  {statistics.median(times):8.1f} ms  {shown}")
    return out


def report(console: Console, db: str, results: dict[str, list[float]], load: str) -> None:
    table = Table(title=f"{db}: server time (ms), target {TARGET_MS:.0f} ms; load average {load}")
    for heading in ("page / read", "min", "median", "p95", "max", "vs target"):
        table.add_column(heading, justify="left" if heading == "page / read" else "right", overflow="fold")
    for shown, times in results.items():
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        median = statistics.median(times)
        verdict = "ok" if p95 <= TARGET_MS else f"[red]{p95 / TARGET_MS:.1f}x over[/red]"
        table.add_row(shown, f"{ordered[0]:.1f}", f"{median:.1f}", f"{p95:.1f}", f"{ordered[-1]:.1f}", verdict)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=sorted(KINDS), default="sqlite")
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--jobs-per-execution", type=int, default=20)
    parser.add_argument("--tries", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the generated database (its URL is printed)")
    parser.add_argument("--generate-only", action="store_true", help="generate and keep, measure nothing")
    parser.add_argument(
        "--url",
        help="measure a database an earlier --keep run generated (same --executions and --jobs-per-execution) "
        "instead of generating one; it is kept",
    )
    args = parser.parse_args()
    if args.executions < 1 or args.jobs_per_execution < 1:
        parser.error("--executions and --jobs-per-execution must be at least 1")
    console = Console()
    kind = KINDS[args.db]
    root = Path(tempfile.mkdtemp(prefix=f"long-history-{args.db}-"))
    admin = name = None
    keep = args.keep or args.generate_only or args.url
    if args.url:
        url = args.url
    elif kind == "sqlite":
        url = f"sqlite:///{root / 'history.db'}"
    else:
        url, admin, name = create_database(kind)
    results: dict[str, list[float]] = {}
    try:
        started = time.perf_counter()
        store = Store(url)
        console.print(f"store opened (migrations included) in {time.perf_counter() - started:,.1f} s")
        try:
            settings = Settings(home=root / "home", db_url=url)
            if not args.url:
                generate(store, settings, root / "projects", args.executions, args.jobs_per_execution, console)
            if not args.generate_only:
                results = measure(store, root, args.executions, args.jobs_per_execution, args.tries, console)
        finally:
            store.close()
    finally:
        if keep:
            console.print(f"kept: {url}")
        else:
            if admin is not None and name is not None:
                drop_database(admin, name, kind)
            shutil.rmtree(root, ignore_errors=True)
    if args.generate_only:
        return
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    report(console, args.db, results, load)
    out = HERE / "results" / f"long_history-{args.db}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "db": args.db,
                "executions": args.executions,
                "jobs_per_execution": args.jobs_per_execution,
                "load": load,
                "target_ms": TARGET_MS,
                "ms": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
