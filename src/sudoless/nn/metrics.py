"""Training metrics, accumulated over the batches of an epoch and weighted by how many items each batch had."""

from __future__ import annotations

import math

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.losses import BinaryCrossEntropy, CrossEntropy, Loss, SoftmaxCrossEntropy

Array = np.ndarray


class Metric:
    """A running mean: ``update`` with one batch, ``result`` for the epoch so far, ``reset`` between epochs."""

    name = "metric"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update(
        self, output: Array, target: Array, mask: Array | None, loss: Loss, loss_value: float, count: float
    ) -> None:
        raise NotImplementedError

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def fresh(self) -> Metric:
        """A new metric of the same kind with nothing counted (evaluation counts apart from training)."""
        return type(self)()


class Accuracy(Metric):
    """Fraction of correct predictions: arg-max class for softmax losses, a 0.5 threshold for binary ones."""

    name = "accuracy"

    def update(
        self, output: Array, target: Array, mask: Array | None, loss: Loss, loss_value: float, count: float
    ) -> None:
        target = np.asarray(target)
        if isinstance(loss, SoftmaxCrossEntropy | CrossEntropy):
            predicted = np.argmax(output, axis=-1)
            truth = np.argmax(target, axis=-1) if target.shape == output.shape else target.reshape(predicted.shape)
        elif isinstance(loss, BinaryCrossEntropy):
            predicted = loss.activate(output) > 0.5
            truth = target.reshape(predicted.shape) > 0.5
        else:
            raise InputError(f"accuracy needs a classification loss, not {loss.name}")
        hits = predicted == truth
        if mask is not None:
            weights = np.broadcast_to(mask.reshape(mask.shape + (1,) * (hits.ndim - mask.ndim)), hits.shape)
            self.total += float(np.sum(hits & weights))
            self.count += float(np.sum(weights))
        else:
            self.total += float(np.sum(hits))
            self.count += float(hits.size)


class Perplexity(Metric):
    """``exp`` of the mean cross-entropy in nats: the effective number of choices per predicted token."""

    name = "perplexity"

    def update(
        self, output: Array, target: Array, mask: Array | None, loss: Loss, loss_value: float, count: float
    ) -> None:
        if not isinstance(loss, SoftmaxCrossEntropy | CrossEntropy):
            raise InputError(f"perplexity needs a cross-entropy loss, not {loss.name}")
        self.total += loss_value * count
        self.count += count

    def result(self) -> float:
        return math.exp(min(self.total / self.count, 700.0)) if self.count else float("nan")


class MeanAbsoluteError(Metric):
    name = "mae"

    def update(
        self, output: Array, target: Array, mask: Array | None, loss: Loss, loss_value: float, count: float
    ) -> None:
        err = np.abs(output - np.asarray(target, dtype=output.dtype).reshape(output.shape))
        self.total += float(err.sum(dtype=np.float64))
        self.count += float(err.size)


METRICS: dict[str, type[Metric]] = {m.name: m for m in (Accuracy, Perplexity, MeanAbsoluteError)}
METRICS["acc"] = Accuracy


def get_metric(spec: str | Metric) -> Metric:
    if isinstance(spec, Metric):
        return spec
    if spec not in METRICS:
        raise InputError(f"unknown metric '{spec}'; known: {', '.join(sorted(METRICS))}")
    return METRICS[spec]()
