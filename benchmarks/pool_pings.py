"""Pings of pooled connections on a quiet server after a burst, MariaDB and PostgreSQL: this tree against
another version's ``src`` (``--baseline``), rounds alternating.

A pooled connection idle for longer than ``store.engine.IDLE_PING_SECONDS`` (5 s) is pinged before use, a
round trip. After a burst of ``--burst`` reads at once has filled the pool, ``--requests`` requests come one
at a time, ``--interval`` seconds apart (each a ``Store.shared_reads`` block with one read, as a request of
the server). A FIFO pool hands out the connection idle longest, so once ``burst x interval`` exceeds 5 s
every request pays a ping; a LIFO pool hands out the one given back last. Pings are counted from the pool's
checkout events, in process; nothing is timed.

    .venv/bin/python benchmarks/pool_pings.py --baseline /tmp/main/src   # git archive main src | tar -x -C /tmp/main
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

MARIADB = "mysql://root@127.0.0.1:3306"
POSTGRESQL = "postgresql://postgres@127.0.0.1:5432"


def count_pings(url: str, burst: int, requests: int, interval: float) -> dict[str, int]:
    import sqlalchemy as sa

    from sudoless.store import Store
    from sudoless.store import engine as engines

    store = Store(url)
    pool = store.engine.pool
    pings = 0

    def checkout(_dbapi: object, record: sa.pool.ConnectionPoolEntry, _proxy: object) -> None:
        nonlocal pings
        idle = record.info.get("idle_since")
        if idle is not None and time.monotonic() - idle > engines.IDLE_PING_SECONDS:
            pings += 1

    sa.event.listen(pool, "checkout", checkout, insert=True)  # before the store's own, which sets nothing
    together = threading.Barrier(burst)

    def read_together() -> None:
        with store.read() as conn:
            conn.exec_driver_sql("SELECT 1")
            together.wait()

    threads = [threading.Thread(target=read_together) for _ in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pings = 0
    for _ in range(requests):
        time.sleep(interval)
        with store.shared_reads(), store.read() as conn:
            conn.exec_driver_sql("SELECT 1")
    size = pool.size()  # type: ignore[attr-defined]
    store.close()
    return {"pings": pings, "pool_size": size}


def database(backend: str) -> tuple[str, object]:
    """A new database's URL and how to drop it."""
    name = f"sudoless_pings_{uuid.uuid4().hex[:8]}"
    if backend == "mariadb":
        import pymysql

        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        admin.cursor().execute(f"CREATE DATABASE {name}")
        return f"{MARIADB}/{name}", lambda: (admin.cursor().execute(f"DROP DATABASE {name}"), admin.close())
    import psycopg

    with psycopg.connect(POSTGRESQL + "/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        with psycopg.connect(POSTGRESQL + "/postgres", autocommit=True) as again:
            again.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    return f"{POSTGRESQL}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="mariadb,postgresql")
    parser.add_argument("--burst", type=int, default=16, help="reads at once that fill the pool first")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between two requests")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="another version's src directory, measured alternately")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(count_pings(args.child, args.burst, args.requests, args.interval)))
        return
    versions = [("this tree", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    load = os.getloadavg()[0]
    print(f"{args.burst} reads at once, then {args.requests} requests {args.interval:g} s apart; load {load:.1f}")
    for backend in args.backends.split(","):
        for round_ in range(args.rounds):
            for label, src in versions:
                url, drop = database(backend)
                env = dict(os.environ)
                if src is not None:
                    env["PYTHONPATH"] = str(src)
                try:
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--child",
                            url,
                            "--burst",
                            str(args.burst),
                            "--requests",
                            str(args.requests),
                            "--interval",
                            str(args.interval),
                        ],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                finally:
                    drop()  # type: ignore[operator]
                found = json.loads(out.strip().splitlines()[-1])
                print(
                    f"{backend:10} round {round_ + 1}  {label:9}  pool of {found['pool_size']:2}: "
                    f"{found['pings']} pings in {args.requests} requests"
                )


if __name__ == "__main__":
    main()
