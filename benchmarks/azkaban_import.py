"""Time `sudoless azkaban import` on a generated Azkaban database: projects x versions, schedules, executions.

Builds an Azkaban database on the MariaDB service (its own name, dropped at the end) with the tables of
tests/fixtures/azkaban_db/tables.sql, rows encoded as Azkaban encodes them (zips in chunks with their MD5,
gzip trigger JSON, gzip flow data, gzip log chunks), then runs the real command into a fresh SQLite
database and reports the wall time and the import process's peak memory (max RSS). Writes
``benchmarks/results/azkaban_import.json``.

    .venv/bin/python benchmarks/azkaban_import.py [--projects 200] [--versions 5] [--schedules 20]
        [--executions 100000]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
TABLES = HERE.parent / "tests" / "fixtures" / "azkaban_db" / "tables.sql"
RESULTS = HERE / "results" / "azkaban_import.json"
ADMIN = os.environ.get("SUDOLESS_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/")
T0 = 1_700_000_000_000
JOBS = ("extract", "transform", "load")


def project_zip(project: int, version: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        previous = None
        for job in JOBS:
            deps = f"dependencies={previous}\n" if previous else ""
            archive.writestr(f"{job}.job", f"type=command\ncommand=echo {job} {project} {version}\n{deps}")
            previous = job
    return buffer.getvalue()


def trigger(project: int, name: str) -> bytes:
    checker = {
        "type": "BasicTimeChecker",
        "id": "BasicTimeChecker_1",
        "timezone": "UTC",
        "isRecurring": "true",
        "skipPastChecks": "true",
        "period": "null",
        "firstCheckTime": str(T0),
        "cronExpression": "0 0 2 ? * *",
    }
    data = {
        "source": "SimpleTimeTrigger",
        "status": "READY",
        "submitUser": "bench",
        "triggerCondition": {
            "expression": "BasicTimeChecker_1.eval()",
            "checkers": [{"type": "BasicTimeChecker", "checkerJson": checker}],
        },
        "actions": [
            {
                "type": "ExecuteFlowAction",
                "actionJson": {
                    "projectId": str(project),
                    "projectName": name,
                    "flowName": "load",
                    "submitUser": "bench",
                    "executionOptions": {"concurrentOption": "skip"},
                },
            }
        ],
    }
    return gzip.compress(json.dumps(data).encode())


def build(conn: sa.Connection, args: argparse.Namespace) -> None:
    for statement in TABLES.read_text().split(";"):
        body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        if body:
            conn.exec_driver_sql(body)
    for p in range(1, args.projects + 1):
        conn.execute(
            sa.text(
                "INSERT INTO projects (id, name, active, modified_time, create_time, version, "
                "last_modified_by, description, enc_type) VALUES (:i, :n, 1, :t, :t, :v, 'bench', "
                "'generated', 2)"
            ),
            {"i": p, "n": f"project{p}", "t": T0, "v": args.versions},
        )
        versions, files = [], []
        for v in range(1, args.versions + 1):
            data = project_zip(p, v)
            versions.append({"p": p, "v": v, "t": T0 + v, "m": hashlib.md5(data).digest()})
            files.append({"p": p, "v": v, "f": data, "s": len(data)})
        conn.execute(
            sa.text("INSERT INTO project_versions VALUES (:p, :v, :t, 'bench', 'zip', 'p.zip', :m, 1)"), versions
        )
        conn.execute(sa.text("INSERT INTO project_files VALUES (:p, :v, 0, :s, :f)"), files)
        conn.execute(
            sa.text("INSERT INTO project_permissions VALUES (:p, :t, 'bench', 134217728, 0)"), {"p": str(p), "t": T0}
        )
        conn.execute(sa.text("INSERT INTO project_events VALUES (:p, 1, :t, 'bench', 'created')"), {"p": p, "t": T0})
    if args.schedules:
        conn.execute(
            sa.text(
                "INSERT INTO triggers (trigger_source, modify_time, enc_type, data) "
                "VALUES ('SimpleTimeTrigger', :t, 2, :d)"
            ),
            [{"t": T0, "d": trigger(p, f"project{p}")} for p in range(1, args.schedules + 1)],
        )
    line = b"INFO - a line of job output, as Azkaban's job logs have them\n"
    batch = 2000
    for start in range(0, args.executions, batch):
        flows, logs = [], []
        for e in range(start + 1, min(start + batch, args.executions) + 1):
            p = (e % args.projects) + 1
            when = T0 + e * 1000
            nodes = [
                {
                    "id": job,
                    "type": "command",
                    "status": "SUCCEEDED",
                    "attempt": 0,
                    "inNodes": [JOBS[i - 1]] if i else [],
                    "startTime": when + i,
                    "endTime": when + i + 1,
                    "updateTime": when + i + 1,
                }
                for i, job in enumerate(JOBS)
            ]
            data = {"flowId": "load", "status": "SUCCEEDED", "executionOptions": {}, "nodes": nodes}
            flows.append({"e": e, "p": p, "t": when, "d": gzip.compress(json.dumps(data).encode())})
            for name in ("", *JOBS):
                text = line * (args.log_lines if name else 2)
                logs.append({"e": e, "n": name, "b": len(text), "l": gzip.compress(text), "t": when})
        conn.execute(
            sa.text(
                "INSERT INTO execution_flows (exec_id, project_id, version, flow_id, status, submit_user, "
                "submit_time, update_time, start_time, end_time, enc_type, flow_data) "
                "VALUES (:e, :p, 1, 'load', 50, 'bench', :t, :t, :t, :t, 2, :d)"
            ),
            flows,
        )
        conn.execute(sa.text("INSERT INTO execution_logs VALUES (:e, :n, 0, 2, 0, :b, :l, :t)"), logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--schedules", type=int, default=20)
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--log-lines", type=int, default=20, help="lines in each job log")
    args = parser.parse_args()
    name = f"azkaban_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.engine.make_url(ADMIN).set(database=name)
    try:
        started = time.perf_counter()
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            build(conn, args)
        engine.dispose()
        built = time.perf_counter() - started
        with tempfile.TemporaryDirectory(prefix="sudoless-bench-") as home:
            env = {**os.environ, "SUDOLESS_HOME": home}
            env.pop("SUDOLESS_DB", None)
            source = url.set(drivername="mysql").render_as_string(hide_password=False)
            command = [
                str(Path(sys.executable).with_name("sudoless")),
                "azkaban",
                "import",
                "--from",
                source,
                "--db",
                f"sqlite:///{home}/sudoless.db",
                "--json",
            ]
            started = time.perf_counter()
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - started
            if result.returncode != 0:
                raise SystemExit(f"import failed ({result.returncode}): {result.stderr.strip()}")
            report: dict[str, Any] = json.loads(result.stdout)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()
    max_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures = {
        "projects": args.projects,
        "versions_per_project": args.versions,
        "schedules": args.schedules,
        "executions": args.executions,
        "build_seconds": round(built, 1),
        "import_seconds": round(seconds, 1),
        "executions_per_second": round(args.executions / seconds),
        "import_max_rss_mb": round(max_rss_mb),
        "imported": report["imported"],
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(f"{'what':<28}{'value':>14}")
    for key in (
        "projects",
        "versions_per_project",
        "schedules",
        "executions",
        "build_seconds",
        "import_seconds",
        "executions_per_second",
        "import_max_rss_mb",
    ):
        print(f"{key:<28}{figures[key]:>14}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
