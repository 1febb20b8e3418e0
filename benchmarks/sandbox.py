"""What the job sandbox costs per job: a chain of no-op ``command`` jobs with and without it, side by side.

Each case runs a Flow 1.0 chain of ``--jobs`` jobs (default 100), every job one ``true`` process, on SQLite
in a fresh ``SUDOLESS_HOME``, in this process through the library (upload, submit, an executor runs it), once
with ``sandbox=on`` and once with ``sandbox=off``; the two alternate ``--repeat`` times (default 5) and the
median wall time of each is kept. The difference divided by the number of jobs is the sandbox's cost per
job (the target: under 1 ms). Two parts of it are also timed alone: building an execution's Landlock rule
set (once per execution, at its first job) and starting one ``true`` process confined or not.

    .venv/bin/python benchmarks/sandbox.py [--jobs 100] [--repeat 5]

Results: a table on stdout and ``benchmarks/results/sandbox.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "sandbox.json"
TARGET_PER_JOB_MS = 1.0


def chain_project(root: Path, jobs: int) -> Path:
    root.mkdir(parents=True)
    for i in range(jobs):
        text = "type=command\ncommand=true\n" + (f"dependencies=job_{i - 1:04d}\n" if i else "")
        (root / f"job_{i:04d}.job").write_text(text)
    return root


def run_chain(jobs: int, sandbox: bool, **settings: object) -> float:
    """Wall seconds of one chain from submit to the end of its run (``settings``: more of the Settings)."""
    from sudoless.config import Settings
    from sudoless.flows.executions import submit_flow
    from sudoless.flows.executor import Executor
    from sudoless.flows.upload import upload_project
    from sudoless.store import Store
    from sudoless.store.status import Status

    with tempfile.TemporaryDirectory(prefix="sudoless-bench-") as tmp:
        options = Settings(home=Path(tmp) / "home", sandbox=sandbox, **settings)  # type: ignore[arg-type]
        options.home.mkdir()
        store = Store(options.database_url)
        project = chain_project(Path(tmp) / "chain", jobs)
        upload_project(store, options, project, "bench", name="chain")
        executor = Executor(store, options)
        try:
            started = time.perf_counter()
            exec_id = submit_flow(store, options, "chain", f"job_{jobs - 1:04d}", user="bench")
            status = executor.claim_and_run(exec_id)
            seconds = time.perf_counter() - started
        finally:
            executor.stop(wait=False)
            store.close()
        if status != Status.SUCCEEDED:
            raise SystemExit(f"the chain ended {status} with sandbox={sandbox}")
        return seconds


def ruleset_seconds(repeat: int = 20) -> float:
    """Median time to build one execution's rule set, for a home as deep as the default ~/.sudoless."""
    from sudoless.flows.sandbox import JobSandbox

    home = Path.home() / ".sudoless"
    times = []
    for _ in range(repeat):
        sandbox = JobSandbox(home, home / "executions" / "0")
        started = time.perf_counter()
        sandbox._prepared()
        times.append(time.perf_counter() - started)
        sandbox.close()
    return statistics.median(times)


def spawn_seconds(confined: bool, count: int = 200) -> float:
    """Median seconds to start and reap one ``true`` process."""
    from sudoless.flows.sandbox import JobSandbox

    with tempfile.TemporaryDirectory(prefix="sudoless-bench-") as tmp:
        home = Path(tmp) / "home"
        (home / "executions" / "1").mkdir(parents=True)
        sandbox = JobSandbox(home, home / "executions" / "1", enabled=confined)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        times = []
        for _ in range(count):
            started = time.perf_counter()
            sandbox.popen(["true"], env, start_new_session=True, stdin=subprocess.DEVNULL).wait()
            times.append(time.perf_counter() - started)
        sandbox.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    from sudoless.flows.sandbox import landlock_abi

    abi, reason = landlock_abi()
    if abi == 0:
        raise SystemExit(f"no Landlock here ({reason}): nothing to compare")
    run_chain(5, True)  # imports and first-use costs out of the figures
    walls: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeat):
        for sandbox in (False, True):
            walls[sandbox].append(run_chain(args.jobs, sandbox))
    off, on = statistics.median(walls[False]), statistics.median(walls[True])
    per_job_ms = (on - off) / args.jobs * 1000
    rules_ms = ruleset_seconds() * 1000
    spawn_off, spawn_on = spawn_seconds(False) * 1000, spawn_seconds(True) * 1000
    rows = [
        (f"chain of {args.jobs} `true` jobs, sandbox off", f"{off:.3f} s", f"{off / args.jobs * 1000:.2f} ms/job"),
        (f"chain of {args.jobs} `true` jobs, sandbox on", f"{on:.3f} s", f"{on / args.jobs * 1000:.2f} ms/job"),
        ("difference per job", "", f"{per_job_ms:+.3f} ms (target < {TARGET_PER_JOB_MS:g} ms)"),
        ("rule set, once per execution", "", f"{rules_ms:.3f} ms"),
        ("one `true` process, plain / confined", "", f"{spawn_off:.3f} / {spawn_on:.3f} ms"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"Landlock ABI {abi}, {platform.machine()}, Python {platform.python_version()}, median of {args.repeat}")
    for name, total, per in rows:
        print(f"{name:<{width}}  {total:>9}  {per}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "abi": abi,
                "machine": platform.machine(),
                "python": platform.python_version(),
                "jobs": args.jobs,
                "repeat": args.repeat,
                "wall_off_s": walls[False],
                "wall_on_s": walls[True],
                "per_job_ms": per_job_ms,
                "ruleset_ms": rules_ms,
                "spawn_plain_ms": spawn_off,
                "spawn_confined_ms": spawn_on,
                "target_per_job_ms": TARGET_PER_JOB_MS,
                "met": per_job_ms < TARGET_PER_JOB_MS,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
