"""Layers that join several inputs, for models built with the functional API."""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.nn.layers.base import Array, Layer, Shape, last_axis, register


def _merge_masks(masks: Any) -> Array | None:
    present = [m for m in (masks or []) if m is not None]
    if not present:
        return None
    merged = present[0]
    for m in present[1:]:
        merged = merged & m
    return merged


@register
class Add(Layer):
    """Element-wise sum of inputs of one shape (residual connections)."""

    def output_shape(self, input_shape: list[Shape]) -> Shape:
        return input_shape[0]

    def forward(self, x: list[Array], training: bool = False, mask: Any = None) -> Array:
        self._count = len(x)
        total = x[0].copy()
        for item in x[1:]:
            total += item
        return total

    def backward(self, dy: Array) -> list[Array]:
        return [dy] * self._count

    def compute_mask(self, mask: Any) -> Array | None:
        return _merge_masks(mask)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


@register
class Concatenate(Layer):
    """Join inputs along the last axis."""

    def output_shape(self, input_shape: list[Shape]) -> Shape:
        widths = [last_axis(s) for s in input_shape]
        return (*input_shape[0][:-1], sum(widths))

    def forward(self, x: list[Array], training: bool = False, mask: Any = None) -> Array:
        self._splits = np.cumsum([item.shape[-1] for item in x])[:-1]
        return np.concatenate(x, axis=-1)

    def backward(self, dy: Array) -> list[Array]:
        return np.split(dy, self._splits, axis=-1)

    def compute_mask(self, mask: Any) -> Array | None:
        return _merge_masks(mask)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}
