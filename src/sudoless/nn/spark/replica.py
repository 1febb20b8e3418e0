"""A model's replica inside a Spark task: rebuilt from its architecture once per worker, fed weights per step.

The driver ships a :class:`ModelSpec` (architecture JSON, input shape, loss, metrics, optimiser config), never
the model object; a worker builds the replica the first time it sees a spec and keeps it, so a step costs only
copying the flat weight vector in. Parameters pack into the flat vector in the same order on every process,
so the driver's ``flat_params`` and a replica's line up element for element.

A step's result travels as one float32 vector: the gradient of the *summed* loss over the rows this task
holds (the mean-loss gradient times the number of items), followed by the statistics
``[loss sum, items, metric totals and counts ...]``. Summing these vectors over tasks and dividing the
gradient part by the total items gives exactly the mean-loss gradient of the whole global batch, which is
what single-process training computes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.arrays import cast_input, count
from sudoless.nn.layers.base import layer_config, layer_from_config
from sudoless.nn.losses import get_loss, loss_config
from sudoless.nn.metrics import Metric, get_metric
from sudoless.nn.model import Network
from sudoless.nn.optimizers import Optimizer, get_optimizer
from sudoless.nn.outputs import OutputLoss, OutputMetric, WeightedLosses
from sudoless.nn.threads import ensure_threads, set_threads

Array = np.ndarray


@dataclass(frozen=True)
class ModelSpec:
    """Everything a worker needs to rebuild a compiled model, as plain data."""

    architecture: str
    input_shape: Any
    loss: dict[str, Any]
    metrics: tuple[str, ...]
    optimizer: dict[str, Any]
    #: BLAS threads on the workers: the driver's count (``threads:``, ``--threads``, ``nn.set_threads``).
    threads: int = 1
    #: A model with several outputs: its losses, loss weights and metrics per output (``compile``'s lists).
    outputs: dict[str, Any] | None = None

    @classmethod
    def of(cls, model: Network) -> ModelSpec:
        loss, optimizer = model._require_compiled()
        for metric in model.metrics:
            # the workers send sums per step (these need the whole epoch's counts) and rebuild metrics by name
            if isinstance(metric, OutputLoss):
                continue
            inner = metric.metric if isinstance(metric, OutputMetric) else metric
            if not inner.additive or inner.get_config() != type(inner)().get_config():
                raise InputError(f"metric {metric.name} is not computed on Spark yet; train locally or drop it")
        outputs = loss.compile_config(model.metrics) if isinstance(loss, WeightedLosses) else None
        return cls(
            json.dumps(layer_config(model), sort_keys=True),
            model.input_shape,
            loss_config(loss) if outputs is None else {},
            tuple(m.name for m in model.metrics),
            optimizer.get_config(),
            ensure_threads(),
            outputs,
        )

    @property
    def key(self) -> str:
        text = json.dumps(
            [self.architecture, self.input_shape, self.loss, self.metrics, self.outputs], sort_keys=True, default=str
        )
        return hashlib.sha1(text.encode()).hexdigest()

    def build(self) -> Network:
        set_threads(self.threads)
        model = layer_from_config(json.loads(self.architecture))
        assert isinstance(model, Network)
        model.build(self.input_shape)
        if self.outputs is not None:
            outputs = self.outputs
            model.compile(self.optimizer, outputs["loss"], outputs["metrics"], loss_weights=outputs["loss_weights"])
        else:
            model.compile(self.optimizer, get_loss(self.loss), list(self.metrics))
        return model

    def new_optimizer(self) -> Optimizer:
        optimizer = get_optimizer(dict(self.optimizer))
        optimizer.segments = replica(self).segments  # per-tensor clipnorm needs the tensors' bounds
        return optimizer

    @property
    def stats_size(self) -> int:
        return 2 + 2 * len(self.metrics)


_REPLICAS: dict[str, Network] = {}


def replica(spec: ModelSpec) -> Network:
    """This worker's replica of the model ``spec`` describes, built on first use."""
    model = _REPLICAS.get(spec.key)
    if model is None:
        model = _REPLICAS[spec.key] = spec.build()
    return model


def gradient(model: Network, x: Array, y: Array, out: Array, idle: Any = None) -> float:
    """Write ``[summed-loss gradient, loss sum, items, metric totals/counts]`` into ``out``; returns seconds.

    A task with no rows of this batch contributes zeros (and, with synchronised BatchNormalization, takes part
    in the step's exchanges through ``idle``, a :class:`~sudoless.nn.spark.syncbn.Idle`). With synchronised
    BatchNormalization the loss gradient is scaled to the summed loss *before* the backward pass, because the
    layers' backward exchanges add up every worker's terms and so need them on one scale.
    """
    started = time.perf_counter()
    size = model.count_params()
    out[...] = 0.0
    if not count(y) and idle is not None:
        idle.run()
    if count(y):
        loss = model.loss
        assert loss is not None
        xb = cast_input(x, model.dtype)
        output = model.forward(xb, training=True)
        mask = model.output_mask
        value = loss.forward(output, y, mask)
        total = getattr(loss, "_total", None)
        items = float(total) if total is not None else float(count(output))
        if idle is not None:
            scale = np.asarray(items, model.dtype)
            grad = loss.backward()
            model.backward([g if g is None else g * scale for g in grad] if isinstance(grad, list) else grad * scale)
            out[:size] = model.packed()[1]
        else:
            model.backward(loss.backward())
            np.multiply(model.packed()[1], np.asarray(items, model.dtype), out=out[:size])
        out[size] = value * items
        out[size + 1] = items
        for i, metric in enumerate(m.fresh() for m in model.metrics):
            metric.update(output, y, mask, loss, value, items)
            out[size + 2 + 2 * i] = metric.total
            out[size + 3 + 2 * i] = metric.count
    return time.perf_counter() - started


def pieces(steps: int, length: int | None) -> list[slice | None]:
    """The time windows truncated BPTT cuts a batch into (``[None]``: the whole batch, no truncation)."""
    if not length:
        return [None]
    return [slice(start, start + length) for start in range(0, steps, length)]


def cut(x: Any, y: Any, piece: slice | None) -> tuple[Any, Any]:
    """The rows' time window ``piece`` (inputs and targets are ``(batch, time, ...)``)."""
    return (x, y) if piece is None else (x[:, piece], y[:, piece])


@dataclass
class EpochStats:
    """Loss and metric sums over the steps of an epoch so far; ``logs()`` gives ``fit``'s log dictionary."""

    metrics: tuple[str, ...]
    loss_sum: float = 0.0
    items: float = 0.0
    #: The driver model's metric objects (a multi-output model's are per output and not found by name).
    objects: Sequence[Metric] = ()

    def __post_init__(self) -> None:
        self.totals = np.zeros(2 * len(self.metrics), np.float64)

    def add(self, stats: Array) -> None:
        self.loss_sum += float(stats[0])
        self.items += float(stats[1])
        self.totals += np.asarray(stats[2:], np.float64)

    def logs(self) -> dict[str, float]:
        logs = {"loss": self.loss_sum / self.items if self.items else float("nan")}
        for i, name in enumerate(self.metrics):
            metric = self.objects[i].fresh() if self.objects else get_metric(name)
            target = metric.metric if isinstance(metric, OutputMetric) else metric  # it reports its inner one's
            target.total, target.count = float(self.totals[2 * i]), float(self.totals[2 * i + 1])
            logs[metric.name] = metric.result()
        return logs
