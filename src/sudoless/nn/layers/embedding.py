"""Embedding: integer ids to dense vectors (the input layer of a character or word model)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.nn.initializers import get_initializer
from sudoless.nn.layers.base import Array, Layer, Shape, register


@register
class Embedding(Layer):
    """Look up row ``x`` of a ``(vocab, dim)`` table.

    The backward pass scatters with ``np.add.at`` because plain fancy-index assignment ``dW[x] += dy`` keeps
    only one contribution when an id repeats in the batch. With ``mask_zero`` id 0 is padding and the layers
    downstream receive a mask that excludes it.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        mask_zero: bool = False,
        initializer: str = "normal",
        scale: float = 0.1,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.mask_zero = mask_zero
        self.initializer = initializer
        self.scale = float(scale)

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        table = get_initializer(self.initializer)((self.input_dim, self.output_dim), rng)
        self.add_param("W", table * self.scale)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.output_dim)

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        ids = np.asarray(x)
        if ids.dtype.kind not in "iu":
            ids = ids.astype(np.int64)
        self._ids = ids
        return self.params["W"][ids]

    def backward(self, dy: Array) -> None:
        dw = self.grads["W"]
        dw[...] = 0
        np.add.at(dw, self._ids.reshape(-1), dy.reshape(-1, self.output_dim))
        return None

    def compute_mask(self, mask: Array | None) -> Array | None:
        if not self.mask_zero:
            return mask
        own = self._ids != 0
        return own if mask is None else own & mask

    def get_config(self) -> dict[str, Any]:
        return {
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "mask_zero": self.mask_zero,
            "initializer": self.initializer,
            "scale": self.scale,
            "name": self.name,
        }
