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
