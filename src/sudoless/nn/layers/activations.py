"""Element-wise activations and the softmax.

Each keeps the one array its derivative needs: the output for sigmoid, tanh and softmax (their derivatives
are functions of the output), the input for ReLU-like and GELU. Sigmoid is ``1 / (1 + exp(-x))``: every step
keeps its relative precision, so the small tail is accurate (``0.5 (1 + tanh(x/2))`` loses it to cancellation
and rounds to exactly 0 in float32 from x = -17 on); where ``exp(-x)`` overflows (x < -88 in float32) the
result is 0, which is σ(x) rounded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.base import Array, Layer, register


def sigmoid(x: Array, out: Array | None = None) -> Array:
    """Logistic function, accurate to a few ulps in both tails; ``out`` may be ``x`` itself."""
    with np.errstate(over="ignore"):
        out = np.negative(x, out=out)
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def softmax(x: Array, axis: int = -1) -> Array:
    """Softmax with the row maximum subtracted first (same result, no overflow)."""
    z = x - np.max(x, axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= np.sum(z, axis=axis, keepdims=True)
    return z


def log_softmax(x: Array, axis: int = -1) -> Array:
    """``z - logsumexp(z)``, which stays finite where ``log(softmax(z))`` would reach ``log 0``."""
    z = x - np.max(x, axis=axis, keepdims=True)
    z -= np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    return z


class _Elementwise(Layer):
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


@register
class Sigmoid(_Elementwise):
    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._y = sigmoid(x)
        return self._y

    def backward(self, dy: Array) -> Array:
        y = self._y
        return dy * y * (1.0 - y)


@register
class Tanh(_Elementwise):
    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy: Array) -> Array:
        y = self._y
        return dy * (1.0 - y * y)


@register
class ReLU(_Elementwise):
    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._active = x > 0
        return np.maximum(x, 0)

    def backward(self, dy: Array) -> Array:
        return dy * self._active


@register
class LeakyReLU(Layer):
    """``x`` for positive inputs, ``alpha x`` otherwise, so no unit is ever completely dead."""

    def __init__(self, alpha: float = 0.01, name: str | None = None) -> None:
        super().__init__(name)
        self.alpha = float(alpha)

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._slope = np.where(x > 0, 1.0, self.alpha).astype(x.dtype)
        return x * self._slope

    def backward(self, dy: Array) -> Array:
        return dy * self._slope

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "name": self.name}


_GELU_C = float(np.sqrt(2.0 / np.pi))


@register
class GELU(_Elementwise):
    """Gaussian error linear unit, in the tanh form (as in GPT-2 and PyTorch's ``approximate="tanh"``).

    The exact form needs ``erf``, which NumPy lacks; the tanh form differs from it by less than 1e-3.
    """

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._x = x
        self._t = np.tanh(_GELU_C * (x + 0.044715 * x**3))
        return 0.5 * x * (1.0 + self._t)

    def backward(self, dy: Array) -> Array:
        x, t = self._x, self._t
        dinner = _GELU_C * (1.0 + 3 * 0.044715 * x * x)
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner)


@register
class Softmax(Layer):
    """Softmax over ``axis`` with its true Jacobian ``ds_i/dz_j = s_i (δ_ij - s_j)``.

    The backward pass applies that Jacobian without building it: ``dz = s ⊙ (ds - <ds, s>)``. For
    classification prefer logits plus :class:`~sudoless.nn.losses.SoftmaxCrossEntropy`, whose fused gradient
    ``s - y`` is cheaper and more accurate.
    """

    def __init__(self, axis: int = -1, name: str | None = None) -> None:
        super().__init__(name)
        self.axis = axis

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._s = softmax(x, self.axis)
        return self._s

    def backward(self, dy: Array) -> Array:
        s = self._s
        return s * (dy - np.sum(dy * s, axis=self.axis, keepdims=True))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis, "name": self.name}


ACTIVATIONS: dict[str, type[Layer]] = {
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
}


def get_activation(name: str | None) -> Layer | None:
    """The activation layer a ``Dense(activation=...)`` or ``Conv2D(activation=...)`` applies; None for linear."""
    if name is None or name == "linear":
        return None
    if name not in ACTIVATIONS:
        raise InputError(f"unknown activation '{name}'; known: linear, {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]()


class Activated(Layer):
    """A layer with an optional activation applied to its output (``activation=`` of Dense and Conv layers).

    Subclasses compute the pre-activation in :meth:`_forward` and its gradients in :meth:`_backward`; the
    activation is held as a helper, not a sublayer, since it has no parameters to pack.
    """

    def __init__(self, activation: str | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.activation = None if activation in (None, "linear") else activation
        self._activation = get_activation(activation)

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        y = self._forward(x, training)
        return y if self._activation is None else self._activation.forward(y, training)

    def backward(self, dy: Array) -> Array | None:
        if self._activation is not None:
            dy = self._activation.backward(dy)
        return self._backward(dy)

    def _forward(self, x: Array, training: bool) -> Array:
        raise NotImplementedError

    def _backward(self, dy: Array) -> Array | None:
        raise NotImplementedError
