"""From nothing to a MariaDB/MySQL server accepting connections, and back: ``sudoless.mysql`` against the
raw steps it wraps.

Each repetition starts from an empty ``SUDOLESS_HOME`` and times, through the library (what
``sudoless server --db managed`` calls, without the command line's interpreter start-up):

* init: find and identify the binary, lay out the instance, ``mariadb-install-db`` with the accounts;
* start: spawn the server and wait until a connection over its socket succeeds;
* stop: ``SHUTDOWN`` over the socket and wait until the process is gone.

The raw steps are the hand-run sequence measured before ``sudoless.mysql`` was written, run again on the same
machine in the same run: ``mariadb-install-db --no-defaults`` with default options, ``mariadbd`` started by hand
and polled with a connection, SIGTERM. That first measurement (the "research" column) gave 1.1 s + 0.4 s on a
loaded VM.

    .venv/bin/python benchmarks/mysql_startup.py [--repeat 5] [--skip-raw]

Results: a table on stdout and ``benchmarks/results/mysql_startup.json``. CPU seconds are given next to
wall seconds because the machine is shared: init counts install-db and its children, start counts what
the server process used until it accepted the first connection.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mysql_startup.json"
STEPS = ("init", "start", "stop")
TARGET_INIT_START_S = 3.0  # the target, MariaDB
RESEARCH_S = {"init": 1.1, "start": 0.4, "stop": None}  # first hand-run: install-db 1.10 s, start 0.39 s


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_sudoless(scratch: Path) -> dict[str, float]:
    from sudoless.config import Settings
    from sudoless.mysql import destroy_instance, init_instance, start_instance, stop_instance

    settings = Settings(home=scratch / "home")
    began, cpu = time.perf_counter(), children_cpu()
    init_instance(settings, "bench")
    result = {"init": time.perf_counter() - began, "init_cpu": children_cpu() - cpu}
    try:
        began = time.perf_counter()
        started = start_instance(settings, "bench")
        result["start"] = time.perf_counter() - began
        result["start_cpu"] = process_cpu(started.pid)
        began = time.perf_counter()
        stopped = stop_instance(settings, "bench")
        result["stop"] = time.perf_counter() - began
        if stopped.method != "SHUTDOWN":
            raise RuntimeError(f"the server stopped with {stopped.method}, not SHUTDOWN")
    finally:
        destroy_instance(settings, "bench")
    return result


def run_raw(scratch: Path, server: Path, install_db: Path) -> dict[str, float]:
    """The hand-run sequence, timed the same way."""
    import pymysql

    from sudoless.mysql.ports import pick_port
    from sudoless.processes import wait_until_gone

    root = scratch / "raw"
    for part in ("data", "run", "log", "tmp"):
        (root / part).mkdir(parents=True)
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    began, cpu = time.perf_counter(), children_cpu()
    subprocess.run(
        [
            str(install_db),
            "--no-defaults",
            f"--datadir={root / 'data'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *as_root,
        ],
        check=True,
        capture_output=True,
    )
    result = {"init": time.perf_counter() - began, "init_cpu": children_cpu() - cpu}
    sock, port = root / "run" / "mysqld.sock", pick_port("127.0.0.1", ())
    began = time.perf_counter()
    with open(root / "log" / "stdout.log", "wb") as output:
        server_process = subprocess.Popen(
            [
                str(server),
                "--no-defaults",
                f"--datadir={root / 'data'}",
                f"--socket={sock}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={root / 'run' / 'mysqld.pid'}",
                f"--log-error={root / 'log' / 'error.log'}",
                f"--tmpdir={root / 'tmp'}",
                "--skip-name-resolve",
                *as_root,
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while True:
            if server_process.poll() is not None:
                raise RuntimeError(f"raw mariadbd exited: {(root / 'log' / 'error.log').read_text()[-2000:]}")
            if sock.exists():
                try:
                    pymysql.connect(unix_socket=str(sock), user="root", connect_timeout=2).close()
                    break
                except pymysql.err.OperationalError:
                    pass
            time.sleep(0.05)
        result["start"] = time.perf_counter() - began
        result["start_cpu"] = process_cpu(server_process.pid)
        began = time.perf_counter()
        server_process.send_signal(signal.SIGTERM)
        server_process.wait(timeout=60)
        result["stop"] = time.perf_counter() - began
    finally:
        if server_process.poll() is None:
            server_process.kill()
            server_process.wait()
            wait_until_gone(server_process.pid, None, 5)
    return result


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "",
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "repo_head": commit,
        "euid": os.geteuid(),
        "load_average_start": list(os.getloadavg()),
    }


def median(runs: list[dict[str, float]], key: str) -> float | None:
    values = [run[key] for run in runs if key in run]
    return statistics.median(values) if values else None


def summarise(ours: list[dict[str, float]], raw: list[dict[str, float]]) -> list[dict[str, Any]]:
    for run in (*ours, *raw):
        run["init+start"] = run["init"] + run["start"]
    rows = []
    for step in (*STEPS, "init+start"):
        rows.append(
            {
                "step": step,
                "sudoless_median_s": median(ours, step),
                "sudoless_runs_s": [r[step] for r in ours],
                "sudoless_cpu_median_s": median(ours, f"{step}_cpu"),
                "raw_median_s": median(raw, step),
                "raw_runs_s": [r[step] for r in raw],
                "raw_cpu_median_s": median(raw, f"{step}_cpu"),
                "research_s": (RESEARCH_S["init"] + RESEARCH_S["start"] if step == "init+start" else RESEARCH_S[step]),
            }
        )
    return rows


def render(rows: list[dict[str, Any]], info: dict[str, Any], server: str, repeat: int, met: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    def seconds(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    console = Console(width=max(Console().width, 120))
    table = Table(
        title=f"{server}: nothing → accepting connections → stopped, median of {repeat} "
        f"({info['cpus']} CPUs, load {info['load_average_start'][0]:.1f}, {info['date']})",
        title_justify="left",
    )
    for column in ("step", "sudoless s", "sudoless CPU s", "raw steps s", "raw CPU s", "research s", "target"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for row in rows:
        target = ""
        value = seconds(row["sudoless_median_s"])
        if row["step"] == "init+start":
            target = f"< {TARGET_INIT_START_S:g} s"
            value = f"[{'green' if met else 'red'}]{value}[/]"
        table.add_row(
            row["step"],
            value,
            seconds(row["sudoless_cpu_median_s"]),
            seconds(row["raw_median_s"]),
            seconds(row["raw_cpu_median_s"]),
            seconds(row["research_s"]),
            target,
        )
    table.caption = (
        "raw steps = install-db --no-defaults and mariadbd by hand; research = "
        "the same steps as first measured by hand; init+start = median of the per-run sums"
    )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (default 5); medians are reported")
    parser.add_argument("--skip-raw", action="store_true", help="time sudoless only")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    args = parser.parse_args(argv)

    from sudoless.mysql import Flavour, find_binaries

    binaries = find_binaries()
    info = machine()
    ours: list[dict[str, float]] = []
    raw: list[dict[str, float]] = []
    for rep in range(args.repeat):
        scratch = Path(tempfile.mkdtemp(prefix="mysql-startup-"))
        try:
            ours.append(run_sudoless(scratch))
            if not args.skip_raw and binaries.flavour is Flavour.MARIADB and binaries.install_db is not None:
                raw.append(run_raw(scratch, binaries.server, binaries.install_db))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print(
            f"run {rep + 1}/{args.repeat}: " + ", ".join(f"{step} {ours[-1][step]:.2f} s" for step in STEPS), flush=True
        )
    rows = summarise(ours, raw)
    init_start = next(row for row in rows if row["step"] == "init+start")["sudoless_median_s"]
    met = binaries.flavour is Flavour.MARIADB and init_start < TARGET_INIT_START_S
    server = f"{binaries.label} ({binaries.server})"
    info["load_average_end"] = list(os.getloadavg())
    render(rows, info, server, args.repeat, met)
    target = {
        "what": "init + start, MariaDB, median",
        "target": f"< {TARGET_INIT_START_S:g} s",
        "value": init_start,
        "met": met,
    }
    report = {
        "benchmark": "mysql_startup",
        "repeat": args.repeat,
        "server": server,
        "machine": info,
        "rows": rows,
        "targets": [target],
        "runs": {"sudoless": ours, "raw": raw},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
