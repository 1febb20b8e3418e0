"""Server time of every web UI page with 10,000 executions stored, on SQLite, MariaDB and PostgreSQL.

The history (20 projects, 10,000 executions with their job rows, one large job log) is bulk-written by the
test suite's builder (``tests/ui/history.py``); the pages are those the UI tests open (``tests/ui/pages.py``).
Each page is requested through the ASGI application in process, ``--tries`` times, and the time is the
server's own: the ``Server-Timing`` header the UI sets, from the request to the rendered answer, database
included. The best and the median of the tries are reported; the target (issue 20) is under 50 ms for every page,
the runs x jobs grid of 100 runs x 61 jobs included.

    .venv/bin/python benchmarks/ui_pages.py                      # all three back ends
    .venv/bin/python benchmarks/ui_pages.py --backends sqlite --tries 5

There is no peer here: Azkaban's UI needs a Java build of Azkaban and its MySQL schema, which this machine
cannot fetch. Results: a table on stdout and ``benchmarks/results/ui_pages.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the history builder and page list of the UI tests

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from support.services import create_database, drop_database  # noqa: E402
from ui.pages import PAGES, build_world  # noqa: E402

RESULTS = HERE / "results" / "ui_pages.json"
TARGET_MS = 50.0


def page_times(client: Any, path: str, tries: int) -> list[float]:
    times = []
    for _ in range(tries):
        response = client.get(path, follow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        times.append(float(re.search(r"dur=([0-9.]+)", response.headers["server-timing"]).group(1)))
    return times


def measure(kind: str, tries: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix=f"ui-pages-{kind}-") as scratch:
        root = Path(scratch)
        if kind == "sqlite":
            world = build_world(root, f"sqlite:///{root / 'history.db'}", log_chunks=2_000)
            try:
                return {path: page_times(world.admin, path, tries) for path in PAGES}
            finally:
                world.store.close()
        url, admin, name = create_database(kind)
        try:
            world = build_world(root, url, log_chunks=200)
            try:
                return {path: page_times(world.admin, path, tries) for path in PAGES}
            finally:
                world.store.close()
        finally:
            drop_database(admin, name, kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,mariadb,postgresql")
    parser.add_argument("--tries", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    results: dict[str, dict[str, list[float]]] = {}
    for kind in args.backends.split(","):
        console.print(f"{kind}: writing 10,000 executions and timing {len(PAGES)} pages ...")
        results[kind] = measure(kind, args.tries)
    table = Table(
        title=f"UI server time, ms (best / median of {args.tries}), 10,000 executions; target < {TARGET_MS:g} ms"
    )
    table.add_column("page")
    for kind in results:
        table.add_column(kind, justify="right")
    for path in PAGES:
        cells = [f"{min(results[k][path]):.1f} / {statistics.median(results[k][path]):.1f}" for k in results]
        table.add_row(path, *cells)
    worst = {k: max(statistics.median(times) for times in pages.values()) for k, pages in results.items()}
    table.add_row("[bold]slowest median[/bold]", *[f"{worst[k]:.1f}" for k in results])
    table.add_row("[bold]target met[/bold]", *["yes" if worst[k] < TARGET_MS else "no" for k in results])
    console.print(table)
    console.print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "tries": args.tries,
                "load_average": os.getloadavg()[0],
                "results": results,
            },
            indent=2,
        )
    )
    console.print(f"written {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
