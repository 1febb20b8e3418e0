"""Many executions at once: a 20-job flow whose every job notes that it ran, submitted many times, for
tests/flows/test_many_executions.py and benchmarks/queue_drain.py.

Each job appends ``<exec id> <job>`` to one file; a line is shorter than the pipe buffer and the file is
opened for appending, so lines from concurrent jobs never mix, and the file is the record of every start.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from flows.harness import write_project
from sudoless.config import Settings
from sudoless.flows.executions import submit_flow
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.upload import upload_project
from sudoless.store import Store

FLOW = "finish"
LAYER = 6


def job_names(jobs: int) -> list[str]:
    """``start``, the layered middle, ``finish``: ``jobs`` names in all (at least 3)."""
    return ["start", *(f"step{i:02d}" for i in range(jobs - 2)), FLOW]


def write_queue_project(root: Path, starts: Path, jobs: int = 20) -> Path:
    """One Flow 1.0 flow, ``finish``: ``start``, then layers of :data:`LAYER` jobs each on two of the layer
    before (the first layer on ``start``), then ``finish`` on every job nothing else depends on."""
    names = job_names(jobs)
    middle = names[1:-1]
    parents: dict[str, list[str]] = {"start": []}
    for m, name in enumerate(middle):
        if m < LAYER:
            parents[name] = ["start"]
        else:
            base, position = m // LAYER * LAYER - LAYER, m % LAYER
            parents[name] = sorted({middle[base + position], middle[base + (position + 1) % LAYER]})
    used = {parent for each in parents.values() for parent in each}
    parents[FLOW] = [name for name in middle if name not in used] or ["start"]
    files: dict[str, str] = {}
    for name in names:
        text = f'type=command\ncommand=sh -c "echo ${{azkaban.flow.execid}} {name} >> {starts}"\n'
        if parents[name]:
            text += f"dependencies={','.join(parents[name])}\n"
        files[f"{name}.job"] = text
    return write_project(root, files)


def submit_many(store: Store, settings: Settings, project: Path, name: str, executions: int) -> list[int]:
    """Upload ``project`` as ``name`` and queue ``executions`` runs of its flow (concurrentOption ignore)."""
    upload_project(store, settings, project, "tester", name=name)
    options = ExecutionOptions(concurrent_option="ignore", parallel=settings.parallel)
    return [submit_flow(store, settings, name, FLOW, options, "tester") for _ in range(executions)]


def starts_per_job(starts: Path) -> Counter[tuple[int, str]]:
    """How many times each (exec id, job) started, from the file the jobs append to."""
    counted: Counter[tuple[int, str]] = Counter()
    for line in starts.read_text().splitlines():
        exec_id, job = line.split()
        counted[int(exec_id), job] += 1
    return counted
