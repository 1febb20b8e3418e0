"""Models with several outputs: a loss and a weight per output, and metrics named after the output.

A multi-output model is compiled into one :class:`WeightedLosses`, a :class:`~sudoless.nn.losses.Loss` over the
list of outputs whose value is ``Σ w_k L_k`` and whose backward hands each output its own loss gradient times
its weight; the training loop, evaluation and the gradient checks then treat it like any other loss. What
is reported per output (``<output>_loss``, ``<output>_<metric>``, as Keras names them) are
:class:`~sudoless.nn.metrics.Metric` objects reading from it, accumulated over an epoch like any other metric.
An output whose loss is None is computed but not trained (nor reported).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.losses import Loss, get_loss, loss_config
from sudoless.nn.metrics import Metric, get_metric, metric_config

Array = np.ndarray


class WeightedLosses(Loss):
    """``Σ w_k L_k`` over the outputs that have a loss; ``values`` and ``totals`` keep each output's last batch.

    ``_total`` (what ``fit`` weights a batch's value by when averaging over an epoch) is the number of
    examples, so the epoch's loss is the weighted sum of the per-output losses whenever each output counts the
    same number of items per example.
    """

    name = "weighted_losses"

    def __init__(self, names: Sequence[str], losses: Sequence[Loss | None], weights: Sequence[float]) -> None:
        self.names, self.losses, self.weights = list(names), list(losses), [float(w) for w in weights]
        self.values: list[float] = [0.0] * len(self.names)
        self.totals: list[float] = [0.0] * len(self.names)

    def forward(self, output: Any, target: Any, mask: Any = None, sample_weight: Any = None) -> float:
        """``sample_weight``: one array for every output, or a list with one per output (None: unweighted)."""
        masks = mask if mask is not None else [None] * len(self.names)
        weights = sample_weight if isinstance(sample_weight, list | tuple) else [sample_weight] * len(self.names)
        if len(weights) != len(self.names):
            raise InputError(f"{len(weights)} sample weight arrays for {len(self.names)} outputs; give one per output")
        total = 0.0
        for k, loss in enumerate(self.losses):
            if loss is None:
                continue
            self.values[k] = loss.forward(output[k], target[k], masks[k], weights[k])
            count = getattr(loss, "_total", None)
            self.totals[k] = float(count) if count is not None else float(len(output[k]))
            total += self.weights[k] * self.values[k]
        self._total = float(len(output[0]))
        return total

    def backward(self) -> Any:
        grads: list[Array | None] = []
        for loss, weight in zip(self.losses, self.weights, strict=True):
            if loss is None:
                grads.append(None)
                continue
            grad = loss.backward()
            grads.append(grad if weight == 1.0 else grad * np.asarray(weight, grad.dtype))
        return grads

    def activate(self, output: Any) -> Any:
        return [o if loss is None else loss.activate(o) for loss, o in zip(self.losses, output, strict=True)]

    def compile_config(self, metrics: Sequence[Metric]) -> dict[str, Any]:
        """What ``compile`` needs to rebuild this (saved with the model): lists in output order."""
        per_output: list[list[Any]] = [[] for _ in self.names]
        for metric in metrics:
            if isinstance(metric, OutputMetric):
                per_output[metric.index].append(metric_config(metric.metric))
        return {
            "loss": [None if loss is None else loss_config(loss) for loss in self.losses],
            "loss_weights": list(self.weights),
            "metrics": per_output,
        }


class OutputLoss(Metric):
    """The loss of one output, logged as ``<output>_loss``."""

    def __init__(self, index: int, output: str) -> None:
        self.index, self.output, self.name = index, output, f"{output}_loss"
        super().__init__()

    def update(
        self, output: Array, target: Array, mask: Array | None, loss: Loss, loss_value: float, count: float
    ) -> None:
        assert isinstance(loss, WeightedLosses)
        self.total += loss.values[self.index] * loss.totals[self.index]
        self.count += loss.totals[self.index]

    def fresh(self) -> Metric:
        return OutputLoss(self.index, self.output)


class OutputMetric(Metric):
    """``metric`` measured on one output of a multi-output model, logged as ``<output>_<metric>``."""

    def __init__(self, metric: Metric, index: int, output: str) -> None:
        self.metric, self.index, self.output = metric, index, output
        self.name = f"{output}_{metric.name}"
        super().__init__()

    def reset(self) -> None:
        self.metric.reset()
        self.total = self.count = 0.0

    def update(
        self, output: Array, target: Array, mask: Array | None, loss: Loss, loss_value: float, count: float
    ) -> None:
        assert isinstance(loss, WeightedLosses)
        k = self.index
        inner = loss.losses[k]
        if inner is None:
            raise InputError(f"output '{self.output}' has no loss, so {self.metric.name} cannot be measured on it")
        self.metric.update(
            output[k], target[k], None if mask is None else mask[k], inner, loss.values[k], loss.totals[k]
        )
        self.total, self.count = self.metric.total, self.metric.count

    def result(self) -> float:
        return self.metric.result()

    def fresh(self) -> Metric:
        return OutputMetric(self.metric.fresh(), self.index, self.output)


def _per_output(spec: Any, names: list[str], what: str, is_list: bool) -> list[Any]:
    """``spec`` given once for all outputs, as a list in output order, or as a dict by output name."""
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise InputError(f"{what}: unknown output '{unknown[0]}'; the outputs are {', '.join(names)}")
        return [spec.get(name) for name in names]
    if is_list:
        if len(spec) != len(names):
            raise InputError(
                f"the model has {len(names)} outputs ({', '.join(names)}) but {len(spec)} {what} "
                "were given; give one per output, or a dict by output name"
            )
        return list(spec)
    return [spec] * len(names)


def _one_loss(spec: Any) -> Loss | None:
    if spec is None:
        return None
    # A Loss keeps its last batch on itself, so each output needs an instance of its own.
    return copy.copy(spec) if isinstance(spec, Loss) else get_loss(spec)


def compile_outputs(
    names: list[str], loss: Any, loss_weights: Any, metrics: Any
) -> tuple[WeightedLosses, list[Metric]]:
    """The loss and the metrics of a model whose outputs are ``names``, from ``compile``'s arguments."""
    losses = [_one_loss(s) for s in _per_output(loss, names, "losses", isinstance(loss, list | tuple))]
    if all(item is None for item in losses):
        raise InputError("every output's loss is None: give at least one output a loss")
    if loss_weights is None:
        weights = [1.0] * len(names)
    else:
        given = _per_output(loss_weights, names, "loss_weights", isinstance(loss_weights, list | tuple))
        weights = [1.0 if w is None else float(w) for w in given]
    nested = isinstance(metrics, list | tuple) and any(isinstance(m, list | tuple) for m in metrics)
    if isinstance(metrics, dict) or nested:
        per_output = [list(m or []) for m in _per_output(metrics, names, "metric lists", nested)]
    else:
        per_output = [list(metrics)] * len(names)
    combined = WeightedLosses(names, losses, weights)
    reported: list[Metric] = [OutputLoss(k, name) for k, name in enumerate(names) if losses[k] is not None]
    for k, (name, specs) in enumerate(zip(names, per_output, strict=True)):
        reported.extend(
            OutputMetric(get_metric(s).fresh() if isinstance(s, Metric) else get_metric(s), k, name) for s in specs
        )
    return combined, reported
