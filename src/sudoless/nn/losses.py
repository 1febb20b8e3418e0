"""Losses: a value to minimise and its gradient with respect to the model's output.

Every loss is a mean: over examples, and over time steps for sequence outputs, counting only the steps a
mask marks as real (``True``). Sums are accumulated in float64 so a float32 model still reports a precise loss.
Sample weights (``fit(sample_weight=...)``, ``class_weight``) scale each example's term of the sum but not the
count it is divided by, as Keras reduces: ``Σ w·l / n``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.activations import log_softmax, sigmoid
from sudoless.nn.specs import build

Array = np.ndarray

#: Keras's ``epsilon()``: probabilities are clipped to [EPSILON, 1 - EPSILON], which float32 can represent
#: (1 - 1e-12 rounds to 1 in float32, and log(1 - p) then is -inf).
EPSILON = 1e-7


def sample_weights(sample_weight: Any, shape: tuple[int, ...], dtype: Any) -> Array:
    """``sample_weight`` as an array broadcastable to ``shape``: one weight per example ``(N,)``, or per example
    and time step ``(N, T)``, aligned from the left (trailing axes repeat the weight)."""
    sw = np.asarray(sample_weight, dtype=dtype)
    if sw.ndim > len(shape) or sw.shape != tuple(shape[: sw.ndim]):
        raise InputError(
            f"sample weights of shape {sw.shape} do not fit outputs of shape {tuple(shape)}: give one weight per "
            f"example, shape ({shape[0] if shape else ''},)"
        )
    return sw.reshape(sw.shape + (1,) * (len(shape) - sw.ndim))


def _weights(
    mask: Array | None, lead: tuple[int, ...], dtype: Any, sample_weight: Any = None
) -> tuple[Array | None, float]:
    """Per-item weights over the leading (non-class) axes (None = all ones) and the number of items.

    The number of items is what the weighted sum is divided by: the count of unmasked items, whatever the
    sample weights are. That is Keras's reduction: with weights, the loss is ``Σ w·l / n``, not ``Σ w·l / Σ w``,
    so weights of 2 double the loss and its gradient, as if each such example appeared twice.
    """
    if mask is None:
        w: Array | None = None
        total = float(np.prod(lead)) if lead else 1.0
    else:
        w = np.broadcast_to(np.asarray(mask), lead).astype(dtype)
        total = float(w.sum(dtype=np.float64))
        if total == 0:
            raise InputError("every time step is masked: there is nothing to compute a loss on")
    if sample_weight is not None:
        sw = np.broadcast_to(sample_weights(sample_weight, lead, dtype), lead)
        w = sw.astype(dtype) if w is None else w * sw
    return w, total


def _element_weights(
    mask: Array | None, shape: tuple[int, ...], dtype: Any, sample_weight: Any = None
) -> tuple[Array | None, float]:
    """Weights for losses that average every output element (MSE, binary cross-entropy): the mask covers the
    leading axes it has, the sample weights theirs, and both repeat over the rest."""
    if mask is None:
        w: Array | None = None
        total = float(np.prod(shape))
    else:
        w, total = _weights(mask, shape[: mask.ndim], dtype)
        total *= float(np.prod(shape[mask.ndim :]))
        assert w is not None
        w = w.reshape(w.shape + (1,) * (len(shape) - mask.ndim))
    if sample_weight is not None:
        sw = sample_weights(sample_weight, shape, dtype)
        w = sw if w is None else w * sw
    return w, total


class Loss:
    """Base: ``forward(output, target, mask)`` returns the loss, ``backward()`` its gradient."""

    name = "loss"

    def forward(
        self, output: Array, target: Array, mask: Array | None = None, sample_weight: Array | None = None
    ) -> float:
        """The loss of one batch; ``sample_weight`` (one weight per example) scales each example's share."""
        raise NotImplementedError

    def backward(self) -> Array:
        raise NotImplementedError

    def activate(self, output: Array) -> Array:
        """Turn raw outputs into predictions (probabilities for logit losses)."""
        return output

    def get_config(self) -> dict[str, Any]:
        return {}


class SoftmaxCrossEntropy(Loss):
    """Softmax and cross-entropy fused: takes logits, gives ``(softmax - y) / n`` as the gradient.

    Targets are integer class ids (shape of the output without its last axis) or distributions (the
    output's shape). The log-probabilities come from log-sum-exp, so a vanishing probability gives a large
    finite loss rather than ``inf``.
    """

    name = "softmax_cross_entropy"
    # the last forward's targets: class ids or distributions, one of the two
    _labels: Array | None
    _dist: Array | None

    def forward(
        self, output: Array, target: Array, mask: Array | None = None, sample_weight: Array | None = None
    ) -> float:
        classes = output.shape[-1]
        logits = output.reshape(-1, classes)
        logp = log_softmax(logits)
        target = np.asarray(target)
        lead = output.shape[:-1]
        w, total = _weights(mask, lead, output.dtype, sample_weight)
        if target.shape == output.shape and target.dtype.kind == "f":
            dist = target.reshape(-1, classes).astype(output.dtype, copy=False)
            nll = -np.sum(dist * logp, axis=1, dtype=np.float64)
            self._labels, self._dist = None, dist
        elif target.shape == lead:
            labels = target.reshape(-1).astype(np.int64, copy=False)
            if labels.size and (labels.min() < 0 or labels.max() >= classes):
                raise InputError(f"class labels must lie in [0, {classes}), got {labels.min()}..{labels.max()}")
            nll = -logp[np.arange(labels.size), labels].astype(np.float64)
            self._labels, self._dist = labels, None
        else:
            raise InputError(
                f"targets of shape {target.shape} do not fit outputs of shape {output.shape}: give "
                f"class ids of shape {lead} or distributions of shape {output.shape}"
            )
        self._shape, self._logp, self._w, self._total = output.shape, logp, w, total
        flat_w = None if w is None else w.reshape(-1)
        return float((nll if flat_w is None else nll * flat_w).sum() / total)

    def backward(self) -> Array:
        grad = np.exp(self._logp)
        if self._labels is not None:
            grad[np.arange(self._labels.size), self._labels] -= 1.0
        elif self._dist is not None:
            grad -= self._dist
        scale = np.asarray(1.0 / self._total, dtype=grad.dtype)
        if self._w is not None:
            grad *= self._w.reshape(-1, 1) * scale
        else:
            grad *= scale
        return grad.reshape(self._shape)

    def activate(self, output: Array) -> Array:
        return np.exp(log_softmax(output))


class CrossEntropy(Loss):
    """Cross-entropy of probabilities (the output of a :class:`~sudoless.nn.layers.Softmax` layer).

    Probabilities are clipped to ``[eps, 1 - eps]`` with Keras's ``eps = 1e-7`` before the log, and the
    gradient is that of the clipped function: zero where an output was clipped, so a probability of exactly 0
    gives a finite loss (-log 1e-7 ≈ 16.1) instead of a gradient of -1/1e-12. Prefer
    :class:`SoftmaxCrossEntropy` on logits, which needs no clipping; this one exists for models that end in a
    softmax.
    """

    name = "cross_entropy"
    eps = EPSILON

    def forward(
        self, output: Array, target: Array, mask: Array | None = None, sample_weight: Array | None = None
    ) -> float:
        classes = output.shape[-1]
        lead = output.shape[:-1]
        target = np.asarray(target)
        if target.shape == lead:
            dist: Array = np.zeros(output.shape, output.dtype).reshape(-1, classes)
            dist[np.arange(dist.shape[0]), target.reshape(-1).astype(np.int64)] = 1.0
            dist = dist.reshape(output.shape)
        elif target.shape == output.shape:
            dist = target.astype(output.dtype, copy=False)
        else:
            raise InputError(f"targets of shape {target.shape} do not fit outputs of shape {output.shape}")
        w, total = _weights(mask, lead, output.dtype, sample_weight)
        p = np.clip(output, self.eps, 1.0 - self.eps)
        per_item = -np.sum(dist * np.log(p), axis=-1, dtype=np.float64)
        self._p, self._dist, self._w, self._total = p, dist, w, total
        self._inside = (output >= self.eps) & (output <= 1.0 - self.eps)
        return float((per_item if w is None else per_item * w).sum() / total)

    def backward(self) -> Array:
        grad = -self._dist / self._p * np.asarray(1.0 / self._total, self._p.dtype)
        grad *= self._inside
        if self._w is not None:
            grad = grad * self._w[..., None]
        return grad


class MeanSquaredError(Loss):
    """Mean of squared differences over every output element."""

    name = "mse"

    def forward(
        self, output: Array, target: Array, mask: Array | None = None, sample_weight: Array | None = None
    ) -> float:
        target = np.asarray(target, dtype=output.dtype)
        if target.shape != output.shape:
            target = target.reshape(output.shape)
        diff = output - target
        w, total = _element_weights(mask, output.shape, output.dtype, sample_weight)
        self._diff, self._w, self._total = diff, w, total
        sq = diff.astype(np.float64) ** 2
        return float((sq if w is None else sq * w).sum() / total)

    def backward(self) -> Array:
        grad = self._diff * np.asarray(2.0 / self._total, dtype=self._diff.dtype)
        return grad if self._w is None else grad * self._w


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy for 0/1 targets; with ``from_logits`` (the stable default) the model outputs logits.

    On logits: ``max(z, 0) - z y + log(1 + exp(-|z|))`` with gradient ``(σ(z) - y)/n``.
    """

    name = "binary_cross_entropy"
    eps = EPSILON

    def __init__(self, from_logits: bool = True) -> None:
        self.from_logits = from_logits

    def forward(
        self, output: Array, target: Array, mask: Array | None = None, sample_weight: Array | None = None
    ) -> float:
        y = np.asarray(target, dtype=output.dtype).reshape(output.shape)
        w, total = _element_weights(mask, output.shape, output.dtype, sample_weight)
        z = output.astype(np.float64)
        if self.from_logits:
            per = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        else:
            p = np.clip(z, self.eps, 1 - self.eps)
            per = -(y * np.log(p) + (1 - y) * np.log1p(-p))
        self._out, self._y, self._w, self._total = output, y, w, total
        return float((per if w is None else per * w).sum() / total)

    def backward(self) -> Array:
        out, y = self._out, self._y
        if self.from_logits:
            grad = (sigmoid(out.copy()) - y) / self._total
        else:
            p = np.clip(out, self.eps, 1 - self.eps)
            grad = (p - y) / (p * (1 - p)) / self._total
        grad = grad.astype(out.dtype, copy=False)
        return grad if self._w is None else grad * self._w

    def activate(self, output: Array) -> Array:
        return sigmoid(output.copy()) if self.from_logits else output

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


LOSSES: dict[str, type[Loss]] = {
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "sparse_categorical_crossentropy": SoftmaxCrossEntropy,
    "cross_entropy": CrossEntropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "binary_cross_entropy": BinaryCrossEntropy,
    "bce": BinaryCrossEntropy,
}


def get_loss(spec: str | dict[str, Any] | Loss) -> Loss:
    """A loss from an instance, a name, or ``{"name": ..., **options}``."""
    if isinstance(spec, Loss):
        return spec
    return build(LOSSES, spec, "loss")


def loss_config(loss: Loss) -> dict[str, Any]:
    return {"name": loss.name, **loss.get_config()}
