"""Latency of the server's reads under a constant request rate, 10,000 executions stored, on SQLite, MariaDB
and PostgreSQL: by default ``fetchexecflow`` and ``fetchFlowExecutions``; with ``--endpoints all`` every read
an Azkaban client or the web UI makes (the AJAX API, the UI's pages and data, the JSON API: server_reads.py).

For each back end:

1. **Populate** a fresh database through :class:`sudoless.store.Store`: 4 Flow 2.0 projects of 5
   flows each (uploaded with ``upload_project``; every flow has 10 jobs, the first flow of each project
   runs 3 of them in an embedded flow), then ``--executions`` finished executions spread over the 20
   flows, inserted in bulk (not run): about 10 job-run rows each (some failed and retried, some
   executions FAILED or KILLED with their downstream jobs cancelled), a flow log and a small log per
   job attempt. A ``bench`` user with the ``user`` role gets READ on every project (and, when reads beyond
   the default ones are measured, EXECUTE, which ``getRunning`` needs; every flow then gets a schedule too,
   due only in 2099).
2. **Start** ``sudoless server`` as a subprocess on a free loopback port (SQLite: the database file in a
   temporary ``SUDOLESS_HOME``; MariaDB: a fresh database on 127.0.0.1:3306 as root; PostgreSQL: one on
   127.0.0.1:5432 as postgres; either dropped at the end),
   with its default embedded executor and scheduler, and wait for ``/status``.
3. **Log in** once (``action=login``) and drive each endpoint in turn from a **separate process**: an
   open-loop generator (asyncio with a minimal HTTP/1.1 client of its own, 64 keep-alive connections).
   Request ``i`` is queued at ``t0 + i / rate`` whatever happened to the earlier ones, the first free
   connection sends it, and its latency is measured from that scheduled time to the end of the response
   body, so a server that falls behind shows its queue in the figures (no coordinated omission).
   ``fetchexecflow`` asks for a uniformly random exec id; ``fetchFlowExecutions`` for a random flow, 3
   times in 4 its first page and otherwise a random page, ``length=16`` (the Azkaban web UI's page); the
   other reads draw their executions, flows and jobs likewise (server_reads.py). AJAX reads carry the
   session as ``session.id``, UI requests as the browser's cookie, JSON API requests as a bearer token. A
   2-second warm-up at the same rate is not counted.

An **error** is a transport error, a timeout (5 s), an HTTP status other than 200, or a body that is not
the expected answer (JSON with an ``error`` key, the wrong ``execid``, no ``executions`` list, an HTML page
cut short or not showing what was asked for: each read's check in server_reads.py). The generator also
reports its own lag (how late it sent requests): if that is large, the client, not the server, was the
bottleneck.

    .venv/bin/python benchmarks/server_latency.py [--duration 30] [--rate 200] [--executions 10000]
        [--backends sqlite,mariadb,postgresql] [--endpoints fetchexecflow,fetchFlowExecutions] [--profile]
    .venv/bin/python benchmarks/server_latency.py --backends mariadb --endpoints all --duration 12   # ~9 min

``--endpoints`` takes names (``--help`` lists them) and groups: ``all``, ``ajax``, ``ui``, ``api``.

``--profile`` samples the server with py-spy during each measured run and prints where its CPU goes (only
the thread holding the GIL is sampled, so threads waiting for the database or for the GIL do not count);
``--keep-profiles DIR`` keeps each raw profile.
Results: a rich table on stdout and ``benchmarks/results/server_latency.json``. Target (issue 3): p99
under 20 ms and zero errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server_reads import BY_NAME, GROUPS, PAGE, Population, Read, expand

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "server_latency.json"
SUDOLESS = ROOT / ".venv" / "bin" / "sudoless"
PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
#: endpoints measured by default; --endpoints names others (server_reads.READS) or groups (server_reads.GROUPS)
ENDPOINTS = ("fetchexecflow", "fetchFlowExecutions")
TARGET_P99_MS = 20.0
PROJECTS = 4
FLOWS_PER_PROJECT = 5
WARMUP_S = 2.0
TIMEOUT_S = 5.0
CONNECTIONS = 64
USER, PASSWORD = "bench", "bench-password-0123456789"
MARIADB = "mysql://root@127.0.0.1:3306"
POSTGRESQL = "postgresql://postgres@127.0.0.1:5432"
BACKENDS = ("sqlite", "mariadb", "postgresql")


# -- the database ------------------------------------------------------------------------------------------


def flow_node(lines: list[str], name: str, deps: list[str], indent: str = "  ", kind: str = "command") -> None:
    lines.append(f"{indent}- name: {name}")
    lines.append(f"{indent}  type: {kind}")
    if kind == "command":
        lines.append(f"{indent}  config:")
        lines.append(f"{indent}    command: echo {name}")
    if deps:
        lines.append(f"{indent}  dependsOn: [{', '.join(deps)}]")


def flow_file(flow: int) -> str:
    """A 10-job Flow 2.0 flow; flow 0 runs three of its jobs in an embedded flow."""
    lines = ["config:", "  retries: 1", "nodes:"]
    for source in ("extract_a", "extract_b", "extract_c"):
        flow_node(lines, source, [])
    flow_node(lines, "clean", ["extract_a", "extract_b", "extract_c"])
    if flow == 0:
        flow_node(lines, "enrich", ["clean"], kind="flow")
        lines.append("    nodes:")
        flow_node(lines, "lookup", [], indent="      ")
        flow_node(lines, "join", ["lookup"], indent="      ")
        flow_node(lines, "dedupe", ["join"], indent="      ")
        flow_node(lines, "aggregate", ["enrich"])
    else:
        for step, deps in (
            ("enrich", ["clean"]),
            ("aggregate", ["enrich"]),
            ("score", ["enrich"]),
            ("check", ["aggregate", "score"]),
        ):
            flow_node(lines, step, deps)
    flow_node(lines, "publish", ["check"] if flow else ["aggregate"])
    flow_node(lines, "notify", ["publish"])
    return "\n".join(lines) + "\n"


def write_project(root: Path, index: int) -> Path:
    """A Flow 2.0 project of FLOWS_PER_PROJECT flows."""
    project = root / f"bench{index}"
    project.mkdir(parents=True)
    (project / "bench.project").write_text("azkaban-flow-version: 2.0\n")
    for flow in range(FLOWS_PER_PROJECT):
        (project / f"flow{flow}.flow").write_text(flow_file(flow))
    return project


def populate(url: str, home: Path, executions: int, seed: int, wide: bool = False) -> dict[str, Any]:
    """Projects, the bench user and ``executions`` finished executions with their job runs and logs. With
    ``wide`` (reads beyond the default ones are measured), a schedule on every flow (its only slot in 2099:
    none fires during a run) and EXECUTE for the user besides READ (``getRunning`` asks for it).

    Returns what requests are drawn from (:class:`server_reads.Population`): the flows, their nodes, and per
    execution its flow and how many of its nodes ran."""
    import sqlalchemy as sa

    from sudoless.accounts import Accounts, Permission
    from sudoless.config import Settings
    from sudoless.flows.executions import node_rows
    from sudoless.flows.options import ExecutionOptions
    from sudoless.flows.upload import upload_project
    from sudoless.store import Store
    from sudoless.store import tables as t

    began = time.perf_counter()
    settings = Settings(home=home, db_url=url)
    store = Store(settings.database_url)
    rng = random.Random(seed)
    try:
        accounts = Accounts(store, settings)
        accounts.add_user(USER, PASSWORD, roles=("user",))
        flows: list[tuple[int, str, int, str, list[dict[str, Any]]]] = []
        with tempfile.TemporaryDirectory(prefix="sudoless-bench-projects-") as scratch:
            for index in range(PROJECTS):
                directory = write_project(Path(scratch), index)
                project_id, version, project = upload_project(store, settings, directory, USER)
                granted = Permission.READ | Permission.EXECUTE if wide else Permission.READ
                accounts.set_project_permission(project_id, USER, False, granted)
                for flow_id, flow in sorted(project.flows.items()):
                    if not flow.embedded:
                        flows.append((project_id, project.name, version, flow_id, node_rows(project, flow, ())))
        options = json.dumps(ExecutionOptions(parallel=settings.parallel).to_json())
        start_ms = int(time.time() * 1000) - executions * 60_000
        batch_execs: list[dict[str, Any]] = []
        batch_runs: list[dict[str, Any]] = []
        batch_logs: list[dict[str, Any]] = []
        rows = Counter()
        runs: list[tuple[int, int]] = []

        def flush() -> None:
            with store.write() as conn:
                if batch_execs:
                    conn.execute(t.executions.insert(), batch_execs)
                if batch_runs:
                    conn.execute(t.job_runs.insert(), batch_runs)
                if batch_logs:
                    conn.execute(t.logs.insert(), batch_logs)
            rows.update(executions=len(batch_execs), job_runs=len(batch_runs), logs=len(batch_logs))
            batch_execs.clear()
            batch_runs.clear()
            batch_logs.clear()

        def log(exec_id: int, name: str, attempt: int, text: str) -> None:
            data = text.encode()
            batch_logs.append(
                {
                    "exec_id": exec_id,
                    "name": name,
                    "attempt": attempt,
                    "start_byte": 0,
                    "end_byte": len(data),
                    "data": data,
                }
            )

        for exec_id in range(1, executions + 1):
            flow_index = rng.randrange(len(flows))
            project_id, project_name, version, flow_id, nodes = flows[flow_index]
            submit = start_ms + exec_id * 60_000 + rng.randrange(1000)
            clock = submit + rng.randrange(100, 2000)
            outcome = rng.random()
            failed_node = rng.randrange(len(nodes)) if outcome < 0.1 else -1
            killed = 0.1 <= outcome < 0.13
            status = "FAILED" if failed_node >= 0 else "KILLED" if killed else "SUCCEEDED"
            # the nodes that ran are a prefix: those after a failure are cancelled, a kill stops the second half
            runs.append(
                (flow_index, failed_node + 1 if failed_node >= 0 else len(nodes) // 2 if killed else len(nodes))
            )
            flow_start = clock
            broken = False
            for position, node in enumerate(nodes):
                parents = json.dumps(node["parents"])
                common = {
                    "exec_id": exec_id,
                    "nested_id": node["nested_id"],
                    "type": node["type"],
                    "parents": parents,
                    "condition": node["condition"],
                    "pid": None,
                    "host": "bench-host",
                    "input_props": None,
                    "output_props": None,
                }
                if broken or (killed and position >= len(nodes) // 2):
                    batch_runs.append(
                        {
                            **common,
                            "attempt": 0,
                            "status": "KILLED" if killed else "CANCELLED",
                            "start_time": -1,
                            "end_time": -1,
                            "update_time": clock,
                        }
                    )
                    continue
                attempt = 0
                if rng.random() < 0.05 and node["type"] != "flow":  # a failed first attempt, retried
                    end = clock + rng.randrange(50, 3000)
                    batch_runs.append(
                        {
                            **common,
                            "attempt": 0,
                            "status": "FAILED",
                            "start_time": clock,
                            "end_time": end,
                            "update_time": end,
                            "pid": 10_000 + exec_id,
                        }
                    )
                    log(exec_id, node["nested_id"], 0, job_log(node["nested_id"], 0, "FAILED", rng))
                    clock, attempt = end + 1000, 1
                end = clock + rng.randrange(50, 5000)
                state = "FAILED" if position == failed_node else "SUCCEEDED"
                batch_runs.append(
                    {
                        **common,
                        "attempt": attempt,
                        "status": state,
                        "start_time": clock,
                        "end_time": end,
                        "update_time": end,
                        "pid": 20_000 + exec_id,
                    }
                )
                if node["type"] != "flow":
                    log(exec_id, node["nested_id"], attempt, job_log(node["nested_id"], attempt, state, rng))
                clock = end
                broken = state == "FAILED"
            log(
                exec_id,
                "",
                0,
                f"Submitting execution {exec_id} of {project_name}.{flow_id}\n"
                f"Running on executor 1 (bench-host)\nFlow {flow_id} finished: {status}\n",
            )
            batch_execs.append(
                {
                    "id": exec_id,
                    "project_id": project_id,
                    "project_name": project_name,
                    "version": version,
                    "flow_id": flow_id,
                    "status": status,
                    "submit_user": USER,
                    "submit_time": submit,
                    "start_time": flow_start,
                    "end_time": clock,
                    "update_time": clock,
                    "source": "schedule" if exec_id % 3 else "adhoc",
                    "options": options,
                    "executor_id": 1,
                    "control": "",
                    "priority": 5,
                    "restarted_from": None,
                }
            )
            if len(batch_execs) >= 500:
                flush()
        flush()
        if store.dialect == "postgresql":  # the ids were given: the sequence must follow for later submits
            with store.write() as conn:
                conn.execute(sa.text("SELECT setval('executions_id_seq', :n)"), {"n": executions})
        if wide:
            from sudoless.flows.scheduler import Scheduler

            scheduler = Scheduler(store, settings)
            for _, name, _, flow_id, _ in flows:
                scheduler.schedule(name, flow_id, "0 0 2 1 1 ? 2099", "UTC", user=USER)
            rows.update(schedules=len(flows))
    finally:
        store.close()
    return {
        "seconds": time.perf_counter() - began,
        "rows": dict(rows),
        "flows": [[name, flow_id] for _, name, _, flow_id, _ in flows],
        "nodes": [[[node["nested_id"], node["type"]] for node in nodes] for *_, nodes in flows],
        "runs": runs,
    }


def job_log(name: str, attempt: int, status: str, rng: random.Random) -> str:
    lines = [f"Starting job {name} attempt {attempt}", f"Command: echo {name}"]
    lines += [f"{name}: processed {rng.randrange(1, 10**6)} records" for _ in range(rng.randrange(2, 6))]
    lines.append(f"Finished job {name}: {status}")
    return "\n".join(lines) + "\n"


@contextmanager
def backend_database(backend: str, home: Path) -> Any:
    """The URL of a fresh database for ``backend``; a MariaDB or PostgreSQL database is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{home / 'sudoless.db'}"
        return
    if backend == "postgresql":
        with postgres_database() as url:
            yield url
        return
    import pymysql

    name = f"sudoless_bench_{os.getpid()}"
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
            cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        yield f"{MARIADB}/{name}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.close()


@contextmanager
def postgres_database() -> Any:
    """A fresh database on 127.0.0.1:5432 (user postgres, trust), dropped afterwards."""
    import psycopg

    name = f"sudoless_bench_{os.getpid()}"
    with psycopg.connect(POSTGRESQL + "/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRESQL}/{name}"
    finally:
        with psycopg.connect(POSTGRESQL + "/postgres", autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# -- the server --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def code_env(src: Path | None) -> dict[str, str]:
    """The environment of a child that must run the sudoless code under ``src`` (default: the installed)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    return env


def populate_in_child(
    url: str, home: Path, executions: int, seed: int, src: Path | None, wide: bool = False
) -> dict[str, Any]:
    """:func:`populate` in a child process running the same code as the server will (same migrations)."""
    spec = home.parent / "populate.json"
    spec.write_text(json.dumps({"url": url, "home": str(home), "executions": executions, "seed": seed, "wide": wide}))
    subprocess.run([sys.executable, __file__, "--populate", str(spec)], env=code_env(src), check=True)
    return json.loads(spec.with_suffix(".out.json").read_text())


def populate_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    result = populate(spec["url"], Path(spec["home"]), spec["executions"], spec["seed"], spec.get("wide", False))
    Path(spec_path).with_suffix(".out.json").write_text(json.dumps(result))


@contextmanager
def running_server(home: Path, url: str, src: Path | None, extra: Sequence[str] = ()) -> Any:
    port = free_port()
    env = {**code_env(src), "SUDOLESS_HOME": str(home), "SUDOLESS_DB": url}
    stderr = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    command = [sys.executable, "-c", "from sudoless.cli import main; main()"] if src else [str(SUDOLESS)]
    proc = subprocess.Popen(
        [*command, "server", "--port", str(port), *extra], env=env, stdout=subprocess.DEVNULL, stderr=stderr
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}: {(home / 'server.log').read_text()}")
            try:
                if httpx.get(f"{base}/status", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /status within 60 s")
            time.sleep(0.05)
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()


def login(base: str) -> str:
    import httpx

    response = httpx.post(base, data={"action": "login", "username": USER, "password": PASSWORD}, timeout=30)
    body = response.json()
    if "session.id" not in body:
        raise RuntimeError(f"login failed: {response.status_code} {response.text}")
    return str(body["session.id"])


# -- the load generator (a child process) ------------------------------------------------------------------


def make_requests(read: Read, count: int, population: Population, rng: random.Random) -> list[tuple[str, str]]:
    """(request target, what the answer must hold) for each request, drawn before the clock starts."""
    return [read.draw(population, rng) for _ in range(count)]


class Connection:
    """One keep-alive HTTP/1.1 connection to the server: a minimal client, so that the generator's own CPU
    cost stays small next to the server's (httpx costs several times more per request, and its pool slows
    down sharply when thousands of requests wait for a connection, which is what overload produces)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str, headers: str = "") -> tuple[int, bytes]:
        """``headers``: more header lines, each ending with CRLF."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{headers}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(part[:-2] for part in parts)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def drive(
    base: str, requests: list[tuple[str, str]], read: Read, session: str, rate: float, warmup: int, connections: int
) -> dict[str, Any]:
    """Send ``requests`` (target, expected) on an open-loop schedule over ``connections`` connections.

    Request ``i`` enters a queue at its scheduled time; the first free connection sends it. Latency runs
    from the scheduled time to the end of the body, so waiting for a connection counts. A request still
    queued ``TIMEOUT_S`` after its scheduled time is a timeout, and so is one whose answer takes longer.
    """
    host, port = base.removeprefix("http://").rsplit(":", 1)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, float, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    lags: list[float] = []
    started: list[float] = []  # each measured request's scheduled time, on time.monotonic()'s clock
    errors: Counter[str] = Counter()
    finished: list[float] = []
    headers = read.headers(session)
    sent = 0  # requests that reached the server, warm-up included

    def record(index: int, scheduled: float, queued: float, problem: str | None) -> None:
        if index < warmup:
            return
        done = loop.time()
        latencies.append(done - scheduled)
        lags.append(queued - scheduled)
        started.append(scheduled)
        finished.append(done)
        if problem:
            errors[problem] += 1

    async def worker() -> None:
        nonlocal sent
        connection = Connection(host, int(port))
        while True:
            item = await queue.get()
            if item is None:
                connection.close()
                return
            index, scheduled, queued = item
            target, expected = requests[index]
            if loop.time() - scheduled > TIMEOUT_S:
                record(index, scheduled, queued, "timeout (queued)")
                continue
            sent += 1
            try:
                status, body = await asyncio.wait_for(connection.get(target, headers), TIMEOUT_S)
                problem = read.check(expected, status, body.decode("utf-8", "replace"))
            except TimeoutError:
                problem = "timeout"
                connection.close()
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                problem = type(exc).__name__
                connection.close()
            record(index, scheduled, queued, problem)

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    t0 = loop.time() + 0.05
    measured_from = t0 + warmup / rate
    for index in range(len(requests)):
        scheduled = t0 + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((index, scheduled, loop.time()))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    window = max(finished) - measured_from if finished else float("nan")
    return {
        "latencies_s": latencies,
        "lags_s": lags,
        "scheduled_s": started,
        "errors": dict(errors),
        "requests": len(requests) - warmup,
        "window_s": window,
        "sent": sent,
    }


def generator_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    rng = random.Random(spec["seed"])
    warmup = int(WARMUP_S * spec["rate"])
    count = warmup + int(spec["duration"] * spec["rate"])
    read = BY_NAME[spec["endpoint"]]
    population = Population.from_json(spec["filled"], spec["executions"], spec["session"])
    requests = make_requests(read, count, population, rng)
    result = asyncio.run(drive(spec["base"], requests, read, spec["session"], spec["rate"], warmup, CONNECTIONS))
    Path(spec["output"]).write_text(json.dumps(result))


def run_load(
    base: str,
    endpoint: str,
    args: argparse.Namespace,
    filled: dict[str, Any],
    session: str,
    scratch: Path,
    seed: int,
    profile: Path | None,
    server_pid: int,
    timeline: Path | None = None,
) -> dict[str, Any]:
    spec = {
        "base": base,
        "endpoint": endpoint,
        "rate": args.rate,
        "duration": args.duration,
        "executions": args.executions,
        "filled": {key: filled[key] for key in ("flows", "nodes", "runs")},
        "session": session,
        "seed": seed,
        "output": str(scratch / f"{endpoint}.out.json"),
    }
    spec_path = scratch / f"{endpoint}.spec.json"
    spec_path.write_text(json.dumps(spec))
    spy = None
    if profile is not None:
        spy = subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                "--pid",
                str(server_pid),
                "--format",
                "raw",
                "--rate",
                "250",
                "--duration",
                str(int(args.duration + WARMUP_S)),
                "--output",
                str(profile),
                "--nonblocking",
                "--gil",  # only the thread holding the GIL: where the process's CPU goes, not who waits
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    load_before = os.getloadavg()[0]
    cpu_before, began = process_cpu(server_pid), time.perf_counter()
    subprocess.run([sys.executable, __file__, "--generate", str(spec_path)], check=True)
    cpu, wall = process_cpu(server_pid) - cpu_before, time.perf_counter() - began
    if spy is not None:
        spy.wait(timeout=120)
    raw = json.loads(Path(spec["output"]).read_text())
    if timeline is not None:
        write_timeline(timeline, raw)
    return {
        **summarise(raw, args.rate, load_before),
        "server_cpu_ms_per_request": cpu * 1000 / max(raw["sent"], 1),
        "server_cpu_share": cpu / wall,
    }


def write_timeline(path: Path, raw: dict[str, Any]) -> None:
    """One line per measured request, in the order they were due: due time (s), latency (ms)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(zip(raw["scheduled_s"], raw["latencies_s"], strict=True))
    path.write_text("due_s,latency_ms\n" + "".join(f"{due:.4f},{latency * 1000:.2f}\n" for due, latency in rows))


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process and its live child processes (``--workers``) have used so far."""
    children = [
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]
    total = 0
    for one in (pid, *children):
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summarise(raw: dict[str, Any], rate: float, load_before: float) -> dict[str, Any]:
    ms = [x * 1000 for x in raw["latencies_s"]]
    lags = [x * 1000 for x in raw["lags_s"]]
    errors = sum(raw["errors"].values())
    p99 = percentile(ms, 99)
    answered = len(ms) - errors
    return {
        "rate_target": rate,
        "requests": raw["requests"],
        "completed": len(ms),
        "answered_ok": answered,
        "rate_achieved": answered / raw["window_s"] if raw["window_s"] > 0 else float("nan"),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": p99,
        "max_ms": max(ms, default=0),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
        "errors": errors,
        "error_kinds": raw["errors"],
        "generator_lag_p99_ms": percentile(lags, 99),
        "generator_lag_max_ms": max(lags, default=0),
        "target_met": bool(p99 < TARGET_P99_MS and errors == 0),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
    }


# -- profiles ----------------------------------------------------------------------------------------------


def profile_summary(path: Path, top: int = 25) -> list[tuple[str, float, float]]:
    """(frame, inclusive share, self share) of the busiest frames in a py-spy raw (collapsed) profile.

    Only samples of threads doing work count: idle frames (selectors, thread-pool waits) are dropped.
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    idle = (
        "select (selectors.py",
        "wait (threading.py",
        "_worker (concurrent",
        "get (queue.py",
        "_wait_for_tstate_lock",
        "run_forever",
        "_run_once (asyncio",
        "worker_thread (anyio",
    )
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(marker in frames[-1] for marker in idle):
            continue
        samples = int(count)
        total += samples
        for frame in dict.fromkeys(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    if not total:
        return []
    return [(frame, inclusive[frame] / total, own[frame] / total) for frame, _ in inclusive.most_common(top)]


# -- the run -----------------------------------------------------------------------------------------------


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out + ("+dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per endpoint")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--executions", type=int, default=10_000, help="finished executions stored")
    parser.add_argument("--backends", default="sqlite,mariadb", help="comma list of " + ", ".join(BACKENDS))
    parser.add_argument(
        "--endpoints",
        default=",".join(ENDPOINTS),
        help="comma list of endpoints and groups: " + ", ".join([*GROUPS, *BY_NAME]),
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--server-args", default="", metavar="ARGS", help="more arguments for 'sudoless server', e.g. '--workers 2'"
    )
    parser.add_argument("--label", default="", help="name of this run in the JSON file (default: the commit)")
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy during each run")
    parser.add_argument(
        "--keep-profiles",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --profile, also keep each run's raw py-spy profile in DIR (BACKEND-ENDPOINT.txt)",
    )
    parser.add_argument(
        "--timeline",
        type=Path,
        default=None,
        metavar="DIR",
        help="write each run's requests to DIR/BACKEND-ENDPOINT.csv: when each was due (time.monotonic() "
        "seconds, the clock of /proc samplers too) and its latency, to see when a tail happened",
    )
    parser.add_argument(
        "--sudoless-src",
        type=Path,
        default=None,
        metavar="DIR",
        help="run the server on the sudoless package under DIR (a snapshot: git archive ... src)",
    )
    parser.add_argument("--generate", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--populate", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generator_main(args.generate)
        return
    if args.populate:
        populate_main(args.populate)
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 160))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for name in backends:
        if name not in BACKENDS:
            parser.error(f"unknown backend {name!r}")
    try:
        endpoints = expand([e.strip() for e in args.endpoints.split(",") if e.strip()])
    except KeyError as exc:
        parser.error(f"unknown endpoint {exc.args[0]!r}; known: {', '.join([*GROUPS, *BY_NAME])}")
    wide = any(name not in (*ENDPOINTS, "fetchflowgraph") for name in endpoints)

    rows: list[dict[str, Any]] = []
    profiles: dict[str, list[tuple[str, float, float]]] = {}
    for backend in backends:
        scratch = Path(tempfile.mkdtemp(prefix=f"sudoless-latency-{backend}-"))
        try:
            home = scratch / "home"
            home.mkdir(mode=0o700)
            with backend_database(backend, home) as url:
                console.print(f"[bold]{backend}[/]: populating {args.executions:,} executions ...")
                filled = populate_in_child(url, home, args.executions, args.seed, args.sudoless_src, wide)
                console.print(f"  {filled['rows']} in {filled['seconds']:.1f} s")
                with running_server(home, url, args.sudoless_src, args.server_args.split()) as (base, pid):
                    session = login(base)
                    for offset, endpoint in enumerate(endpoints):
                        profile = scratch / f"{endpoint}.pyspy.txt" if args.profile else None
                        console.print(f"  {endpoint}: {args.rate:g} req/s for {args.duration:g} s ...")
                        timeline = (
                            args.timeline / f"{backend}-{endpoint.replace(':', '-')}.csv" if args.timeline else None
                        )
                        result = run_load(
                            base, endpoint, args, filled, session, scratch, args.seed + offset, profile, pid, timeline
                        )
                        rows.append(
                            {"backend": backend, "endpoint": endpoint, **result, "populate_s": filled["seconds"]}
                        )
                        if profile is not None and profile.exists():
                            profiles[f"{backend} {endpoint}"] = profile_summary(profile)
                            if args.keep_profiles is not None:
                                args.keep_profiles.mkdir(parents=True, exist_ok=True)
                                kept = args.keep_profiles / f"{backend}-{endpoint.replace(':', '-')}.txt"
                                shutil.copyfile(profile, kept)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    table = Table(
        title=f"Server read latency, {args.executions:,} executions stored, open loop "
        f"{args.rate:g} req/s for {args.duration:g} s (target p99 < {TARGET_P99_MS:g} ms, "
        "0 errors)"
    )
    for column in (
        "backend",
        "endpoint",
        "rate achieved",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "target met",
        "server CPU ms/req",
        "server CPU share",
        "load avg",
    ):
        if column in ("backend", "endpoint"):
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            row["backend"],
            row["endpoint"],
            f"{row['rate_achieved']:.1f}/s",
            f"{row['p50_ms']:.1f}",
            f"{row['p90_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            f"{row['max_ms']:.1f}",
            str(row["errors"]),
            "[green]yes[/]" if row["target_met"] else "[red]no[/]",
            f"{row['server_cpu_ms_per_request']:.2f}",
            f"{row['server_cpu_share']:.2f}",
            f"{row['load_average_before']:.1f}",
        )
    console.print(table)
    console.print(
        f"{os.cpu_count()} CPUs. rate achieved: correct answers per second. server CPU: what the server "
        "process used (user + system) per request it received, and its share of one CPU over the run (a "
        "Python server uses at most about one). load avg: the 1-minute load average before the run."
    )
    for row in rows:
        if row["error_kinds"]:
            console.print(f"{row['backend']} {row['endpoint']} errors: {row['error_kinds']}")
    console.print(
        "generator lag p99 (how late the client sent): "
        + ", ".join(f"{r['backend']} {r['endpoint']} {r['generator_lag_p99_ms']:.1f} ms" for r in rows)
    )
    for name, frames in profiles.items():
        ptable = Table(title=f"server profile, {name} (share of busy samples)")
        ptable.add_column("frame")
        ptable.add_column("inclusive", justify="right")
        ptable.add_column("self", justify="right")
        for frame, inclusive, own in frames:
            ptable.add_row(frame, f"{inclusive:.0%}", f"{own:.0%}")
        console.print(ptable)

    RESULTS.parent.mkdir(exist_ok=True)
    label = args.label or git_commit()
    previous: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous[label] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "duration_s": args.duration,
        "rate": args.rate,
        "executions": args.executions,
        "page_length": PAGE,
        "warmup_s": WARMUP_S,
        "timeout_s": TIMEOUT_S,
        "target_p99_ms": TARGET_P99_MS,
        "rows": rows,
        "profiles": {
            name: [{"frame": f, "inclusive": i, "self": s} for f, i, s in frames] for name, frames in profiles.items()
        },
    }
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    console.print(f"written {RESULTS.relative_to(ROOT)} (label {label!r})")


if __name__ == "__main__":
    main()
