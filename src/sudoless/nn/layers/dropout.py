"""Dropout: zero a random fraction of activations while training."""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.nn.layers.base import Array, Layer, Shape, register


@register
class Dropout(Layer):
    """Inverted dropout: kept units are scaled by ``1/(1-rate)`` during training, so inference is the identity.

    The random generator is seeded when the model is built, from the model's seed, so a training run
    repeats exactly.
    """

    def __init__(self, rate: float = 0.5, name: str | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.rng = np.random.default_rng(0)

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        self.rng = np.random.default_rng(rng.integers(2**63))

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        if not training or self.rate == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64) >= self.rate
        self._scale = keep * np.asarray(1.0 / (1.0 - self.rate), dtype=x.dtype)
        return x * self._scale

    def backward(self, dy: Array) -> Array:
        return dy if self._scale is None else dy * self._scale

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "name": self.name}
