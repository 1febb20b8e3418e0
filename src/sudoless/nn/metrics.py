"""Training metrics, accumulated over the batches of an epoch and weighted by how many items each batch had."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.losses import BinaryCrossEntropy, CrossEntropy, Loss, SoftmaxCrossEntropy
from sudoless.nn.specs import build

Array = np.ndarray


class Metric:
    """A running mean: ``update`` with one batch, ``result`` for the epoch so far, ``reset`` between epochs."""

    name = "metric"
    #: True when the epoch's value is ``total / count`` of per-batch sums, which workers can add up (Spark);
    #: False for metrics that need the whole epoch's counts or scores (precision, AUC)
    additive = True

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
        """A new metric of the same kind and options with nothing counted (evaluation counts apart from
        training)."""
        return type(self)(**self.get_config())

    def get_config(self) -> dict[str, Any]:
        """The options that rebuild this metric (none for most)."""
        return {}


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


def _unmasked(values: Array, mask: Array | None, lead: int) -> Array:
    """``values`` (leading axes first) reduced to the items a mask marks real, as one flat run of items."""
    if mask is None:
        return values.reshape((-1,) + values.shape[lead:])
    keep = np.broadcast_to(np.asarray(mask, bool), values.shape[: np.ndim(mask)])
    return values[keep].reshape((-1,) + values.shape[lead:]) if np.ndim(mask) == lead else values[keep]


def _is_categorical(loss: Loss, output: Array) -> bool:
    """One class per item among the last axis (softmax losses), as opposed to independent binary outputs."""
    return isinstance(loss, SoftmaxCrossEntropy | CrossEntropy) and output.shape[-1] > 1


def _class_ids(target: Array, output: Array) -> Array:
    """Integer class ids from targets given as ids or as one-hot rows (or probabilities: their arg-max)."""
    target = np.asarray(target)
    if target.shape == output.shape:
        return np.argmax(target, axis=-1)
    return target.reshape(output.shape[:-1]).astype(np.int64)


class TopKCategoricalAccuracy(Metric):
    """The fraction of items whose true class is among the ``k`` highest outputs (``k=5`` as in Keras).

    ``top_k_categorical_accuracy`` reads one-hot targets, ``sparse_top_k_categorical_accuracy`` class ids;
    either takes both here. A tie with the k-th score counts as in the top k.
    """

    name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5) -> None:
        if int(k) < 1:
            raise InputError(f"top-k accuracy needs k >= 1, got {k}")
        self.k = int(k)
        super().__init__()

    def update(
        self, output: Array, target: Array, mask: Array | None, loss: Loss, loss_value: float, count: float
    ) -> None:
        labels = _class_ids(target, output)
        truth = np.take_along_axis(output, labels[..., None], axis=-1)
        # Above the true class's score: fewer than k others means it is in the top k.
        hits = np.sum(output > truth, axis=-1) < self.k
        hits = _unmasked(hits, mask, hits.ndim)
        self.total += float(np.sum(hits))
        self.count += float(hits.size)

    def get_config(self) -> dict[str, Any]:
        return {"k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    name = "sparse_top_k_categorical_accuracy"


class _Confusion(Metric):
    """Counts of true positives, false positives and false negatives over an epoch, per class.

    Binary outputs (a sigmoid, ``binary_cross_entropy``, or any loss with one output unit) count as positive
    where the probability exceeds ``threshold``; several sigmoid units are independent labels, counted
    together (micro average). For a softmax over several classes the predicted class is the arg-max, and the
    result is the mean over the classes seen (``average="macro"``, scikit-learn's ``average="macro"``),
    the pooled counts (``"micro"``), or one class (``class_id``).
    """

    additive = False

    def __init__(self, threshold: float = 0.5, average: str = "macro", class_id: int | None = None) -> None:
        if average not in ("macro", "micro"):
            raise InputError(f"{self.name}: average is macro or micro, not '{average}'")
        self.threshold, self.average = float(threshold), average
        self.class_id = None if class_id is None else int(class_id)
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.tp = self.fp = self.fn = np.zeros(0, np.float64)
        self.seen = np.zeros(0, bool)

    def _grow(self, size: int) -> None:
        if size > len(self.tp):
            pad = size - len(self.tp)
            self.tp, self.fp, self.fn = (np.concatenate([a, np.zeros(pad)]) for a in (self.tp, self.fp, self.fn))
            self.seen = np.concatenate([self.seen, np.zeros(pad, bool)])

    def update(
        self, output: Array, target: Array, mask: Array | None, loss: Loss, loss_value: float, count: float
    ) -> None:
        if _is_categorical(loss, output):
            classes = output.shape[-1]
            predicted = _unmasked(np.argmax(output, axis=-1), mask, output.ndim - 1)
            truth = _unmasked(_class_ids(target, output), mask, output.ndim - 1)
            self._grow(classes)
            self.tp += np.bincount(truth[predicted == truth], minlength=classes)[:classes]
            self.fp += np.bincount(predicted[predicted != truth], minlength=classes)[:classes]
            self.fn += np.bincount(truth[predicted != truth], minlength=classes)[:classes]
            self.seen |= np.bincount(np.concatenate([truth, predicted]), minlength=classes)[:classes] > 0
            return
        scores = loss.activate(output)
        y = np.asarray(target, dtype=np.float64).reshape(output.shape) > 0.5
        if self.class_id is not None:
            scores, y, lead = scores[..., self.class_id], y[..., self.class_id], output.ndim - 1
        else:
            lead = output.ndim
        positive = _unmasked(scores > self.threshold, mask, lead).reshape(-1)
        y = _unmasked(y, mask, lead).reshape(-1)
        self._grow(1)
        self.tp[0] += np.sum(positive & y)
        self.fp[0] += np.sum(positive & ~y)
        self.fn[0] += np.sum(~positive & y)
        self.seen[0] = True

    def _counts(self) -> tuple[Array, Array, Array] | None:
        if not len(self.tp):
            return None
        if len(self.tp) == 1:
            return self.tp, self.fp, self.fn
        if self.class_id is not None:
            k = self.class_id
            if k >= len(self.tp):
                return np.zeros(1), np.zeros(1), np.zeros(1)
            return self.tp[k : k + 1], self.fp[k : k + 1], self.fn[k : k + 1]
        if self.average == "micro":
            return np.array([self.tp.sum()]), np.array([self.fp.sum()]), np.array([self.fn.sum()])
        seen = self.seen
        return self.tp[seen], self.fp[seen], self.fn[seen]

    def result(self) -> float:
        counts = self._counts()
        if counts is None:
            return float("nan")
        return float(np.mean(self._score(*counts)))

    @staticmethod
    def _ratio(top: Array, bottom: Array) -> Array:
        # 0 where nothing was predicted (or present), as scikit-learn's zero_division default reports it
        return np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)

    def _score(self, tp: Array, fp: Array, fn: Array) -> Array:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "average": self.average, "class_id": self.class_id}


class Precision(_Confusion):
    """Of the items predicted positive, the fraction that are: ``tp / (tp + fp)``."""

    name = "precision"

    def _score(self, tp: Array, fp: Array, fn: Array) -> Array:
        return self._ratio(tp, tp + fp)


class Recall(_Confusion):
    """Of the positive items, the fraction predicted so: ``tp / (tp + fn)``."""

    name = "recall"

    def _score(self, tp: Array, fp: Array, fn: Array) -> Array:
        return self._ratio(tp, tp + fn)


class F1Score(_Confusion):
    """The harmonic mean of precision and recall: ``2 tp / (2 tp + fp + fn)``."""

    name = "f1"

    def _score(self, tp: Array, fp: Array, fn: Array) -> Array:
        return self._ratio(2 * tp, 2 * tp + fp + fn)


class AUC(Metric):
    """Area under the ROC curve, over the whole epoch.

    Exact by default (``num_thresholds=None``): the scores of the epoch are kept and the area is the
    trapezoid through every distinct score, ties included, which is what scikit-learn's ``roc_auc_score``
    computes. ``num_thresholds=200`` gives Keras's default instead: counts at 200 evenly spaced thresholds
    in [0, 1] and the trapezoid through them, in constant memory but approximate.

    Binary outputs are scored by their probability; a softmax over several classes counts each class of each
    item as one binary decision (Keras's ``multi_label=False``, scikit-learn's ``average="micro"``).
    """

    name = "auc"
    additive = False

    def __init__(self, num_thresholds: int | None = None) -> None:
        if num_thresholds is not None and int(num_thresholds) < 2:
            raise InputError(f"auc needs at least 2 thresholds, got {num_thresholds}")
        self.num_thresholds = None if num_thresholds is None else int(num_thresholds)
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.scores: list[Array] = []
        self.labels: list[Array] = []
        if self.num_thresholds is not None:
            size = self.num_thresholds
            self.positives, self.negatives = np.zeros(size), np.zeros(size)

    def update(
        self, output: Array, target: Array, mask: Array | None, loss: Loss, loss_value: float, count: float
    ) -> None:
        probabilities = loss.activate(output)
        if _is_categorical(loss, output):
            labels = _class_ids(target, output)
            truth = np.zeros(output.shape, bool)
            np.put_along_axis(truth, labels[..., None], True, axis=-1)
            lead = output.ndim - 1
        else:
            truth = np.asarray(target, dtype=np.float64).reshape(output.shape) > 0.5
            lead = output.ndim
        scores = _unmasked(np.asarray(probabilities, np.float64), mask, lead).reshape(-1)
        labels_flat = _unmasked(truth, mask, lead).reshape(-1)
        if self.num_thresholds is None:
            self.scores.append(scores)
            self.labels.append(labels_flat)
            return
        # Keras's thresholds: 0 - ε, (i / (n - 1)) inside, 1 + ε; an item is positive at every threshold below it
        inner = np.linspace(0.0, 1.0, self.num_thresholds)[1:-1]
        below = np.searchsorted(inner, scores, side="left") + 1
        below[scores <= -1e-7] = 0  # below the first threshold (Keras's scores are probabilities)
        size = self.num_thresholds
        for counts, chosen in ((self.positives, labels_flat), (self.negatives, ~labels_flat)):
            at_least = np.bincount(below[chosen], minlength=size + 1)[::-1].cumsum()[::-1]
            counts += at_least[1 : size + 1]

    def result(self) -> float:
        if self.num_thresholds is not None:
            tpr = self._ratio(self.positives, self.positives[0])
            fpr = self._ratio(self.negatives, self.negatives[0])
            return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))
        if not self.scores:
            return float("nan")
        scores, labels = np.concatenate(self.scores), np.concatenate(self.labels)
        positives, negatives = int(labels.sum()), int((~labels).sum())
        if positives == 0 or negatives == 0:
            return float("nan")
        order = np.argsort(-scores, kind="stable")
        scores, labels = scores[order], labels[order]
        # one point of the curve after each run of equal scores
        ends = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
        tpr = np.r_[0.0, np.cumsum(labels)[ends] / positives]
        fpr = np.r_[0.0, np.cumsum(~labels)[ends] / negatives]
        return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))

    @staticmethod
    def _ratio(top: Array, bottom: float) -> Array:
        return top / bottom if bottom else np.zeros_like(top)

    def get_config(self) -> dict[str, Any]:
        return {"num_thresholds": self.num_thresholds}


METRICS: dict[str, type[Metric]] = {
    m.name: m
    for m in (
        Accuracy,
        Perplexity,
        MeanAbsoluteError,
        Precision,
        Recall,
        F1Score,
        AUC,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
    )
}
METRICS["acc"] = Accuracy
METRICS["f1_score"] = F1Score


def metric_config(metric: Metric) -> str | dict[str, Any]:
    """What rebuilds ``metric`` through :func:`get_metric` (saved with a model): its name, with its options
    when they are not the defaults."""
    options = metric.get_config()
    if options == type(metric)().get_config():
        return metric.name
    return {"name": metric.name, **options}


def get_metric(spec: str | Mapping[str, Any] | Metric) -> Metric:
    """A metric from an instance, a name, or ``{"name": ..., **options}`` (``{name: auc, num_thresholds: 200}``)."""
    if isinstance(spec, Metric):
        return spec
    return build(METRICS, spec, "metric")
