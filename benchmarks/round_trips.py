"""What a request asks of the database, and the CPU it costs the server, per endpoint: measured in process on
the database ``server_latency.py`` builds (10,000 executions), on SQLite, MariaDB and PostgreSQL.

Round trips do not depend on the machine's load, which the latency benchmark does: on a shared 2-CPU machine
its figures say more about the neighbours than about the server. For each back end:

1. **Populate** a fresh database as ``server_latency.py`` does (its ``populate``), once.
2. **Measure**, in a child process per version of the code (this tree's ``src``, and with ``--baseline DIR``
   another one's, alternating ``--rounds`` times so that both see the same load): the application built as
   ``sudoless server`` builds it (``create_app``; the scheduler not started, so no other thread touches the
   database), a TestClient logged in as the ``bench`` user, then per endpoint ``--requests`` requests after
   a warm-up. Counted with SQLAlchemy's events (tests/support/round_trips.py): statements and
   transaction ends per request, the round trips they cost (on MariaDB also the commands PyMySQL really
   sent), and the thread CPU time spent inside the request handler (``handle`` for the AJAX API, the UI's
   ``_handle``): the server's own work without the HTTP layer or the test client.

    .venv/bin/python benchmarks/round_trips.py [--backends sqlite,mariadb,postgresql] [--executions 10000]
        [--requests 400] [--rounds 2] [--baseline /tmp/before/src] [--label NAME]

Results: a table on stdout and ``benchmarks/results/round_trips.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the round-trip counter the tests pin requests with

import server_latency as bench  # noqa: E402

RESULTS = HERE / "results" / "round_trips.json"
ENDPOINTS = ("fetchexecflow", "fetchFlowExecutions", "fetchflowgraph", "executions page", "execution page")
WARMUP = 20


def targets(endpoint: str, count: int, executions: int, flows: list[list[str]], session: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        project, flow = flows[rng.randrange(len(flows))]
        if endpoint == "fetchexecflow":
            out.append(f"/executor?ajax=fetchexecflow&execid={rng.randint(1, executions)}&session.id={session}")
        elif endpoint == "fetchFlowExecutions":
            start = 0 if rng.random() < 0.75 else bench.PAGE * rng.randrange(max(1, executions // len(flows) // 16))
            out.append(
                f"/manager?ajax=fetchFlowExecutions&project={project}&flow={flow}&start={start}"
                f"&length={bench.PAGE}&session.id={session}"
            )
        elif endpoint == "fetchflowgraph":
            out.append(f"/manager?ajax=fetchflowgraph&project={project}&flow={flow}&session.id={session}")
        elif endpoint == "executions page":
            out.append("/ui/executions")
        else:
            out.append(f"/ui/executions/{rng.randint(1, executions)}")
    return out


def measure_main(spec_path: str) -> None:
    """The child: measure every endpoint with the sudoless code on its path."""
    from starlette.testclient import TestClient

    import sudoless.server.app as app_module
    import sudoless.server.ui.web as web
    from sudoless.accounts import Accounts
    from sudoless.config import Settings
    from sudoless.flows.scheduler import Scheduler
    from sudoless.server.app import create_app
    from sudoless.server.sessions import COOKIE
    from sudoless.store import Store
    from support.round_trips import counting

    spec = json.loads(Path(spec_path).read_text())
    settings = Settings(home=Path(spec["home"]), db_url=spec["url"])
    store = Store(spec["url"])
    cpu = [0.0]

    def timed(function: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            began = time.thread_time()
            try:
                return function(*args)
            finally:
                cpu[0] += time.thread_time() - began

        return wrapper

    app_module.handle = timed(app_module.handle)  # type: ignore[assignment]
    web._handle = timed(web._handle)  # type: ignore[assignment]
    client = TestClient(create_app(settings, store, Accounts(store, settings), Scheduler(store, settings)))
    body = client.post("/", data={"action": "login", "username": bench.USER, "password": bench.PASSWORD}).json()
    session = body["session.id"]
    client.cookies.set(COOKIE, session)
    out: dict[str, Any] = {}
    for index, endpoint in enumerate(ENDPOINTS):
        paths = targets(endpoint, WARMUP + spec["requests"], spec["executions"], spec["flows"], session, index)
        for path in paths[:WARMUP]:
            client.get(path)
        cpu[0] = 0.0
        with counting(store.engine) as trips:
            for path in paths[WARMUP:]:
                answer = client.get(path, follow_redirects=False)
                if answer.status_code != 200 or (path[1] != "u" and "error" in answer.json()):
                    raise RuntimeError(f"{path}: HTTP {answer.status_code} {answer.text[:200]}")
        n = spec["requests"]
        out[endpoint] = {
            "statements": trips.statements / n,
            "transactions": trips.ends / n,
            "round_trips": trips.round_trips / n,
            "wire": None if trips.wire is None else trips.wire / n,
            "cpu_ms": cpu[0] * 1000 / n,
        }
    store.close()
    Path(spec["output"]).write_text(json.dumps(out))


def measure(url: str, home: Path, flows: list[list[str]], args: argparse.Namespace, src: Path | None) -> dict[str, Any]:
    spec = {
        "url": url,
        "home": str(home),
        "flows": flows,
        "executions": args.executions,
        "requests": args.requests,
        "output": str(home.parent / "measured.json"),
    }
    path = home.parent / "measure.json"
    path.write_text(json.dumps(spec))
    subprocess.run([sys.executable, __file__, "--measure", str(path)], env=bench.code_env(src), check=True)
    return dict(json.loads(Path(spec["output"]).read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends", default=",".join(bench.BACKENDS), help="comma list of " + ", ".join(bench.BACKENDS)
    )
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=400, help="measured requests per endpoint")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each version, alternating")
    parser.add_argument(
        "--baseline", type=Path, help="another version's src folder (git archive REV src), measured too"
    )
    parser.add_argument("--label", default="", help="name of this run in the JSON file (default: the commit)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--measure", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure_main(args.measure)
        return
    from rich.console import Console
    from rich.table import Table

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for name in backends:
        if name not in bench.BACKENDS:
            parser.error(f"unknown backend {name!r}")
    if args.baseline is not None and not (args.baseline / "sudoless").is_dir():
        parser.error(f"--baseline {args.baseline}: no sudoless package there")
    console = Console(width=max(Console().width, 130))
    versions: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.baseline is not None:
        versions.insert(0, ("baseline", args.baseline))
    rows: list[dict[str, Any]] = []
    for backend in backends:
        scratch = Path(tempfile.mkdtemp(prefix=f"sudoless-trips-{backend}-"))
        try:
            home = scratch / "home"
            home.mkdir(mode=0o700)
            with bench.backend_database(backend, home) as url:
                console.print(f"[bold]{backend}[/]: populating {args.executions:,} executions ...")
                filled = bench.populate_in_child(url, home, args.executions, args.seed, None)
                for round_number in range(args.rounds):
                    for version, src in versions:
                        load = os.getloadavg()[0]
                        measured = measure(url, home, filled["flows"], args, src)
                        for endpoint, figures in measured.items():
                            rows.append(
                                {
                                    "backend": backend,
                                    "version": version,
                                    "round": round_number,
                                    "endpoint": endpoint,
                                    "load_average": load,
                                    **figures,
                                }
                            )
                        console.print(f"  {version}, round {round_number + 1}: measured (load {load:.1f})")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    table = Table(title=f"Per request, in process, {args.executions:,} executions, {args.requests} requests each")
    for column in (
        "backend",
        "endpoint",
        "version",
        "round",
        "statements",
        "transactions",
        "round trips",
        "PyMySQL commands",
        "CPU ms",
        "load",
    ):
        table.add_column(column, justify="left" if column in ("backend", "endpoint", "version") else "right")
    for row in sorted(rows, key=lambda r: (r["backend"], ENDPOINTS.index(r["endpoint"]), r["version"], r["round"])):
        table.add_row(
            row["backend"],
            row["endpoint"],
            row["version"],
            str(row["round"] + 1),
            f"{row['statements']:.2f}",
            f"{row['transactions']:.2f}",
            f"{row['round_trips']:.2f}",
            "" if row["wire"] is None else f"{row['wire']:.2f}",
            f"{row['cpu_ms']:.2f}",
            f"{row['load_average']:.1f}",
        )
    console.print(table)
    console.print(
        "round trips: statements and transaction ends, and on PostgreSQL the BEGIN psycopg sends (on SQLite: "
        "calls into the library). CPU: thread CPU time inside the request handler per request. load: the "
        "1-minute load average before the measurement."
    )
    RESULTS.parent.mkdir(exist_ok=True)
    label = args.label or bench.git_commit()
    previous: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous[label] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": bench.git_commit(),
        "baseline": str(args.baseline) if args.baseline else None,
        "executions": args.executions,
        "requests": args.requests,
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    console.print(f"written {RESULTS.relative_to(bench.ROOT)} (label {label!r})")


if __name__ == "__main__":
    main()
