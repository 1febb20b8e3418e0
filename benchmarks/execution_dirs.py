"""What preparing an execution's directory costs: a full copy of the project (as before, and as Azkaban does)
against hard links to the cached, read-only project (:mod:`sudoless.flows.workspace`).

A synthetic project of ``--files`` files totalling ``--mb`` MB (random bytes, so no file system can share
or compress them) is unpacked once as the cache; then ``--runs`` execution directories are prepared each way
in the same folder. Reported per directory: wall time (median and minimum; the copy's writes are not
synced, so its real cost to the disk comes later) and the disk it added (allocated blocks of its folders and
of the files no other link holds, ``du``'s measure). Results: a table on stdout and
``benchmarks/results/execution_dirs.json``.

    .venv/bin/python benchmarks/execution_dirs.py                 # 1,000 files, 100 MB, 5 runs each way
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sudoless.flows.workspace import prepare_workdir

RESULTS = Path(__file__).resolve().parent / "results" / "execution_dirs.json"


def make_project(root: Path, files: int, total_bytes: int) -> None:
    size = total_bytes // files
    for i in range(files):
        path = root / f"dir{i % 20:02d}" / f"file{i:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))


def added_bytes(folder: Path) -> int:
    """Disk the folder holds alone: blocks of its folders and of its files that have no other link."""
    total = 0
    for root, _, names in os.walk(folder):
        total += os.lstat(root).st_blocks * 512
        total += sum(st.st_blocks * 512 for st in (os.lstat(os.path.join(root, n)) for n in names) if st.st_nlink == 1)
    return total


def copy_dir(source: Path, workdir: Path) -> None:
    """The preparation before: a staging copy renamed into place."""
    staging = Path(tempfile.mkdtemp(prefix=f".{workdir.name}.", dir=workdir.parent))
    shutil.copytree(source, staging, dirs_exist_ok=True)
    staging.rename(workdir)


def measure(name: str, prepare: Callable[[Path, Path], object], cache: Path, base: Path, runs: int) -> dict:
    times, sizes = [], []
    for i in range(runs):
        workdir = base / f"{name}-{i}"
        os.sync()
        start = time.perf_counter()
        prepare(cache, workdir)
        times.append(time.perf_counter() - start)
        sizes.append(added_bytes(workdir))
    return {
        "how": name,
        "median_ms": statistics.median(times) * 1000,
        "min_ms": min(times) * 1000,
        "added_bytes": statistics.median(sizes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where to work (default: a temporary folder)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sudoless-bench-", dir=args.dir) as scratch:
        base = Path(scratch)
        cache = base / "projects" / "1.1"
        make_project(cache, args.files, args.mb * 1_000_000)
        executions = base / "executions"
        executions.mkdir()
        rows = [
            measure("copy", copy_dir, cache, executions, args.runs),
            measure("link", prepare_workdir, cache, executions, args.runs),
        ]
        for folder in executions.iterdir():  # linked files are read-only; their folders are not
            shutil.rmtree(folder)
    print(f"{args.files} files, {args.mb} MB; {args.runs} directories each way")
    print(f"{'how':<6} {'median ms':>10} {'min ms':>8} {'disk added per directory':>26}")
    for row in rows:
        print(f"{row['how']:<6} {row['median_ms']:>10.1f} {row['min_ms']:>8.1f} {row['added_bytes']:>20,} bytes")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {"benchmark": "execution_dirs", "files": args.files, "mb": args.mb, "runs": args.runs, "results": rows},
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
