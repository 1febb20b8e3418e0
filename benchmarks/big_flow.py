"""Big flows: load and validate time of one Flow 1.0 flow of 1,000 / 10,000 / 30,000 jobs (issue 22).

Three shapes of ``noop`` jobs: a **chain**, a **fan-out** (one root, every other job on it, one end job on
all of them) and a **layered** DAG (layers of 100 jobs, each job on three of the layer before, as
tests/flows/test_big_flow.py). For each, ``load_project_dir`` (parse every ``.job`` file, build the flow,
validate it) and ``upload_project`` (the same plus zipping the folder, storing the project and its flows in
a fresh SQLite database) are timed, best of ``--repeat``. The per-job column is what shows an O(n²) step:
it must stay flat as the flow grows.

    .venv/bin/python benchmarks/big_flow.py                  # 1,000 / 10,000 / 30,000 jobs, best of 2
    .venv/bin/python benchmarks/big_flow.py --sizes 1000,10000 --repeat 3
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

LAYER_WIDTH = 100


def shape_edges(shape: str, jobs: int) -> dict[str, list[str]]:
    """Job name -> parents, ``jobs`` jobs in all."""
    if shape == "chain":
        return {f"j{i:05d}": [f"j{i - 1:05d}"] if i else [] for i in range(jobs)}
    if shape == "fan-out":
        middle = [f"m{i:05d}" for i in range(jobs - 2)]
        return {"root": [], **{name: ["root"] for name in middle}, "end": middle}
    if shape == "layered":
        edges: dict[str, list[str]] = {}
        layers = (jobs - 1) // LAYER_WIDTH
        for layer in range(layers):
            for i in range(LAYER_WIDTH):
                parents = sorted({(i * 7) % LAYER_WIDTH, (i + 1) % LAYER_WIDTH, (i * 13 + layer) % LAYER_WIDTH})
                edges[f"l{layer:03d}_{i:03d}"] = [f"l{layer - 1:03d}_{p:03d}" for p in parents] if layer else []
        edges["end"] = [f"l{layers - 1:03d}_{i:03d}" for i in range(LAYER_WIDTH)]
        return edges
    raise ValueError(shape)


def write_project(root: Path, edges: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True)
    for name, parents in edges.items():
        text = "type=noop\n" + (f"dependencies={','.join(parents)}\n" if parents else "")
        (root / f"{name}.job").write_text(text)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,30000", help="jobs per flow, comma-separated")
    parser.add_argument("--shapes", default="chain,fan-out,layered")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each case; the best is reported")
    args = parser.parse_args(argv)

    from sudoless.config import Settings
    from sudoless.flows.formats import load_project_dir
    from sudoless.flows.upload import upload_project
    from sudoless.store import Store

    scratch = Path(tempfile.mkdtemp(prefix="big-flow-"))
    print(f"{'shape':<8} {'jobs':>6} {'load+validate s':>15} {'µs/job':>7} {'upload s':>9} {'µs/job':>7}")
    try:
        for shape in args.shapes.split(","):
            for jobs in (int(n) for n in args.sizes.split(",")):
                edges = shape_edges(shape, jobs)
                project = write_project(scratch / f"{shape}-{jobs}", edges)
                load = upload = float("inf")
                for rep in range(args.repeat):
                    start = time.perf_counter()
                    model = load_project_dir(project)
                    load = min(load, time.perf_counter() - start)
                    assert sum(len(flow.nodes) for flow in model.flows.values()) == len(edges)
                    home = scratch / f"home-{shape}-{jobs}-{rep}"
                    store = Store(f"sqlite:///{home / 'sudoless.db'}")
                    start = time.perf_counter()
                    settings = Settings(home=home, timezone="UTC", project_max_files=100_000)  # 30,000 .job files
                    upload_project(store, settings, project, "bench")
                    upload = min(upload, time.perf_counter() - start)
                    store.close()
                n = len(edges)
                print(
                    f"{shape:<8} {n:>6} {load:>15.3f} {load / n * 1e6:>7.0f} {upload:>9.3f} {upload / n * 1e6:>7.0f}",
                    flush=True,
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
