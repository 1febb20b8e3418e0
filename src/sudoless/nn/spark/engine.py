"""What the three engines share: the run they work on, retries, fault injection and the timing record.

An engine trains a group of epochs: ``run_epochs(run, orders, on_step)`` walks the global batches of each
order (a permutation of the global example indices, drawn by the driver exactly as single-process ``fit``
draws it) and returns an :class:`EpochOutcome` per epoch. The job-per-step engines take one epoch at a time,
update ``run.model`` in place and call ``on_step(step, logs)`` as they go.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sudoless.nn.model import Network
from sudoless.nn.spark.data import ShardedData, load
from sudoless.nn.spark.replica import EpochStats, ModelSpec

Array = np.ndarray
log = logging.getLogger("sudoless.nn.spark")

StepHook = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class FaultInjection:
    """Kill the Python worker running partition ``partition`` at global step ``step``, once.

    The marker file records that the fault happened; a retried task finds it and runs normally. For testing
    recovery: the process dies with ``os._exit`` as a crashed or OOM-killed worker would.
    """

    marker: str
    step: int = 1
    partition: int = 0

    def maybe_fail(self, partition: int, step: int) -> None:
        if partition == self.partition and step == self.step and not os.path.exists(self.marker):
            Path(self.marker).write_text(f"killed pid {os.getpid()} at step {step}\n")
            os._exit(17)


@dataclass
class Timings:
    """Per-step wall time split into compute, communication and scheduling (seconds), and job counts."""

    wall: list[float] = field(default_factory=list)
    compute: list[float] = field(default_factory=list)
    communication: list[float] = field(default_factory=list)
    scheduling: list[float] = field(default_factory=list)
    jobs: int = 0
    retries: int = 0
    examples: int = 0

    def add(self, wall: float, compute: float, communication: float, scheduling: float) -> None:
        self.wall.append(wall)
        self.compute.append(compute)
        self.communication.append(communication)
        self.scheduling.append(scheduling)

    def step_logs(self, index: int = -1) -> dict[str, float]:
        """Step ``index``'s split in milliseconds, for the progress bar (and TensorBoard's batch scalars)."""
        return {
            "step_ms": 1000 * self.wall[index],
            "compute_ms": 1000 * self.compute[index],
            "comm_ms": 1000 * self.communication[index],
            "spark_ms": 1000 * self.scheduling[index],
        }

    def summary(self) -> dict[str, Any]:
        def median_ms(values: list[float]) -> float | None:
            return round(1000 * statistics.median(values), 3) if values else None

        total = sum(self.wall)
        return {
            # where the steps' time went, in seconds: the model's arithmetic, the all-reduce over sockets
            # (barrier engine), and Spark's share (job scheduling, shipping weights, gathering results)
            "compute_seconds": round(sum(self.compute), 3),
            "communication_seconds": round(sum(self.communication), 3),
            "overhead_seconds": round(sum(self.scheduling), 3),
            "steps": len(self.wall),
            "jobs": self.jobs,
            "retries": self.retries,
            "seconds": round(total, 3),
            "examples": self.examples,
            "samples_per_second": round(self.examples / total, 1) if total else None,
            "median_step_ms": median_ms(self.wall),
            "median_compute_ms": median_ms(self.compute),
            "median_communication_ms": median_ms(self.communication),
            "median_scheduling_ms": median_ms(self.scheduling),
        }


@dataclass
class SparkFit:
    """One ``fit_spark`` call as the engines see it."""

    sc: Any
    model: Network
    spec: ModelSpec
    data: ShardedData
    batch_size: int
    seed: int
    retries: int = 3
    fault: FaultInjection | None = None
    sync_every: int = 8
    #: truncated BPTT: the optimiser steps after every window of this many time steps of a batch
    tbptt: int | None = None
    timings: Timings = field(default_factory=Timings)
    global_step: int = 0
    epoch: int = 0
    last_stage: dict[str, Any] = field(default_factory=dict)

    def retrying(self, what: str, job: Callable[[], Any]) -> Any:
        """Run a Spark job, again after a failure (reloading the data when a worker lost it), up to ``retries``."""
        attempt = 0
        while True:
            try:
                self.timings.jobs += 1
                return job()
            except Exception as exc:  # a failed Spark job surfaces as a Py4J or Python error of any class
                attempt += 1
                if attempt > self.retries:
                    raise
                self.timings.retries += 1
                message = str(exc)
                log.warning(
                    "%s failed (attempt %d of %d): %s",
                    what,
                    attempt,
                    self.retries + 1,
                    message.strip().splitlines()[0][:300] if message.strip() else type(exc).__name__,
                )
                if "ShardMissing" in message:
                    load(self.data)
                time.sleep(min(0.5 * attempt, 2.0))


@dataclass
class EpochOutcome:
    """One epoch's result. ``step_logs`` are for callbacks when the steps could not be reported as they ran;
    ``weights``, ``state`` and ``layer_state`` are the model, the optimiser and the layers' moving statistics
    at the epoch's end when the driver's model does not
    hold them yet (several epochs in one barrier stage)."""

    stats: EpochStats
    end_step: int
    step_logs: list[dict[str, float]] | None = None
    weights: Array | None = None
    state: dict[str, Array] | None = None
    layer_state: dict[str, Array] | None = None


class Engine(Protocol):
    """Trains the epochs whose permutations are ``orders``, from the driver model's current weights."""

    name: str

    def run_epochs(self, run: SparkFit, orders: list[Array], on_step: StepHook) -> list[EpochOutcome]: ...


def steps_in(count: int, batch_size: int) -> int:
    return -(-count // batch_size)
