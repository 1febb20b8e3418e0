"""Layer normalisation over the feature axis."""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.nn.layers.base import Array, Layer, Shape, register


@register
class LayerNorm(Layer):
    """Normalise each example's features to zero mean and unit variance, then scale and shift.

    Unlike batch normalisation it needs no running statistics and behaves the same in training and
    inference, which suits recurrent networks and small batches.
    """

    def __init__(self, epsilon: float = 1e-5, name: str | None = None) -> None:
        super().__init__(name)
        self.epsilon = float(epsilon)

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        features = int(input_shape[-1])  # type: ignore[arg-type]
        self.add_param("gamma", np.ones(features))
        self.add_param("beta", np.zeros(features))

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=-1, keepdims=True)
        self._inv = 1.0 / np.sqrt(var + self.epsilon)
        self._xhat = centred * self._inv
        return self._xhat * self.params["gamma"] + self.params["beta"]

    def backward(self, dy: Array) -> Array:
        xhat, inv = self._xhat, self._inv
        features = xhat.shape[-1]
        flat_dy = dy.reshape(-1, features)
        np.sum(flat_dy * xhat.reshape(-1, features), axis=0, out=self.grads["gamma"])
        np.sum(flat_dy, axis=0, out=self.grads["beta"])
        dxhat = dy * self.params["gamma"]
        return inv * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                      - xhat * np.mean(dxhat * xhat, axis=-1, keepdims=True))

    def get_config(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "name": self.name}
