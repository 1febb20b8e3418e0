"""Bidirectional recurrence: one layer reads forwards, a copy reads backwards, and their outputs are merged."""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.base import Array, Layer, layer_config, layer_from_config, register
from sudoless.nn.layers.recurrent import Recurrent, call_with_states, split_states


@register
class Bidirectional(Layer):
    """Run ``layer`` and a reversed copy of it on the same input; merge by ``concat`` (default), ``sum``,
    ``mul`` or ``ave``.

    With ``return_sequences`` both directions' outputs are aligned in time; otherwise each contributes its
    final state (for the backward copy: the state after reading the first step). Under masking the backward
    copy starts at each sequence's last real step.

    When the wrapped layer has ``return_state``, the call gives ``[output, *forward states, *backward states]``
    and takes ``initial_state`` in the same order (Keras's layout).
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

    @property
    def return_state(self) -> bool:
        return self.forward_layer.return_state

    @property
    def _states(self) -> int:
        return self.forward_layer.state_count

    def __call__(self, inputs: Any, initial_state: Any = None) -> Any:
        """Functional API, as a recurrent layer's: ``initial_state`` holds the forward layer's states, then the
        backward layer's."""
        return call_with_states(self, inputs, initial_state, 2 * self._states, self.return_state)

    def build(self, input_shape: Any, rng: np.random.Generator, dtype: Any = np.float32) -> Any:
        self.dtype = np.dtype(dtype)
        k = self._states
        if isinstance(input_shape, list):
            sequence = input_shape[0]
            self.forward_layer.build([sequence, *input_shape[1 : 1 + k]], rng, dtype)
            self.backward_layer.build([sequence, *input_shape[1 + k :]], rng, dtype)
        else:
            self.forward_layer.build(input_shape, rng, dtype)
            self.backward_layer.build(input_shape, rng, dtype)
        self.built = True
        return self.output_shape(input_shape)

    def output_shape(self, input_shape: Any) -> Any:
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        inner = self.forward_layer.output_shape(input_shape)
        states = []
        if self.return_state:
            inner, states = inner[0], inner[1:]
        if self.merge_mode == "concat":
            inner = (*inner[:-1], 2 * self.forward_layer.units)
        return [inner, *states, *states] if self.return_state else inner

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

    def forward(self, x: Any, training: bool = False, mask: Any = None) -> Any:
        x, given, mask = split_states(x, mask)
        k = self._states
        if given and len(given) != 2 * k:
            raise InputError(f"Bidirectional takes {2 * k} initial states (forward, then backward), got {len(given)}")
        self._given = bool(given)
        a = self.forward_layer.forward([x, *given[:k]] if given else x, training, mask)
        b = self.backward_layer.forward([x, *given[k:]] if given else x, training, mask)
        a_states: list[Array] = []
        b_states: list[Array] = []
        if self.return_state:
            (a, *a_states), (b, *b_states) = a, b
        self._a, self._b = a, b
        if self.merge_mode == "concat":
            out = np.concatenate([a, b], axis=-1)
        elif self.merge_mode == "sum":
            out = a + b
        elif self.merge_mode == "mul":
            out = a * b
        else:
            out = 0.5 * (a + b)
        return [out, *a_states, *b_states] if self.return_state else out

    def backward(self, dy: Any) -> Any:
        k = self._states
        d_states: list[Any] = []
        if self.return_state:
            dy, d_states = dy[0], list(dy[1:])
        units = self.forward_layer.units
        da: Any
        db: Any
        if dy is None:
            da = db = None
        elif self.merge_mode == "concat":
            da, db = dy[..., :units], dy[..., units:]
        elif self.merge_mode == "sum":
            da = db = dy
        elif self.merge_mode == "mul":
            da, db = dy * self._b, dy * self._a
        else:
            da = db = 0.5 * dy
        if self.return_state:
            da, db = [da, *d_states[:k]], [db, *d_states[k:]]
        ga = self.forward_layer.backward(da)
        gb = self.backward_layer.backward(db)
        starts: list[Array] = []
        if self._given:
            (ga, *starts_a), (gb, *starts_b) = ga, gb
            starts = [*starts_a, *starts_b]
        dx = None if ga is None else ga + gb
        return [dx, *starts] if self._given else dx

    def compute_mask(self, mask: Any) -> Any:
        if isinstance(mask, list):
            mask = mask[0]
        out = mask if self.forward_layer.return_sequences else None
        return [out, *[None] * (2 * self._states)] if self.return_state else out

    def get_config(self) -> dict[str, Any]:
        inner = layer_config(self.forward_layer)
        inner["config"].pop("name", None)
        return {"layer": inner, "merge_mode": self.merge_mode, "name": self.name}
