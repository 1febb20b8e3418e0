"""1,000 schedules due in the same minute: how late each fires, on SQLite, MariaDB and PostgreSQL (issue 22's
target: every one within 1 s of its slot).

For each back end: a fresh database gets ``--projects`` Flow 1.0 projects of ``--flows`` flows (each flow a
chain of 5 ``noop`` jobs), and every flow a cron schedule (``concurrentOption=ignore``) whose slot falls in
one coming minute: with ``--spread top`` all at its first second (the top of the hour, when most schedules
fire), with ``--spread minute`` evenly over its 60 seconds. ``sudoless server --no-executor`` (a real
process: its scheduler thread beside the HTTP server, the trigger loop and the notification sender) then
fires them; the delay of a firing is its execution's submit time minus its slot. Reported: how many fired,
how many more than once, the delay's percentiles and the share within 1 s.

    .venv/bin/python benchmarks/schedule_burst.py                         # all three back ends, 1,000, both spreads
    .venv/bin/python benchmarks/schedule_burst.py --backends sqlite --projects 10 --spread minute
    .venv/bin/python benchmarks/schedule_burst.py --src ../main-before/src --label before   # another commit's code

Results: a table on stdout and ``benchmarks/results/schedule_burst.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from server_latency import running_server  # noqa: E402

from support.services import database  # noqa: E402

RESULTS = HERE / "results" / "schedule_burst.json"
CHAIN = 5


def write_project(root: Path, flows: int) -> Path:
    """``flows`` flows named ``flowNN``, each the end of a chain of :data:`CHAIN` noop jobs."""
    root.mkdir(parents=True)
    for flow in range(flows):
        names = [f"flow{flow:02d}_step{i}" for i in range(CHAIN - 1)] + [f"flow{flow:02d}"]
        for i, name in enumerate(names):
            text = "type=noop\n" + (f"dependencies={names[i - 1]}\n" if i else "")
            (root / f"{name}.job").write_text(text)
    return root


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))] if ordered else float("nan")


def measure(backend: str, projects: int, flows: int, spread: str, src: Path | None) -> dict[str, Any]:
    from sudoless.config import Settings
    from sudoless.flows.options import ExecutionOptions
    from sudoless.flows.scheduler import Scheduler
    from sudoless.flows.upload import upload_project
    from sudoless.store import Store

    scratch = Path(tempfile.mkdtemp(prefix=f"schedule-burst-{backend}-"))
    try:
        home = scratch / "home"
        home.mkdir(mode=0o700)
        with database(backend, home / "sudoless.db") as url:
            store = Store(url)
            settings = Settings(home=home, db_url=url, timezone="UTC")
            began = time.perf_counter()
            names = []
            for index in range(projects):
                name = f"burst{index:03d}"
                upload_project(store, settings, write_project(scratch / name, flows), "bench", name=name)
                names.append(name)
            upload_s = time.perf_counter() - began
            count = projects * flows
            scheduler = Scheduler(store, settings)
            options = ExecutionOptions(concurrent_option="ignore")
            # the minute: the first that starts at least 20 s after all the schedules are saved, by the time
            # the first 50 took (saved again below with the minute's slot: an upsert keeps the row)
            began = time.perf_counter()
            for index in range(min(50, count)):
                project, flow = names[index // flows], f"flow{index % flows:02d}"
                scheduler.schedule(project, flow, "0 0 0 1 1 ? 2099", timezone="UTC", options=options, user="bench")
            each = (time.perf_counter() - began) / min(50, count)
            earliest = time.time() + 20 + count * each * 1.5
            minute = datetime.fromtimestamp((int(earliest) // 60 + 1) * 60, UTC)
            slots: dict[tuple[str, str], int] = {}
            for index in range(count):
                project, flow = names[index // flows], f"flow{index % flows:02d}"
                second = 0 if spread == "top" else index * 60 // count
                cron = f"{second} {minute.minute} {minute.hour} ? * *"
                scheduler.schedule(project, flow, cron, timezone="UTC", options=options, user="bench")
                slots[project, flow] = int(minute.timestamp() * 1000) + second * 1000
            if time.time() > minute.timestamp() - 5:
                raise RuntimeError("saving the schedules took too long; the minute has begun")
            load_before = os.getloadavg()[0]
            with running_server(home, url, src, ["--no-executor"]):
                deadline = minute.timestamp() + 60 + 120
                while time.time() < deadline:
                    fired = sum(
                        store.executions.count(store.projects.id_of(name)) for name in names
                    )  # a few dozen reads a second
                    if fired >= count and time.time() > minute.timestamp() + 61:
                        break
                    time.sleep(1.0)
                time.sleep(2.0)  # anything firing twice would show now
            load_after = os.getloadavg()[0]
            delays: list[float] = []
            per_flow: Counter[tuple[str, str]] = Counter()
            for name in names:
                project_id = store.projects.id_of(name)
                for record in store.executions.latest(project_id, limit=100_000):
                    per_flow[name, record.flow_id] += 1
                    if record.source == "schedule":
                        delays.append((record.submit_time - slots[name, record.flow_id]) / 1000)
            store.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "backend": backend,
        "spread": spread,
        "schedules": count,
        "projects": projects,
        "upload_s": upload_s,
        "fired": sum(per_flow.values()),
        "fired_twice": sum(1 for n in per_flow.values() if n > 1),
        "never_fired": count - len(per_flow),
        "delay_p50_s": percentile(delays, 50),
        "delay_p90_s": percentile(delays, 90),
        "delay_p99_s": percentile(delays, 99),
        "delay_max_s": max(delays, default=float("nan")),
        "delay_min_s": min(delays, default=float("nan")),
        "within_1s": sum(1 for d in delays if d <= 1.0) / max(len(delays), 1),
        "load_average_before": load_before,
        "load_average_after": load_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends", default="sqlite,mariadb,postgresql", help="comma list of sqlite, mariadb, postgresql"
    )
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--flows", type=int, default=20, help="flows (each one schedule) per project")
    parser.add_argument("--spread", default="top,minute", help="comma list of top, minute")
    parser.add_argument("--label", default="", help="name of this run in the JSON file")
    parser.add_argument("--src", type=Path, help="run the sudoless package under this folder (another commit's src)")
    args = parser.parse_args()
    src = args.src.resolve() if args.src else None
    if src is not None:
        sys.path.insert(0, str(src))
    rows = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for spread in [s.strip() for s in args.spread.split(",") if s.strip()]:
            print(f"{backend}: {args.projects * args.flows} schedules, spread {spread} ...", flush=True)
            rows.append(measure(backend, args.projects, args.flows, spread, src))
            r = rows[-1]
            print(
                f"  fired {r['fired']} (twice: {r['fired_twice']}, never: {r['never_fired']}); delay s p50 "
                f"{r['delay_p50_s']:.2f} p90 {r['delay_p90_s']:.2f} p99 {r['delay_p99_s']:.2f} max "
                f"{r['delay_max_s']:.2f}; within 1 s {r['within_1s']:.0%}; load {r['load_average_before']:.1f}-"
                f"{r['load_average_after']:.1f}",
                flush=True,
            )
    RESULTS.parent.mkdir(exist_ok=True)
    previous: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    label = args.label or datetime.now(UTC).isoformat(timespec="seconds")
    previous[label] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows}
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(HERE.parent)} (label {label!r})")


if __name__ == "__main__":
    main()
