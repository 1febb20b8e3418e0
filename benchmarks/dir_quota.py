"""What the execution directory quota costs: one measurement of a directory, and per job in a chain.

Two figures. First, one measurement (the walk :func:`sudoless.flows.quota.written_bytes` makes) of a
directory of 10, 1,000 and 20,000 small files (the project quota's default file count), median of
``--walks``. Second, a Flow 1.0 chain of ``--jobs`` ``true`` jobs (default 100) run through the library on
SQLite, once with the default quota (4096 MiB: measured after every job and every 2 s) and once with the quota
off (``execution_dir_max_mb=0``), alternating ``--repeat`` times (default 5). The difference of the medians
divided by the number of jobs is the quota's cost per job as a whole, but on a busy machine it drowns in
the noise of the runs; so the time spent in the measurements themselves is also timed (the walks are
wrapped) and reported per job, which is what the quota adds to the runner's work.

    .venv/bin/python benchmarks/dir_quota.py [--jobs 100] [--repeat 5] [--walks 20]

Results: a table on stdout and ``benchmarks/results/dir_quota.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "dir_quota.json"


def walk_ms(files: int, walks: int) -> float:
    """Median milliseconds of one measurement of a directory of ``files`` 100-byte files in 50 folders."""
    from sudoless.flows.quota import written_bytes

    with tempfile.TemporaryDirectory(prefix="sudoless-bench-") as tmp:
        root = Path(tmp)
        for i in range(files):
            folder = root / f"d{i % 50}"
            folder.mkdir(exist_ok=True)
            (folder / f"f{i}").write_bytes(b"x" * 100)
        times = []
        for _ in range(walks):
            started = time.perf_counter()
            written_bytes(root)
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--walks", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    sys.path.insert(0, str(HERE))
    from sandbox import run_chain  # the sandbox benchmark's chain, with the quota set instead

    import sudoless.flows.quota as quota_module

    walks = {files: walk_ms(files, args.walks) for files in (10, 1_000, 20_000)}
    measuring: list[float] = []
    measure = quota_module.written_bytes

    def timed(workdir: Path) -> int:
        started = time.perf_counter()
        try:
            return measure(workdir)
        finally:
            measuring.append(time.perf_counter() - started)

    quota_module.written_bytes = timed  # type: ignore[assignment]
    run_chain(5, True)  # imports and first-use costs out of the figures
    walls: dict[int, list[float]] = {0: [], 4096: []}
    measuring.clear()
    for _ in range(args.repeat):
        for quota in (0, 4096):
            walls[quota].append(run_chain(args.jobs, True, execution_dir_max_mb=quota))
    off, on = statistics.median(walls[0]), statistics.median(walls[4096])
    per_job_ms = (on - off) / args.jobs * 1000
    walks_per_chain = len(measuring) / args.repeat
    measuring_ms = sum(measuring) / args.repeat / args.jobs * 1000
    rows = [(f"one measurement, {files:,} files", f"{ms:.3f} ms") for files, ms in walks.items()]
    rows += [
        (f"chain of {args.jobs} `true` jobs, quota off", f"{off / args.jobs * 1000:.2f} ms/job"),
        (f"chain of {args.jobs} `true` jobs, quota 4096 MiB", f"{on / args.jobs * 1000:.2f} ms/job"),
        ("difference per job (noisy)", f"{per_job_ms:+.3f} ms"),
        ("measurements per chain", f"{walks_per_chain:.1f}"),
        ("time measuring, per job", f"{measuring_ms:.3f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    print(
        f"{platform.machine()}, Python {platform.python_version()}, median of {args.repeat} chains, {args.walks} walks"
    )
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": platform.machine(),
                "python": platform.python_version(),
                "jobs": args.jobs,
                "repeat": args.repeat,
                "walk_ms": {str(k): v for k, v in walks.items()},
                "wall_off_s": walls[0],
                "wall_on_s": walls[4096],
                "per_job_ms": per_job_ms,
                "walks_per_chain": walks_per_chain,
                "measuring_ms_per_job": measuring_ms,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
