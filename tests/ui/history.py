"""A store with a long history, for the page-time tests: projects, 10,000 executions with their job rows,
and one large job log, written with bulk inserts (running 10,000 flows would take minutes).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from sudoless.config import Settings
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store import tables as t

JOBS = ("extract", "transform", "load")
STATUSES = ("SUCCEEDED",) * 17 + ("FAILED", "FAILED", "KILLED")
USERS = ("alice", "bob", "carol", "dave")
DAY_MS = 86_400_000


@dataclass(frozen=True)
class History:
    projects: list[str]
    flow: str
    executions: int
    big_log_exec: int
    big_log_bytes: int


def write_project(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "extract.job").write_text("type=command\ncommand=echo extract\n")
    (folder / "transform.job").write_text("type=command\ncommand=echo transform\ndependencies=extract\n")
    (folder / "load.job").write_text("type=noop\ndependencies=transform\n")
    return folder


def seed(
    store: Store,
    settings: Settings,
    scratch: Path,
    executions: int = 10_000,
    projects: int = 20,
    log_chunks: int = 2_000,
    seed_value: int = 7,
) -> History:
    """Projects ``p00``..; ``executions`` runs of their flow ``load`` spread over 60 days; the newest run
    gets a log of ``log_chunks`` chunks of 64 KB (128 MB by default)."""
    rng = random.Random(seed_value)
    names = [f"p{i:02d}" for i in range(projects)]
    ids = {}
    for name in names:
        project_id, _, _ = upload_project(
            store,
            settings,
            write_project(scratch, name),
            "alice",
            name=name,
            description=f"Project {name} of the history test",
        )
        ids[name] = project_id
    now = store.clock()
    start = now - 60 * DAY_MS
    step = (60 * DAY_MS) // executions
    rows, runs = [], []
    for index in range(executions):
        name = names[index % projects]
        submitted = start + index * step
        status = rng.choice(STATUSES)
        duration = rng.randint(5_000, 900_000)
        rows.append(
            {
                "id": index + 1,
                "project_id": ids[name],
                "project_name": name,
                "version": 1,
                "flow_id": "load",
                "status": status,
                "submit_user": rng.choice(USERS),
                "submit_time": submitted,
                "start_time": submitted + 500,
                "end_time": submitted + 500 + duration,
                "update_time": submitted + 500 + duration,
                "source": "adhoc",
                "options": "{}",
                "executor_id": 1,
                "control": "",
                "priority": 5,
                "restarted_from": None,
            }
        )
        offset = submitted + 500
        for position, job in enumerate(JOBS):
            length = duration // 3
            job_status = status if position == 2 or status == "SUCCEEDED" else "SUCCEEDED"
            runs.append(
                {
                    "exec_id": index + 1,
                    "nested_id": job,
                    "attempt": 0,
                    "type": "command",
                    "status": job_status,
                    "start_time": offset,
                    "end_time": offset + length,
                    "update_time": offset + length,
                    "parents": json.dumps(list(JOBS[:position][-1:])),
                    "condition": None,
                    "pid": None,
                    "host": "seed",
                    "input_props": None,
                    "output_props": None,
                }
            )
            offset += length
    with store.write() as conn:
        conn.execute(t.executions.insert(), rows)
        conn.execute(t.job_runs.insert(), runs)
        chunk = (b"x" * 99 + b"\n") * 655 + b"0123456789" * 3 + b"\n" * 6  # 65,536 bytes
        assert len(chunk) == 65_536
        for first in range(0, log_chunks, 500):
            conn.execute(
                t.logs.insert(),
                [
                    {
                        "exec_id": executions,
                        "name": "load",
                        "attempt": 0,
                        "start_byte": i * len(chunk),
                        "end_byte": (i + 1) * len(chunk),
                        "data": chunk,
                    }
                    for i in range(first, min(first + 500, log_chunks))
                ],
            )
        if store.dialect == "postgresql":
            conn.execute(sa.text("SELECT setval('executions_id_seq', :n)"), {"n": executions})
    return History(names, "load", executions, executions, log_chunks * 65_536)


def add_runs(
    store: Store, project_id: int, project_name: str, flow: str, jobs: list[str], count: int, seed_value: int = 3
) -> list[int]:
    """``count`` finished runs of ``flow`` over the last days, their jobs in sequence (for the charts)."""
    rng = random.Random(seed_value)
    now = store.clock()
    ids = []
    for index in range(count):
        submitted = now - (count - index) * 3_600_000
        status = rng.choice(STATUSES)
        duration = int(rng.gauss(120_000, 25_000)) + (200_000 if status != "SUCCEEDED" else 0)
        with store.write() as conn:
            result = conn.execute(
                t.executions.insert().values(
                    project_id=project_id,
                    project_name=project_name,
                    version=1,
                    flow_id=flow,
                    status=status,
                    submit_user=rng.choice(USERS),
                    submit_time=submitted,
                    start_time=submitted + 400,
                    end_time=submitted + 400 + duration,
                    update_time=submitted + 400 + duration,
                    source="schedule",
                    options="{}",
                    executor_id=None,
                    control="",
                    priority=5,
                    restarted_from=None,
                )
            )
            exec_id = int(result.inserted_primary_key[0])
            step = duration // len(jobs)
            conn.execute(
                t.job_runs.insert(),
                [
                    {
                        "exec_id": exec_id,
                        "nested_id": job,
                        "attempt": 0,
                        "type": "command",
                        "status": status if position == len(jobs) - 1 else "SUCCEEDED",
                        "start_time": submitted + 400 + position * step,
                        "end_time": submitted + 400 + (position + 1) * step,
                        "update_time": submitted + 400 + duration,
                        "parents": "[]",
                        "condition": None,
                        "pid": None,
                        "host": "seed",
                        "input_props": None,
                        "output_props": None,
                    }
                    for position, job in enumerate(jobs)
                ],
            )
        ids.append(exec_id)
    return ids


#: The grid's flow in :func:`seed_grid`: :func:`ui.projects.wide`'s 61 jobs (6 layers of 10, then ``done``).
GRID_PROJECT, GRID_FLOW = "wide", "done"


def seed_grid(store: Store, settings: Settings, scratch: Path, runs: int = 100, seed_value: int = 11) -> list[int]:
    """Project ``wide`` with a 61-job flow ``done`` and ``runs`` finished runs of it, bulk-written: most
    succeed; about one in five fails at a job in the middle, its descendants CANCELLED, and one in ten
    retried a job (attempt 1). The execution ids follow the largest already stored."""
    from ui.projects import wide

    rng = random.Random(seed_value)
    folder = scratch / GRID_PROJECT
    folder.mkdir(parents=True)
    files = wide(6, 10)
    for name, text in files.items():
        (folder / name).write_text(text)
    project_id, _, _ = upload_project(store, settings, folder, "alice", name=GRID_PROJECT, description="61 jobs")
    jobs = [name[: -len(".job")] for name in files]
    parents = {
        job: text.split("dependencies=", 1)[1].strip().split(",") if "dependencies=" in text else []
        for job, text in ((n[:-4], t) for n, t in files.items())
    }
    with store.read() as conn:
        first = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.executions.c.id), 0))).scalar_one()) + 1
    now = store.clock()
    rows, job_rows = [], []
    for index in range(runs):
        exec_id = first + index
        submitted = now - (runs - index) * 3_600_000
        failed = f"L03_{rng.randrange(10):02d}" if rng.random() < 0.2 else None
        doomed: set[str] = set()
        if failed:  # every descendant of the failed job is cancelled
            for job in jobs:
                if any(p == failed or p in doomed for p in parents[job]):
                    doomed.add(job)
        retried = rng.choice(jobs) if rng.random() < 0.1 else None
        end = submitted + 400 + 60_000
        rows.append(
            {
                "id": exec_id,
                "project_id": project_id,
                "project_name": GRID_PROJECT,
                "version": 1,
                "flow_id": GRID_FLOW,
                "status": "FAILED" if failed else "SUCCEEDED",
                "submit_user": rng.choice(USERS),
                "submit_time": submitted,
                "start_time": submitted + 400,
                "end_time": end,
                "update_time": end,
                "source": "schedule",
                "options": "{}",
                "executor_id": 1,
                "control": "",
                "priority": 5,
                "restarted_from": None,
            }
        )
        for position, job in enumerate(jobs):
            state = "FAILED" if job == failed else "CANCELLED" if job in doomed else "SUCCEEDED"
            began = -1 if state == "CANCELLED" else submitted + 400 + position * 900
            for attempt in (0, 1) if job == retried and state == "SUCCEEDED" else (0,):
                job_rows.append(
                    {
                        "exec_id": exec_id,
                        "nested_id": job,
                        "attempt": attempt,
                        "type": "noop",
                        "status": "FAILED" if attempt == 0 and job == retried else state,
                        "start_time": began,
                        "end_time": -1 if began < 0 else began + 800,
                        "update_time": end,
                        "parents": json.dumps(parents[job]),
                        "condition": None,
                        "pid": None,
                        "host": "seed",
                        "input_props": None,
                        "output_props": None,
                    }
                )
    with store.write() as conn:
        conn.execute(t.executions.insert(), rows)
        conn.execute(t.job_runs.insert(), job_rows)
        if store.dialect == "postgresql":
            conn.execute(sa.text("SELECT setval('executions_id_seq', :n)"), {"n": first + runs - 1})
    return [row["id"] for row in rows]
