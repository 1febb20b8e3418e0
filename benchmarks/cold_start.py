"""Cold start: ``sudoless --help`` and ``sudoless flow run`` of a one-job flow, next to Luigi, before/after.

Each case is one command a user types, timed from exec to exit (interpreter start-up, imports, database,
work). The cases run interleaved, round after round (A B C ... A B C ...), so that a burst of load on a
shared machine hits every case alike; the table gives the median and the minimum wall time of the rounds,
and the median CPU time (user + system of the command and its children), which load inflates far less.

* ``help``: ``sudoless --help``;
* ``run (new home)``: ``sudoless flow run`` of a one-job ``command=true`` flow in a new, empty
  ``SUDOLESS_HOME`` (the database is created);
* ``run (existing home)``: the same again in a home that already holds the database;
* ``luigi``: one Luigi task that spawns ``true`` and writes its marker, ``luigi.build(local_scheduler=True,
  workers=2)`` (flow_overhead.py's child, the same work as the one-job flow);
* ``python``: ``python -c pass``, the interpreter's own start-up in this environment (its ``site`` and the
  ``.pth`` files of whatever is installed there), which every other case pays too.

Every case runs with bytecode caches, as after ``pip install`` (which compiles them): the children do not
inherit ``PYTHONDONTWRITEBYTECODE``, so the first, dropped round writes the caches of a source tree that has
none (an editable install, a ``--before`` directory). ``--no-bytecode`` keeps the variable, and then the
sudoless cases compile their own sources at every start, as the figures before 2026-12-07 did.

``--instructions`` also runs each case once under Valgrind's callgrind and counts the instructions the
command's own process executes (not its children: the job, Luigi's worker processes): a figure the load of
a shared machine does not change, to compare commits where CPU time is too noisy. Valgrind runs the process
30-60 times slower; ``--rounds 0 --instructions`` counts only.

``--before DIR`` adds the same sudoless cases importing sudoless from DIR (a ``src/`` of another commit,
e.g. from ``git worktree add /tmp/before HEAD~1``). Targets (issue 22): ``--help`` ≤ 0.1 s, a one-job
``flow run`` ≤ 0.3 s and below Luigi's.

    .venv/bin/python benchmarks/cold_start.py --rounds 15 --before /tmp/before/src
    .venv/bin/python benchmarks/cold_start.py --rounds 0 --instructions --before /tmp/before/src
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN_CLI = "import sys; from sudoless.cli import main; sys.argv[0] = 'sudoless'; main()"


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the command and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-500:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions the command's own process executes (callgrind's total of Ir, children not traced)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind on PATH (Debian: apt install valgrind)")
    done = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        env={**env, "PYTHONHASHSEED": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind {' '.join(argv)} failed ({done.returncode}): {done.stderr[-500:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds of every case (default 10)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions with valgrind")
    parser.add_argument("--before", type=Path, metavar="DIR", help="a src/ directory of the code to compare with")
    parser.add_argument("--skip-luigi", action="store_true")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE: compile sudoless at every start"
    )
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="cold-start-"))
    project = scratch / "one"
    project.mkdir()
    (project / "only.job").write_text("type=command\ncommand=true\n")
    dropped = {"PYTHONPATH", "SUDOLESS_HOME", "SUDOLESS_DB"}
    if not args.no_bytecode:
        dropped.add("PYTHONDONTWRITEBYTECODE")
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    base["NO_COLOR"] = "1"
    versions = {"after": None, **({"before": str(args.before.resolve())} if args.before else {})}
    cases: dict[str, tuple[list[str], dict[str, str], str | None]] = {
        "python -c pass": ([sys.executable, "-c", "pass"], base, None)
    }
    for label, src in versions.items():
        env = {**base, **({"PYTHONPATH": src} if src else {})}
        cli = [sys.executable, "-c", RUN_CLI]
        home = scratch / f"home-{label}"
        cases[f"{label}: help"] = (cli + ["--help"], {**env, "SUDOLESS_HOME": str(scratch / "help")}, None)
        cases[f"{label}: run (new home)"] = (
            cli + ["flow", "run", str(project), "--json"],
            {**env, "SUDOLESS_HOME": str(home) + "-new"},
            str(home) + "-new",
        )
        cases[f"{label}: run (existing home)"] = (
            cli + ["flow", "run", str(project), "--json"],
            {**env, "SUDOLESS_HOME": str(home)},
            None,
        )
    if not args.skip_luigi:
        out = scratch / "luigi"
        cases["luigi 3.8: one task"] = (
            [
                sys.executable,
                str(HERE / "flow_overhead.py"),
                "--child",
                "luigi",
                "--dag",
                "single",
                "--jobs",
                "1",
                "--out",
                str(out),
            ],
            {**base, "LUIGI_CONFIG_PATH": str(scratch / "luigi.cfg")},
            str(out),
        )
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    counts: dict[str, int] = {}
    try:
        for _ in range(args.rounds + 1):  # the first round warms the page cache (and writes bytecode) and is dropped
            for name, (command, env, fresh) in cases.items():
                if fresh:
                    shutil.rmtree(fresh, ignore_errors=True)
                times[name].append(timed(command, env))
        for name, (command, env, fresh) in cases.items() if args.instructions else ():
            if fresh:
                shutil.rmtree(fresh, ignore_errors=True)
            counts[name] = instructions(command, env)
        load = os.getloadavg()[0]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{args.rounds} rounds, load average {load:.2f}, {os.cpu_count()} CPUs")
    print(f"{'case':<34} {'wall median s':>13} {'wall min s':>10} {'CPU median s':>12} {'instructions M':>14}")
    for name, values in times.items():
        walls, cpus = [v[0] for v in values[1:]], [v[1] for v in values[1:]]
        columns = [statistics.median(walls), min(walls), statistics.median(cpus)] if walls else []
        timing = (
            f"{columns[0]:>13.3f} {columns[1]:>10.3f} {columns[2]:>12.3f}"
            if columns
            else f"{'-':>13} {'-':>10} {'-':>12}"
        )
        count = f"{counts[name] / 1e6:>14.0f}" if name in counts else f"{'-':>14}"
        print(f"{name:<34} {timing} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
