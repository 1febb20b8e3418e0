"""How fast a queue of many executions drains: 200 runs of a 20-job flow submitted at once, run by 2
executor processes sharing MariaDB or PostgreSQL (issue 22).

For each back end: a fresh database, the flow of tests/flows/queue_load.py (20 ``command`` jobs, each one
``sh -c "echo ... >> file"``, in layers of 6 between a start and a finish job), ``--executions`` submissions
through ``submit_flow`` (timed: the submit rate), then ``--executors`` processes (``Executor.serve`` until
the queue is empty, as tests/flows/test_many_executions.py starts them) drain the queue. Reported: the
drain time from the executors' spawn to the last execution's end, executions/s and jobs/s over it, the
queue wait (start - submit) and run time (end - start) percentiles from the store, and a check that every
job of every execution ran exactly once (the file the jobs append to) and every execution SUCCEEDED.

    .venv/bin/python benchmarks/queue_drain.py                        # MariaDB and PostgreSQL, 200 x 20, 2 executors
    .venv/bin/python benchmarks/queue_drain.py --backends sqlite --executions 50

Results: a table on stdout and ``benchmarks/results/queue_drain.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from flows.harness import spawn_executor  # noqa: E402
from flows.queue_load import job_names, starts_per_job, submit_many, write_queue_project  # noqa: E402
from support.services import create_database, drop_database  # noqa: E402

RESULTS = HERE / "results" / "queue_drain.json"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))] if ordered else float("nan")


def drain(kind: str, executions: int, jobs: int, executors: int, max_flows: int, parallel: int) -> dict[str, Any]:
    from sudoless.config import Settings
    from sudoless.store import Store
    from sudoless.store.status import Status

    with tempfile.TemporaryDirectory(prefix=f"queue-drain-{kind}-") as scratch:
        root = Path(scratch)
        admin = name = None
        if kind == "sqlite":
            url = f"sqlite:///{root / 'sudoless.db'}"
        else:
            url, admin, name = create_database(kind)
        try:
            store = Store(url)
            settings = Settings(home=root / "home", max_runs_per_flow=executions, parallel=parallel)
            starts = root / "p" / "starts.txt"
            project = write_queue_project(root / "p", starts, jobs)
            began = time.perf_counter()
            ids = submit_many(store, settings, project, "queue", executions)
            submit_s = time.perf_counter() - began
            load_before = os.getloadavg()[0]
            began = time.perf_counter()
            children = [spawn_executor(url, settings.home, max_flows) for _ in range(executors)]
            for child in children:
                child.wait(timeout=3600)
            drain_s = time.perf_counter() - began
            load_after = os.getloadavg()[0]
            if any(child.returncode for child in children):
                raise RuntimeError(
                    "an executor failed: "
                    + " | ".join(child.stdout.read().decode()[-2000:] for child in children if child.stdout)
                )
            records = [store.executions.get(exec_id) for exec_id in ids]
            started = starts_per_job(starts)
            expected = {(exec_id, job) for exec_id in ids for job in job_names(jobs)}
            once = set(started) == expected and all(times == 1 for times in started.values())
            succeeded = all(record.status == Status.SUCCEEDED for record in records)
            # the drain ends when the last execution ends, not when the executors have noticed
            first_start = min(record.start_time for record in records)
            last_end = max(record.end_time for record in records)
            waits = [(record.start_time - record.submit_time) / 1000 for record in records]
            runs = [(record.end_time - record.start_time) / 1000 for record in records]
            per_executor: dict[str, int] = {}
            for record in records:
                per_executor[str(record.executor_id)] = per_executor.get(str(record.executor_id), 0) + 1
            store.close()
        finally:
            if admin is not None and name is not None:
                drop_database(admin, name, kind)
    busy_s = (last_end - first_start) / 1000
    return {
        "backend": kind,
        "executions": executions,
        "jobs_per_execution": jobs,
        "executors": executors,
        "max_flows": max_flows,
        "parallel": parallel,
        "submit_s": submit_s,
        "submits_per_s": executions / submit_s,
        "drain_s": drain_s,
        "first_start_to_last_end_s": busy_s,
        "executions_per_s": executions / busy_s,
        "jobs_per_s": executions * jobs / busy_s,
        "wait_p50_s": percentile(waits, 50),
        "wait_max_s": max(waits),
        "run_p50_s": percentile(runs, 50),
        "run_p99_s": percentile(runs, 99),
        "per_executor": per_executor,
        "every_job_once": once,
        "every_execution_succeeded": succeeded,
        "load_average_before": load_before,
        "load_average_after": load_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="mariadb,postgresql", help="comma list of sqlite, mariadb, postgresql")
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=20, help="jobs per execution (at least 3)")
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument("--max-flows", type=int, default=8, help="executions one executor runs at once")
    parser.add_argument("--parallel", type=int, default=10, help="jobs one execution runs at once")
    parser.add_argument("--label", default="", help="name of this run in the JSON file")
    args = parser.parse_args()

    rows = []
    for kind in [b.strip() for b in args.backends.split(",") if b.strip()]:
        print(f"{kind}: {args.executions} executions of {args.jobs} jobs, {args.executors} executors ...", flush=True)
        rows.append(drain(kind, args.executions, args.jobs, args.executors, args.max_flows, args.parallel))
    header = (
        f"{'backend':<11}{'submit/s':>9}{'drain s':>9}{'exec/s':>8}{'jobs/s':>8}{'wait p50 s':>11}"
        f"{'wait max s':>11}{'run p50 s':>10}{'run p99 s':>10}{'once':>6}{'ok':>4}{'load':>11}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['backend']:<11}{r['submits_per_s']:>9.1f}{r['drain_s']:>9.1f}{r['executions_per_s']:>8.2f}"
            f"{r['jobs_per_s']:>8.1f}{r['wait_p50_s']:>11.1f}{r['wait_max_s']:>11.1f}{r['run_p50_s']:>10.2f}"
            f"{r['run_p99_s']:>10.2f}{'yes' if r['every_job_once'] else 'NO':>6}"
            f"{'yes' if r['every_execution_succeeded'] else 'NO':>4}"
            f"{r['load_average_before']:>5.1f}-{r['load_average_after']:<5.1f}"
        )
    print(
        "drain s: executors' spawn to their exit; exec/s and jobs/s over first start to last end; wait: submit "
        "to start; run: start to end; once: every job of every execution started exactly once; load: 1-minute "
        f"load average before-after ({os.cpu_count()} CPUs)"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    previous: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    label = args.label or datetime.now(UTC).isoformat(timespec="seconds")
    previous[label] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows}
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(HERE.parent)} (label {label!r})")


if __name__ == "__main__":
    main()
