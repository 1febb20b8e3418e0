"""How long ``sudoless server`` takes to answer: from exec to the first HTTP 200 on ``/status``, on SQLite.

The restart case: the database already exists at the newest schema revision and holds the admin user
(a first start is made and stopped before the timed runs). Each timed run spawns
``.venv/bin/sudoless server --port P`` in the same ``SUDOLESS_HOME``, polls ``/status`` over a raw socket
every 2 ms until it answers 200, records the time since the spawn, and stops the server with SIGTERM. The
median of the runs is compared with the issue's target (under 1 s).

    .venv/bin/python benchmarks/server_start.py [--runs 10] [--label before]

With ``--importtime`` it also prints the slowest top-level imports of one start (``python -X importtime``,
cumulative microseconds), which is where almost all of the start time goes.

With ``--baseline DIR`` (a copy of another version's ``src``, e.g. ``git archive HEAD src | tar -x -C DIR``)
each run starts that version and then this one, in turn, each in its own ``SUDOLESS_HOME``, both as
``python -c "from sudoless.cli import main; main()"``: on a shared machine whose load drifts, alternating is
what makes the two medians comparable. Compare the CPU seconds too: they drift less than wall time.

Results: a table on stdout and ``benchmarks/results/server_start.json`` (one entry per ``--label``, so a
before and an after run sit side by side).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "server_start.json"
TARGET_S = 1.0
SUDOLESS = ROOT / ".venv" / "bin" / "sudoless"
PYTHON = ROOT / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_ok(port: int) -> bool:
    """One ``GET /status`` over a fresh connection; True on a 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return False
    return head.startswith(b"HTTP/1.1 200")


def one_start(home: Path, argv: list[str], src: Path | None = None, timeout: float = 30.0) -> tuple[float, float]:
    """Seconds from spawn to the first 200 on /status, and the CPU seconds the server used until then."""
    port = free_port()
    env = {**os.environ, "SUDOLESS_HOME": str(home)}
    env.pop("SUDOLESS_DB", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [*argv, "server", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while not status_ok(port):
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}: {proc.stderr.read().decode()}")
            if time.perf_counter() - began > timeout:
                raise RuntimeError(f"no 200 on /status within {timeout} s")
            time.sleep(0.002)
        elapsed = time.perf_counter() - began
        cpu = process_cpu(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return elapsed, cpu


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_profile(home: Path, top: int = 15) -> list[tuple[str, int]]:
    """The slowest imports of one start, cumulative microseconds, from ``python -X importtime``."""
    port = free_port()
    env = {**os.environ, "SUDOLESS_HOME": str(home), "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.Popen(
        [str(PYTHON), "-c", "from sudoless.cli import main; main()", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    began = time.perf_counter()
    while not status_ok(port):
        if proc.poll() is not None or time.perf_counter() - began > 30:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    rows: list[tuple[str, int]] = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|", 2)
        name = name[1:]  # the tree is drawn with two spaces per level after "| "
        if not name.startswith(" "):
            rows.append((name, int(cumulative)))
    # Top-level packages only (a name without leading spaces in the tree); the slowest first.
    rows.sort(key=lambda row: -row[1])
    return rows[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--label", default="current", help="name of this measurement in the JSON file")
    parser.add_argument("--importtime", action="store_true", help="also print the slowest imports")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="DIR",
        help="also start the sudoless package under DIR, alternating with this one",
    )
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    console = Console()
    versions: dict[str, tuple[list[str], Path | None]] = {"current": ([str(SUDOLESS)], None)}
    if args.baseline is not None:
        inline = [str(PYTHON), "-c", "from sudoless.cli import main; main()"]
        versions = {"baseline": (inline, args.baseline.resolve()), "current": (inline, ROOT / "src")}
    times: dict[str, list[float]] = {name: [] for name in versions}
    cpus: dict[str, list[float]] = {name: [] for name in versions}
    with tempfile.TemporaryDirectory(prefix="sudoless-start-") as scratch:
        homes = {name: Path(scratch) / name / "home" for name in versions}
        for name, (argv, src) in versions.items():
            first, _ = one_start(homes[name], argv, src)  # creates the database, the schema and the admin user
            console.print(f"{name}: first start (creates the database): {first:.3f} s")
        for index in range(args.runs):
            for name, (argv, src) in versions.items():
                elapsed, cpu = one_start(homes[name], argv, src)
                times[name].append(elapsed)
                cpus[name].append(cpu)
                console.print(f"run {index + 1} {name}: {elapsed:.3f} s (server CPU {cpu:.2f} s)")
        imports = import_profile(homes["current"]) if args.importtime else []

    table = Table(
        title=f"sudoless server start, SQLite, restart case ({args.label}; load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    for column in ("version", "runs", "median s", "min s", "max s", "median CPU s", "target < 1 s"):
        table.add_column(column, justify="right")
    for name in versions:
        median = statistics.median(times[name])
        table.add_row(
            name,
            str(len(times[name])),
            f"{median:.3f}",
            f"{min(times[name]):.3f}",
            f"{max(times[name]):.3f}",
            f"{statistics.median(cpus[name]):.2f}",
            "met" if median < TARGET_S else "missed",
        )
    console.print(table)
    if imports:
        imports_table = Table(title="slowest top-level imports of one start (cumulative)")
        imports_table.add_column("module")
        imports_table.add_column("ms", justify="right")
        for name, micros in imports:
            imports_table.add_row(name, f"{micros / 1000:.0f}")
        console.print(imports_table)

    RESULTS.parent.mkdir(exist_ok=True)
    previous: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous[args.label] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "target_s": TARGET_S,
        "baseline": str(args.baseline) if args.baseline else None,
        "versions": {
            name: {
                "runs_s": times[name],
                "cpu_s": cpus[name],
                "median_s": statistics.median(times[name]),
                "median_cpu_s": statistics.median(cpus[name]),
                "met": statistics.median(times[name]) < TARGET_S,
            }
            for name in versions
        },
        "slowest_imports_ms": {name: micros / 1000 for name, micros in imports},
    }
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    console.print(f"written {RESULTS.relative_to(ROOT)}")
    sys.exit(0)


if __name__ == "__main__":
    main()
