"""A big flow is correct: a generated 10,000-job layered DAG loads, validates and runs, every job once.

The jobs are ``noop`` so that the test measures the scheduler, not process starts; the ordering check
proves every job started after all its parents ended. Time and memory at 1,000 / 10,000 / 30,000 jobs are
benchmarks/big_flow.py's business, not this test's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sudoless.config import Settings
from sudoless.flows.executions import submit_flow
from sudoless.flows.executor import Executor
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.runner import FlowRunner, RunNode
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store.status import Status

LAYERS, WIDTH = 100, 100


def layered_dag(layers: int, width: int) -> dict[str, list[str]]:
    """Job name -> parents: each job of a layer depends on two or three jobs of the layer before it."""
    edges: dict[str, list[str]] = {}
    for layer in range(layers):
        for i in range(width):
            parents = sorted({(i * 7) % width, (i + 1) % width, (i * 13 + layer) % width}) if layer else []
            edges[f"l{layer:03d}_{i:03d}"] = [f"l{layer - 1:03d}_{p:03d}" for p in parents]
    edges["end"] = [f"l{layers - 1:03d}_{i:03d}" for i in range(width)]
    return edges


def write_project(root: Path, edges: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True)
    for name, parents in edges.items():
        text = "type=noop\n" + (f"dependencies={','.join(parents)}\n" if parents else "")
        (root / f"{name}.job").write_text(text)
    return root


def test_ten_thousand_job_layered_dag_runs_every_job_once(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every job runs once, after all its parents; and the runner's work per job is a constant, counted in
    store statements and node examinations rather than in seconds (which a loaded machine stretches): a
    runner that re-read the execution's rows, or re-examined every node, at each job's end would be
    quadratic and show here as thousands per job."""
    edges = layered_dag(LAYERS, WIDTH)
    assert len(edges) == LAYERS * WIDTH + 1
    project = write_project(tmp_path / "big", edges)
    store = Store(f"sqlite:///{tmp_path / 'sudoless.db'}")
    started = time.monotonic()
    _, _, model = upload_project(store, settings, project, "tester")
    assert model.top_flows == ["end"]
    assert len(model.flow("end").nodes) == len(edges)
    exec_id = submit_flow(store, settings, model.name, "end", ExecutionOptions(parallel=10), "tester")
    statements = examined = 0

    def count_statement(*_: object) -> None:
        nonlocal statements
        statements += 1

    examine = FlowRunner._examine

    def counted_examine(runner: FlowRunner, node: RunNode) -> None:
        nonlocal examined
        examined += 1
        examine(runner, node)

    monkeypatch.setattr(FlowRunner, "_examine", counted_examine)
    sa.event.listen(store.engine, "before_cursor_execute", count_statement)
    executor = Executor(store, settings)
    try:
        assert executor.claim_and_run(exec_id) == Status.SUCCEEDED
    finally:
        executor.stop(wait=False)
        sa.event.remove(store.engine, "before_cursor_execute", count_statement)
    jobs = len(edges)
    # a node is examined once per parent that ends (at most 3 here, 100 for "end") and once at the start
    assert examined <= jobs + sum(len(parents) for parents in edges.values()), f"{examined} examinations"
    # a job's rows change at most three times (QUEUED, RUNNING, its end) and its log is one insert; the
    # control polls (every 0.5 s) add a few hundred at most
    assert statements <= 4.5 * jobs, f"{statements} store statements for {jobs} jobs"
    runs = store.job_runs.of(exec_id)
    assert sorted(r.nested_id for r in runs) == sorted(edges)  # every job, each once
    assert {(r.status, r.attempt) for r in runs} == {(Status.SUCCEEDED, 0)}
    by_name = {r.nested_id: r for r in runs}
    for name, parents in edges.items():
        assert sorted(by_name[name].parents) == sorted(parents), name
        assert all(by_name[name].start_time >= by_name[p].end_time for p in parents), name
    print(
        f"10,001 noop jobs: {time.monotonic() - started:.1f} s from upload to the end of the run, "
        f"{statements / jobs:.2f} store statements and {examined / jobs:.2f} examinations per job"
    )
    store.close()


class CountingGraph(dict[str, "CountingDeps"]):
    """A dependency graph that counts what the cycle check reads: node lookups and dependency items."""

    reads = 0

    def __contains__(self, name: object) -> bool:
        CountingGraph.reads += 1
        return super().__contains__(name)

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        CountingGraph.reads += 1
        return super().get(name, default)

    def __getitem__(self, name: str) -> CountingDeps:
        CountingGraph.reads += 1
        return super().__getitem__(name)


class CountingDeps(tuple[str, ...]):
    def __iter__(self) -> Iterator[str]:
        for name in super().__iter__():
            CountingGraph.reads += 1
            yield name

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
        CountingGraph.reads += 1
        return super().__getitem__(index)


def test_cycle_check_of_a_wide_fan_in_is_linear() -> None:
    """One job on 2,000 others: the cycle check took minutes at 20,000 when it was quadratic in a node's
    dependencies (benchmarks/README.md, big_flow.py), rebuilding the wide node's list at each of its
    dependencies. Counted in reads of the graph, linear is a few per edge; quadratic would be millions."""
    from sudoless.flows.formats.validate import find_cycle

    middle = [f"m{i:05d}" for i in range(2_000)]
    plain = {"root": [], **{name: ["root"] for name in middle}, "end": middle}
    graph = CountingGraph({name: CountingDeps(deps) for name, deps in plain.items()})
    edges = sum(len(deps) for deps in plain.values())
    CountingGraph.reads = 0
    assert find_cycle(graph) is None
    assert CountingGraph.reads <= 10 * (edges + len(plain)), f"{CountingGraph.reads} reads for {edges} edges"
    graph["root"] = CountingDeps(["end"])  # and a cycle through the wide node is still found
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and "end" in cycle and "root" in cycle
