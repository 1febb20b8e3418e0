"""The low-latency engine: one long-lived barrier task per partition, gradients all-reduced over TCP.

This is how TorchDistributor (``pyspark.ml.torch.distributor``) and XGBoost's ``xgboost.spark`` avoid a Spark job
per step, each running its training in one barrier stage:
one barrier stage (for ``epochs_per_stage`` epochs, default all of them) gang-schedules a task per partition;
each task reads its partition once,
binds a socket, and ``BarrierTaskContext.allGather`` (slow, about 1 s, so used once) swaps the addresses;
then every step the tasks compute their share of the global batch's gradient, sum it around a ring of sockets
(:mod:`sudoless.nn.spark.allreduce`), and each applies the same optimiser step to its replica. The sums are
bit-identical on every rank, so the replicas never drift apart, and the semantics are the synchronous
engine's: single-process training on the global batches.

Limits, as for every barrier design: all partitions need a free task slot at once, executors must reach each
other on the ports they bind, and one failed task fails the whole stage. The driver then runs the stage again
from the weights it had at the stage's start, which gives the same result. Callbacks see each step's and each
epoch's logs when the stage has returned (rank 0 returns the weights at every epoch's end, so validation,
checkpoints and early stopping still act per epoch; a stop keeps that epoch's weights).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.spark.allreduce import Ring, listen
from sudoless.nn.spark.data import Shard
from sudoless.nn.spark.engine import EpochOutcome, SparkFit, StepHook, steps_in
from sudoless.nn.spark.replica import EpochStats, cut, gradient, pieces, replica
from sudoless.nn.spark.syncbn import Idle, install, plan

Array = np.ndarray


def stage(run: SparkFit, orders: list[Array]) -> list[dict[str, Any]]:
    """Run ``len(orders)`` epochs as one barrier stage; one result per rank (rank 0's carries the weights)."""
    from pyspark import BarrierTaskContext

    model, optimizer = run.model, run.model.optimizer
    assert optimizer is not None
    spec, starts, fault, batch_size = run.spec, run.data.starts, run.fault, run.batch_size
    weights = np.array(model.packed()[0])
    state = {**{k: np.array(v) for k, v in optimizer.state.items()}, "iterations": np.array(optimizer.iterations)}
    layer_state = model.get_state()
    orders = [order.astype(np.int64) for order in orders]
    step0 = run.global_step
    windows = pieces(int(run.data.sample_shape[0]) if run.tbptt else 0, run.tbptt)
    # In local mode every task runs on this machine: keep the ring on loopback whatever address Spark bound.
    loopback = str(run.sc.master).startswith("local")

    def task(items: Iterator[Any]) -> Iterator[dict[str, Any]]:
        entered = time.perf_counter()
        context = BarrierTaskContext.get()
        rank = context.partitionId()
        index, x, y = next(iter(items))
        part = Shard(starts[index], x, y)
        host = "127.0.0.1" if loopback else context.getTaskInfos()[rank].address.rsplit(":", 1)[0]
        server = listen(host)
        addresses = context.allGather(f"{host}:{server.getsockname()[1]}")
        ring = Ring(rank, addresses, server)
        net = replica(spec)
        params, grads = net.packed()
        params[...] = weights
        local = spec.new_optimizer()
        local.load_state_arrays(state)
        net.set_state(layer_state)
        # Synchronised BatchNormalization: its exchanges go round the same ring, timed as communication.
        exchanged = [0.0]

        def reduce(vector: Array) -> Array:
            began = time.perf_counter()
            summed = ring.allreduce(np.array(vector, np.float64))
            exchanged[0] += time.perf_counter() - began
            return summed

        exchanges = plan(net)
        idle = Idle(net, exchanges, reduce) if exchanges else None
        install(net, reduce if exchanges else None)
        if windows != [None]:
            net.set_stateful(True)  # truncated BPTT: the state goes on from window to window of a batch
        size = net.count_params()
        vector = np.empty(size + spec.stats_size, net.dtype)
        epochs: list[dict[str, Any]] = []
        global_step = step0
        ready = time.perf_counter()
        try:
            for order in orders:
                steps = steps_in(len(order), batch_size)
                stats = np.zeros((steps, spec.stats_size), np.float64)
                times = np.zeros((steps, 3), np.float64)
                for step in range(steps):
                    if fault is not None:
                        fault.maybe_fail(index, global_step)
                    started = time.perf_counter()
                    xb, yb = part.rows(order[step * batch_size : (step + 1) * batch_size])
                    net.reset_states()
                    compute = communication = 0.0
                    for window in windows:
                        exchanged[0] = 0.0
                        xw, yw = cut(xb, yb, window)
                        compute += gradient(net, xw, yw, vector, idle) - exchanged[0]
                        comm_started = time.perf_counter()
                        ring.allreduce(vector)
                        comm_ended = time.perf_counter()
                        communication += comm_ended - comm_started + exchanged[0]
                        grads[...] = vector[:size] / vector[size + 1]
                        local.step(params, grads, net.decayed)
                        compute += time.perf_counter() - comm_ended
                        stats[step] += vector[size:]
                    times[step] = (compute, communication, time.perf_counter() - started)
                    global_step += 1
                epoch: dict[str, Any] = {
                    "stats": stats,
                    "times": times,
                    "checksum": float(np.sum(params, dtype=np.float64)),
                }
                if rank == 0:
                    epoch["weights"] = np.array(params)
                    epoch["state"] = local.state_arrays()
                    epoch["layer_state"] = net.get_state()
                epochs.append(epoch)
        finally:
            install(net, None)
            net.set_stateful(False)
            ring.close()
        yield {"rank": rank, "epochs": epochs, "setup": ready - entered, "bytes_sent": ring.stats.bytes_sent}

    return run.data.rdd.barrier().mapPartitions(task).collect()


def _pace(per_rank: list[Array]) -> Array:
    """Per step: the slowest rank's compute and wall time, and the *fastest* rank's all-reduce time.

    A rank that finishes its gradient early waits inside the all-reduce for the others, so its all-reduce time
    includes the imbalance; the rank that arrived last measures the exchange alone. The wait of the others
    then shows up as the step's remainder (wall - compute - communication).
    """
    stacked = np.stack(per_rank)
    return np.stack([stacked[:, :, 0].max(0), stacked[:, :, 1].min(0), stacked[:, :, 2].max(0)], axis=1)


class BarrierEngine:
    """One barrier stage per ``epochs_per_stage`` epochs, a ring all-reduce per step."""

    name = "barrier"

    def run_epochs(self, run: SparkFit, orders: list[Array], on_step: StepHook) -> list[EpochOutcome]:
        slots = int(run.sc.defaultParallelism)
        if run.data.partitions > slots:
            raise InputError(
                f"the barrier engine needs a task slot per partition: {run.data.partitions} partitions but the "
                f"cluster has {slots} slots; use fewer partitions or more executors"
            )
        started = time.perf_counter()
        results = run.retrying(f"barrier stage at step {run.global_step}", lambda: stage(run, orders))
        wall = time.perf_counter() - started
        results.sort(key=lambda r: r["rank"])
        times = [_pace([r["epochs"][e]["times"] for r in results]) for e in range(len(orders))]
        in_steps = float(sum(t[:, 2].sum() for t in times))
        steps_total = sum(len(t) for t in times)
        launch = (wall - in_steps) / max(steps_total, 1)  # stage launch, data load, rendezvous, spread over steps
        outcomes = []
        for e, order in enumerate(orders):
            checksums = {r["epochs"][e]["checksum"] for r in results}
            if len(checksums) != 1:
                raise RuntimeError(f"barrier replicas disagree: checksums {sorted(checksums)}")
            chief = results[0]["epochs"][e]
            stats = EpochStats(run.spec.metrics, objects=run.model.metrics)
            logs = []
            for step, (compute, comm, step_wall) in enumerate(times[e]):
                run.timings.add(step_wall + launch, compute, comm, step_wall - compute - comm + launch)
                stats.add(chief["stats"][step])
                logs.append({**stats.logs(), **run.timings.step_logs()})
            run.timings.examples += len(order)
            run.global_step += len(times[e])
            outcomes.append(
                EpochOutcome(stats, run.global_step, logs, chief["weights"], chief["state"], chief["layer_state"])
            )
        run.last_stage = {
            "stage_wall": wall,
            "stage_in_steps": in_steps,
            "stage_launch": wall - in_steps,
            "setup": max(r["setup"] for r in results),
            "bytes_sent_per_rank": results[0]["bytes_sent"],
        }
        return outcomes
