"""Bidirectional recurrence: one layer reads forwards, a copy reads backwards, and their outputs are merged."""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.base import Array, Layer, Shape, layer_config, layer_from_config, register
from sudoless.nn.layers.recurrent import Recurrent


@register
class Bidirectional(Layer):
    """Run ``layer`` and a reversed copy of it on the same input; merge by ``concat`` (default), ``sum``,
    ``mul`` or ``ave``.

    With ``return_sequences`` both directions' outputs are aligned in time; otherwise each contributes its
    final state (for the backward copy: the state after reading the first step). Under masking the backward
    copy starts at each sequence's last real step.
    """

    def __init__(self, layer: Recurrent | dict[str, Any], merge_mode: str = "concat", name: str | None = None) -> None:
        super().__init__(name)
        inner = layer_from_config(layer) if isinstance(layer, dict) else layer
        if not isinstance(inner, Recurrent):
            raise InputError("Bidirectional wraps an RNN, LSTM or GRU layer")
        if merge_mode not in ("concat", "sum", "mul", "ave"):
            raise InputError(f"Bidirectional merge_mode must be concat, sum, mul or ave, not '{merge_mode}'")
        config = inner.get_config()
        self.forward_layer = type(inner).from_config({**config, "reverse": False, "name": "forward"})
        self.backward_layer = type(inner).from_config({**config, "reverse": True, "name": "backward"})
        self.merge_mode = merge_mode

    def sublayers(self) -> list[Layer]:
        return [self.forward_layer, self.backward_layer]

    def build(self, input_shape: Any, rng: np.random.Generator, dtype: Any = np.float32) -> Any:
        self.dtype = np.dtype(dtype)
        self.forward_layer.build(input_shape, rng, dtype)
        self.backward_layer.build(input_shape, rng, dtype)
        self.built = True
        return self.output_shape(input_shape)

    def output_shape(self, input_shape: Shape) -> Shape:
        inner = self.forward_layer.output_shape(input_shape)
        if self.merge_mode != "concat":
            return inner
        return (*inner[:-1], 2 * self.forward_layer.units)

    def set_stateful(self, stateful: bool) -> None:
        if stateful:
            raise InputError("a Bidirectional layer cannot carry state between calls (truncated BPTT, sampling)")
        super().set_stateful(stateful)

    @property
    def input_grad(self) -> bool:
        return self._input_grad

    @input_grad.setter
    def input_grad(self, value: bool) -> None:
        self._input_grad = value
        for layer in getattr(self, "forward_layer", None), getattr(self, "backward_layer", None):
            if layer is not None:
                layer.input_grad = value

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        a = self.forward_layer.forward(x, training, mask)
        b = self.backward_layer.forward(x, training, mask)
        self._a, self._b = a, b
        if self.merge_mode == "concat":
            return np.concatenate([a, b], axis=-1)
        if self.merge_mode == "sum":
            return a + b
        if self.merge_mode == "mul":
            return a * b
        return 0.5 * (a + b)

    def backward(self, dy: Array) -> Array | None:
        units = self.forward_layer.units
        if self.merge_mode == "concat":
            da, db = dy[..., :units], dy[..., units:]
        elif self.merge_mode == "sum":
            da = db = dy
        elif self.merge_mode == "mul":
            da, db = dy * self._b, dy * self._a
        else:
            da = db = 0.5 * dy
        dx_a = self.forward_layer.backward(da)
        dx_b = self.backward_layer.backward(db)
        return None if dx_a is None else dx_a + dx_b

    def compute_mask(self, mask: Array | None) -> Array | None:
        return mask if self.forward_layer.return_sequences else None

    def get_config(self) -> dict[str, Any]:
        inner = layer_config(self.forward_layer)
        inner["config"].pop("name", None)
        return {"layer": inner, "merge_mode": self.merge_mode, "name": self.name}
