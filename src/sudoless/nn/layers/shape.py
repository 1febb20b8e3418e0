"""Layers that only rearrange values: Reshape and Permute (Flatten sits beside Dense)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.base import Array, Layer, Shape, register


@register
class Reshape(Layer):
    """Give each example the shape ``target_shape`` (batch axis excluded); one entry may be -1 (inferred)."""

    def __init__(self, target_shape: Any, name: str | None = None) -> None:
        super().__init__(name)
        self.target_shape = tuple(int(d) for d in target_shape)
        if self.target_shape.count(-1) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise InputError(f"target_shape must be positive sizes with at most one -1, got {list(target_shape)}")

    def output_shape(self, input_shape: Shape) -> Shape:
        dims = [d for d in input_shape if d is not None]
        if len(dims) < len(input_shape):
            return self.target_shape
        size = math.prod(dims)
        known = int(np.prod([d for d in self.target_shape if d != -1]))
        if -1 in self.target_shape:
            if size % known:
                raise InputError(f"cannot reshape {input_shape} into {list(self.target_shape)}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise InputError(
                f"cannot reshape {input_shape} ({size} values) into {list(self.target_shape)} ({known} values)"
            )
        return self.target_shape

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._shape = x.shape
        return x.reshape(x.shape[0], *self.target_shape)

    def backward(self, dy: Array) -> Array:
        return dy.reshape(self._shape)

    def compute_mask(self, mask: Array | None) -> Array | None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {"target_shape": list(self.target_shape), "name": self.name}


@register
class Permute(Layer):
    """Reorder the axes after the batch axis; ``dims`` counts from 1 as in Keras (``(2, 1)`` swaps two axes)."""

    def __init__(self, dims: Any, name: str | None = None) -> None:
        super().__init__(name)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise InputError(f"dims must order the axes 1..{len(self.dims)}, each once, got {list(dims)}")
        self._order = (0, *self.dims)
        self._inverse = tuple(int(i) for i in np.argsort(self._order))

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != len(self.dims):
            raise InputError(f"Permute{list(self.dims)} needs {len(self.dims)} axes per example, got {input_shape}")
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        return x.transpose(self._order)

    def backward(self, dy: Array) -> Array:
        return dy.transpose(self._inverse)

    def compute_mask(self, mask: Array | None) -> Array | None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {"dims": list(self.dims), "name": self.name}
