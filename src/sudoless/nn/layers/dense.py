"""Fully connected layer, plus the shape-only layers that usually sit next to it."""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.nn.initializers import get_initializer
from sudoless.nn.layers.activations import Activated
from sudoless.nn.layers.base import Array, Layer, Shape, last_axis, register


@register
class Dense(Activated):
    """``y = act(x W + b)`` over the last axis; any leading axes (batch, time) share the weights.

    Applied to a ``(B, T, F)`` sequence it is the time-distributed projection of a recurrent network, done as
    one ``(B*T, F) @ (F, units)`` GEMM rather than T small ones.
    """

    def __init__(
        self,
        units: int,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        activation: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(activation, name)
        self.units = int(units)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        fan_in = last_axis(input_shape)
        self.add_param("W", get_initializer(self.kernel_initializer)((fan_in, self.units), rng))
        if self.use_bias:
            self.add_param("b", get_initializer(self.bias_initializer)((self.units,), rng))

    def output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def _forward(self, x: Array, training: bool) -> Array:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])
        self._x = x2
        y = x2 @ self.params["W"]
        if self.use_bias:
            y += self.params["b"]
        return y.reshape(*lead, self.units)

    def _backward(self, dy: Array) -> Array | None:
        x2 = self._x
        d2 = dy.reshape(-1, self.units)
        np.matmul(x2.T, d2, out=self.grads["W"])
        if self.use_bias:
            np.sum(d2, axis=0, out=self.grads["b"])
        if not self.input_grad:
            return None
        return (d2 @ self.params["W"].T).reshape(*dy.shape[:-1], x2.shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "activation": self.activation,
            "name": self.name,
        }


@register
class Flatten(Layer):
    """Collapse every axis after the batch axis into one (images into vectors)."""

    def output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod([d for d in input_shape if d is not None])),)

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: Array) -> Array:
        return dy.reshape(self._shape)

    def compute_mask(self, mask: Array | None) -> Array | None:
        return None


@register
class Masking(Layer):
    """Mark time steps whose features all equal ``mask_value`` as padding for the layers downstream."""

    def __init__(self, mask_value: float = 0.0, name: str | None = None) -> None:
        super().__init__(name)
        self.mask_value = float(mask_value)

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._mask = np.any(x != self.mask_value, axis=-1)
        return x

    def backward(self, dy: Array) -> Array:
        return dy

    def compute_mask(self, mask: Array | None) -> Array | None:
        return self._mask if mask is None else (self._mask & mask)

    def get_config(self) -> dict[str, Any]:
        return {"mask_value": self.mask_value, "name": self.name}
