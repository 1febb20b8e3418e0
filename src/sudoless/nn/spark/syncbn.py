"""Synchronised BatchNormalization: the batch statistics of the *global* batch, all-reduced across workers.

Data-parallel training equals single-process training only if every BatchNormalization layer normalises with
the mean and variance of the whole global batch, not of the rows one worker holds. Each such layer therefore
all-reduces, in training mode, its per-channel sums, sums of squares and element count in the forward pass
and the two per-channel means of its backward pass (:class:`~sudoless.nn.layers.normalization.BatchNormalization`
does the arithmetic; this module wires its ``sync`` hook to the engine's transport). The moving statistics
then move by the same global values on every replica.

A worker that holds no row of a step's batch must still take part in every exchange, with zeros: the
:class:`Plan` (the sequence of exchanges and their sizes, recorded once from a one-row dry run) tells it what
to send. The barrier engine exchanges over its socket ring; the job-per-step engine replays the step, one
Spark job per exchange (:class:`Replay`), since a Spark job cannot pause half-way through a forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sudoless.nn.layers.normalization import BatchNormalization
from sudoless.nn.model import Network

Array = np.ndarray
Reduce = Callable[[Array], Array]


def batchnorms(model: Network) -> list[BatchNormalization]:
    """The model's BatchNormalization layers, each once, in the order of its state."""
    seen: dict[int, BatchNormalization] = {}
    for _, layer, _ in model.state_slots():
        if isinstance(layer, BatchNormalization):
            seen.setdefault(id(layer), layer)
    return list(seen.values())


def install(model: Network, reduce: Reduce | None) -> None:
    """Route every BatchNormalization layer's exchanges through ``reduce`` (None: back to local statistics)."""
    for layer in batchnorms(model):
        layer.sync = reduce


@dataclass(frozen=True)
class Exchange:
    """One all-reduce of a training step: which layer, forward (statistics) or backward, how many values."""

    layer: int
    forward: bool
    size: int


def _dummy(shape: Any, dtype: Any) -> Any:
    if isinstance(shape, list):
        return [_dummy(s, dtype) for s in shape]
    return np.zeros((1, *[1 if d is None else int(d) for d in shape]), dtype)


def plan(model: Network) -> list[Exchange]:
    """The exchanges of one training step, in order, from a dry run on one row of zeros (state left as it was)."""
    layers = batchnorms(model)
    if not layers:
        return []
    record: list[Exchange] = []
    saved = model.get_state()
    try:
        for index, layer in enumerate(layers):

            def recorder(vector: Array, index: int = index, layer: BatchNormalization = layer) -> Array:
                forward = vector.size % 2 == 1  # the forward vector carries the count after the two sums
                record.append(Exchange(index, forward, int(vector.size)))
                return np.asarray(vector, np.float64)

            layer.sync = recorder
        output = model.forward(_dummy(model.input_shape, model.dtype), training=True)
        seed: Any = [np.ones_like(o) for o in output] if isinstance(output, list) else np.ones_like(output)
        model.backward(seed)
    finally:
        install(model, None)
        model.set_state(saved)
    return record


class Idle:
    """Take part in a step's exchanges with zeros: for a worker with no row of the batch. It still moves its
    replica's statistics by the global sums, as the other replicas' layers do."""

    def __init__(self, model: Network, exchanges: list[Exchange], reduce: Reduce) -> None:
        self.model, self.exchanges, self.reduce = model, exchanges, reduce

    def run(self) -> None:
        sums = [self.reduce(np.zeros(exchange.size)) for exchange in self.exchanges]
        move_statistics(self.model, self.exchanges, sums)


class Need(Exception):
    """Raised inside a replayed step at the first exchange whose global sum is not known yet."""

    def __init__(self, vector: Array) -> None:
        super().__init__("exchange pending")
        self.vector = vector


class Replay:
    """A reduce for the job-per-step engine: answers the exchanges already summed, stops at the next one."""

    def __init__(self, known: list[Array]) -> None:
        self.known, self.calls = known, 0

    def __call__(self, vector: Array) -> Array:
        if self.calls < len(self.known):
            self.calls += 1
            return self.known[self.calls - 1]
        raise Need(np.asarray(vector, np.float64))


def move_statistics(model: Network, exchanges: list[Exchange], sums: list[Array]) -> None:
    """Move ``model``'s statistics by a step's global forward sums, as the replicas' layers do."""
    layers = batchnorms(model)
    for exchange, total in zip(exchanges, sums, strict=True):
        if exchange.forward:
            channels = (exchange.size - 1) // 2
            count = float(total[-1])
            mean = total[:channels] / count
            var = np.maximum(total[channels : 2 * channels] / count - mean * mean, 0.0)
            layers[exchange.layer].move(mean, var)
