"""Local SGD: every partition trains on its own data for ``sync_every`` steps, then the driver averages.

One Spark job per round of k = ``sync_every`` local steps divides the per-job cost by k (with a
0.1 s job and 4 ms MLP steps, k = 50 leaves about a third of the time to Spark). Each
partition draws its own batches (``batch_size / partitions`` rows, from a permutation seeded by the run's
seed, the epoch and the partition), so an epoch still visits every example once. The optimiser state (Adam's
moments, momentum) travels with the weights and is averaged with them, weighted by the steps each partition
took, which keeps the engine stateless between jobs and so restartable like the synchronous one. The
result converges (Stich 2019; Lin et al. 2020) but is not step-for-step single-process training.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np

from sudoless.nn.arrays import count, take
from sudoless.nn.spark.data import shard
from sudoless.nn.spark.engine import EpochOutcome, SparkFit, StepHook, steps_in
from sudoless.nn.spark.replica import EpochStats, gradient, replica

Array = np.ndarray
#: what one partition sends back: (weights and optimiser state and metric sums, weighted; weight; steps; seconds)
_Part = tuple[Array, float, int, float]


def _sum(a: _Part, b: _Part) -> _Part:
    return a[0].astype(np.float64) + b[0], a[1] + b[1], max(a[2], b[2]), max(a[3], b[3])


def _reduce_round(run: SparkFit, partitions: int, task: Callable[[int, Iterator[Any]], Iterator[_Part]]) -> _Part:
    """One round: every partition's local steps, their results summed on the way back."""
    return run.sc.parallelize(range(partitions), partitions).mapPartitionsWithIndex(task).treeReduce(_sum, depth=2)


class AveragingEngine:
    """Model averaging every ``run.sync_every`` local steps."""

    name = "average"

    def run_epochs(self, run: SparkFit, orders: list[Array], on_step: StepHook) -> list[EpochOutcome]:
        return [EpochOutcome(self.run_epoch(run, run.epoch, order, on_step), run.global_step) for order in orders]

    def run_epoch(self, run: SparkFit, epoch: int, order: Array, on_step: StepHook) -> EpochStats:
        model, optimizer = run.model, run.model.optimizer
        assert optimizer is not None
        model_params = model.packed()[0]
        spec, key, fault, seed = run.spec, run.data.key, run.fault, run.seed
        partitions = run.data.partitions
        local_batch = max(1, run.batch_size // partitions)
        local_steps = steps_in(max(run.data.sizes()), local_batch)
        k = max(1, run.sync_every)
        size = model.count_params()
        names = sorted(optimizer.state_names)
        stats = EpochStats(spec.metrics, objects=model.metrics)
        for round_ in range(steps_in(local_steps, k)):
            first, last = round_ * k, min((round_ + 1) * k, local_steps)
            weights = np.array(model_params)
            state = {name: np.array(value) for name, value in optimizer.state.items()}
            iterations = optimizer.iterations
            step0 = run.global_step

            def task(
                index: int,
                items: Iterator[Any],
                weights: Array = weights,
                state: dict[str, Array] = state,
                first: int = first,
                last: int = last,
                iterations: int = iterations,
                step0: int = step0,
            ) -> Iterator[_Part]:
                list(items)
                if fault is not None:
                    fault.maybe_fail(index, step0)
                net = replica(spec)
                params, grads = net.packed()
                params[...] = weights
                local = spec.new_optimizer()
                local.load_state_arrays({**state, "iterations": np.array(iterations)})
                part = shard(key, index)
                rows = np.random.default_rng([seed, epoch, index]).permutation(count(part.y))
                out = np.empty(size + spec.stats_size, net.dtype)
                sums = np.zeros(spec.stats_size, np.float64)
                seconds, done = 0.0, 0
                for step in range(first, last):
                    pick = np.sort(rows[step * local_batch : (step + 1) * local_batch])
                    if not len(pick):
                        break
                    seconds += gradient(net, take(part.x, pick), take(part.y, pick), out)
                    grads[...] = out[:size] / float(out[size + 1])
                    local.step(params, grads, net.decayed)
                    sums += out[size:]
                    done += 1
                packed = [np.asarray(params, np.float64) * done]
                packed += [np.asarray(local.state.get(n, np.zeros(size)), np.float64) * done for n in names]
                yield np.concatenate([*packed, sums]), float(done), done, seconds

            started = time.perf_counter()
            total, weight, steps, compute = run.retrying(
                f"round {round_} of epoch {epoch}",
                partial(_reduce_round, run, partitions, task),
            )
            wall = time.perf_counter() - started
            if weight:
                model_params[...] = total[:size] / weight
                for i, name in enumerate(names):
                    optimizer.state[name] = (total[size * (i + 1) : size * (i + 2)] / weight).astype(model.dtype)
                optimizer.iterations = iterations + steps
            stats.add(total[size * (len(names) + 1) :])
            per_step, compute_step = wall / max(steps, 1), compute / max(steps, 1)
            for _ in range(steps):
                run.timings.add(per_step, compute_step, 0.0, per_step - compute_step)
            run.timings.examples += sum(
                max(0, min(n, last * local_batch) - first * local_batch) for n in run.data.sizes()
            )
            run.global_step += steps
            on_step(round_, {**stats.logs(), **run.timings.step_logs()})  # a round is what the progress bar counts
            if model.stop_training:
                break
        return stats
