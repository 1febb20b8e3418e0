"""Recurrent layers: the shared time loop, masking and state handling, and the plain tanh RNN.

Inputs are batch-major ``(B, T, D)`` as users hold them; the loop runs time-major ``(T, B, ·)`` so every step
reads and writes contiguous blocks. The input projection of all T steps is one GEMM before the loop and the
recurrent-kernel gradient one GEMM after it, so the loop itself holds only the unavoidable ``(B, H) @ (H, kH)``
product per step and a few element-wise operations on preallocated buffers.

Masking (``True`` = a real step): at a padded step the state is carried unchanged and the output is zero, so
the last state is the state after the last real step, for left or right padding alike, and a reversed layer
starts from a clean state at each sequence's last real step.

In the functional API a layer made with ``return_state=True`` gives ``[output, state_h]`` (LSTM:
``[output, state_h, state_c]``) and takes ``initial_state=[...]`` when called, as in Keras: an encoder's final
states can start a decoder, and the gradients reach the encoder through them. The call is then one graph node
with several inputs (the sequence, then the states) and several outputs, which :class:`OutputItem` nodes pick.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.initializers import get_initializer
from sudoless.nn.layers.base import Array, Layer, Node, Shape, connect, last_axis, register

STATE_NAMES = ("output", "state_h", "state_c")


@register
class OutputItem(Layer):
    """Item ``index`` of a layer call with several outputs (a recurrent layer's output and final states).

    Its backward hands the layer a list with this item's gradient in its place and None elsewhere; the model
    sums the lists of all items of one call.
    """

    def __init__(self, index: int, name: str | None = None) -> None:
        super().__init__(name)
        self.index = int(index)

    def output_shape(self, input_shape: Any) -> Any:
        return input_shape[self.index]

    def forward(self, x: Any, training: bool = False, mask: Any = None) -> Any:
        self._count = len(x)
        return x[self.index]

    def backward(self, dy: Array) -> list[Array | None]:
        grads: list[Array | None] = [None] * self._count
        grads[self.index] = dy
        return grads

    def compute_mask(self, mask: Any) -> Array | None:
        return mask[self.index] if isinstance(mask, list) else None

    def get_config(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name}


def call_with_states(layer: Layer, inputs: Node, initial_state: Any, states: int, return_state: bool) -> Any:
    """The functional call of a recurrent layer: ``initial_state`` (``states`` nodes) joins the input as one
    node with several inputs; with ``return_state`` the call's outputs come back as separate nodes."""
    if not isinstance(inputs, Node):
        raise TypeError("call a layer on Input() nodes to build a model; use forward() on arrays")
    if initial_state is None:
        node = connect(layer, inputs)
    else:
        given = list(initial_state) if isinstance(initial_state, list | tuple) else [initial_state]
        if len(given) != states or not all(isinstance(g, Node) for g in given):
            raise InputError(f"{type(layer).__name__} takes {states} initial state node(s), got {len(given)}")
        node = connect(layer, [inputs, *given])
    if not return_state:
        return node
    return [connect(OutputItem(k), node) for k in range(1 + states)]


def split_states(x: Any, mask: Any) -> tuple[Array, tuple[Array, ...], Array | None]:
    """A call's sequence, its given initial states (none when called on the sequence alone) and its mask."""
    if isinstance(x, list):
        return x[0], tuple(x[1:]), mask[0] if isinstance(mask, list) else mask
    return x, (), mask


def add_gradients(a: Any, b: Any) -> Any:
    """The sum of two gradients reaching one node: arrays, or lists of arrays and None (several outputs)."""
    if isinstance(a, list):
        return [y if x is None else x if y is None else x + y for x, y in zip(a, b, strict=True)]
    return a + b


class Recurrent(Layer):
    """Base of RNN, LSTM and GRU.

    ``return_sequences`` gives ``(B, T, H)`` outputs, otherwise the last state ``(B, H)``. ``reverse`` runs
    from the last step to the first and returns outputs aligned with the input's time order (what
    :class:`~sudoless.nn.layers.wrappers.Bidirectional` needs). ``stateful`` carries the final state into the
    next call, detached from the graph: truncated back-propagation through time and step-by-step sampling.
    """

    gates = 1
    state_count = 1
    # What the forward pass keeps for the backward one: the time-major input, the hidden states (with the
    # initial one first) and the mask.
    _xt: Array
    _hs: Array
    _mask: Array | None

    def __init__(
        self,
        units: int,
        return_sequences: bool = False,
        reverse: bool = False,
        stateful: bool = False,
        kernel_initializer: str = "glorot_uniform",
        recurrent_initializer: str = "orthogonal",
        bias_initializer: str = "zeros",
        return_state: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.units = int(units)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.reverse = reverse
        self.stateful = stateful
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self._state: tuple[Array, ...] | None = None

    # -- parameters ------------------------------------------------------------------------------------------

    def __call__(self, inputs: Any, initial_state: Any = None) -> Any:
        """Functional API; ``initial_state`` takes the starting states' nodes, and with ``return_state`` the
        result is ``[output, *final states]``."""
        return call_with_states(self, inputs, initial_state, self.state_count, self.return_state)

    def build(self, input_shape: Any, rng: np.random.Generator, dtype: Any = np.float32) -> Any:
        if isinstance(input_shape, list):  # the sequence's shape, then the initial states'
            for shape in input_shape[1:]:
                if tuple(shape) != (self.units,):
                    raise InputError(f"{type(self).__name__}'s initial states have shape ({self.units},), got {shape}")
            super().build(input_shape[0], rng, dtype)
            return self.output_shape(input_shape)
        return super().build(input_shape, rng, dtype)

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        if len(input_shape) != 2:
            raise InputError(f"{type(self).__name__} expects (time, features) inputs, got shape {input_shape}")
        features, width = last_axis(input_shape), self.gates * self.units
        self.add_param("W", get_initializer(self.kernel_initializer)((features, width), rng))
        self.add_param("U", get_initializer(self.recurrent_initializer)((self.units, width), rng))
        self.add_param("b", self._initial_bias(get_initializer(self.bias_initializer)((width,), rng)))

    def _initial_bias(self, bias: Array) -> Array:
        return bias

    def output_shape(self, input_shape: Any) -> Any:
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        out = (input_shape[0], self.units) if self.return_sequences else (self.units,)
        return [out, *[(self.units,)] * self.state_count] if self.return_state else out

    def compute_mask(self, mask: Any) -> Any:
        if isinstance(mask, list):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out, *[None] * self.state_count] if self.return_state else out

    # -- state -----------------------------------------------------------------------------------------------

    def reset_states(self) -> None:
        self._state = None

    def set_stateful(self, stateful: bool) -> None:
        self.stateful = stateful
        if not stateful:
            self._state = None

    def _initial_state(self, batch: int) -> tuple[Array, ...]:
        if self.stateful and self._state is not None and self._state[0].shape[0] == batch:
            return self._state
        return tuple(np.zeros((batch, self.units), self.dtype) for _ in range(self.state_count))

    # -- the loop --------------------------------------------------------------------------------------------

    def forward(self, x: Any, training: bool = False, mask: Any = None) -> Any:
        x, given, mask = split_states(x, mask)
        if x.ndim != 3:
            raise InputError(f"{type(self).__name__} expects (batch, time, features) inputs, got shape {x.shape}")
        xt = x.transpose(1, 0, 2)
        m = None if mask is None else mask.T.astype(self.dtype)[:, :, None]
        if self.reverse:
            xt = xt[::-1]
            m = None if m is None else m[::-1]
        xt = np.ascontiguousarray(xt, dtype=self.dtype)
        self._mask = None if m is None else np.ascontiguousarray(m)
        self._given = len(given)
        if given:
            if len(given) != self.state_count:
                raise InputError(f"{type(self).__name__} takes {self.state_count} initial state(s), got {len(given)}")
            start = tuple(np.ascontiguousarray(g, dtype=self.dtype) for g in given)
        else:
            start = self._initial_state(x.shape[0])
        hs, final = self._scan(xt, self._mask, start)
        if self.stateful:
            self._state = tuple(s.copy() for s in final)
        if not self.return_sequences:
            out = final[0].copy() if self.return_state else final[0]
        else:
            out = hs if self._mask is None else hs * self._mask
            if self.reverse:
                out = out[::-1]
            out = out.transpose(1, 0, 2)
        return [out, *(s.copy() for s in final)] if self.return_state else out

    def backward(self, dy: Any) -> Any:
        if self.return_state:
            d_out, d_states = dy[0], list(dy[1:])
        else:
            d_out, d_states = dy, [None] * self.state_count
        dfinal: list[Array | None] = [None if g is None else np.array(g, dtype=self.dtype) for g in d_states]
        dseq = None
        if d_out is not None and self.return_sequences:
            dseq = d_out.transpose(1, 0, 2)
            if self.reverse:
                dseq = dseq[::-1]
            if self._mask is not None:
                dseq = dseq * self._mask
            dseq = np.ascontiguousarray(dseq, dtype=self.dtype)
        elif d_out is not None:
            dfinal[0] = np.array(d_out, dtype=self.dtype) if dfinal[0] is None else dfinal[0] + d_out
        dxt, dstart = self._scan_backward(dseq, tuple(dfinal))
        dx = None
        if dxt is not None and self.input_grad:
            if self.reverse:
                dxt = dxt[::-1]
            dx = dxt.transpose(1, 0, 2)
        return [dx, *dstart] if self._given else dx

    def _scan(self, xt: Array, mask: Array | None, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...]]:
        """Run the recurrence over time-major ``xt``; return the hidden states ``(T, B, H)`` and the final state."""
        raise NotImplementedError

    def _scan_backward(
        self, dseq: Array | None, dfinal: tuple[Array | None, ...]
    ) -> tuple[Array | None, tuple[Array, ...]]:
        """Back-propagate through time from the outputs' gradients (``dseq``) and the final states' (``dfinal``,
        None where none arrives); write parameter gradients and return ``dx`` time-major and the gradients of
        the initial states."""
        raise NotImplementedError

    def _through_time(
        self, dseq: Array | None, dlast: Array | None, step: Callable[[int, Array], tuple[Array, Array | None]]
    ) -> Array:
        """The backward walk over time that RNN and GRU share, from the last step to the first.

        ``dh`` holds the gradient reaching the hidden state at step t: the output's own (``dseq``, ``dlast``)
        plus what flowed back from step t+1. ``step(t, dh)`` returns the pre-activation gradients of the
        recurrent product at step t, ``(B, kH)``, and any part of ``dh`` that reaches ``h_{t-1}`` directly
        rather than through ``U`` (GRU's ``z ⊙ h`` path; None for RNN). At a masked step the state was carried
        unchanged, so the gradient passes straight through it. Returns the gradient of the initial state.
        """
        mask = self._mask
        batch, hidden = self._hs.shape[1:]
        dh = np.zeros((batch, hidden), self.dtype) if dlast is None else dlast.copy()
        ut = np.ascontiguousarray(self.params["U"].T)
        for t in range(self._hs.shape[0] - 2, -1, -1):
            if dseq is not None:
                dh += dseq[t]
            if mask is not None:
                keep = dh * (1.0 - mask[t])
                dh *= mask[t]
            dz, carried = step(t, dh)
            np.matmul(dz, ut, out=dh)
            if carried is not None:
                dh += carried
            if mask is not None:
                dh += keep
        return dh

    def _recurrent_gradient(self, dz: Array) -> None:
        """The gradient of ``U`` from the recurrent pre-activation gradients of all steps ``(T, B, kH)``: one GEMM."""
        hs = self._hs
        np.matmul(hs[:-1].reshape(-1, hs.shape[-1]).T, dz.reshape(-1, dz.shape[-1]), out=self.grads["U"])

    def _input_gradients(self, dz: Array) -> Array | None:
        """Gradients of W and b from the stacked pre-activation gradients ``(T, B, kH)``; returns ``dx``."""
        xt = self._xt
        flat = dz.reshape(-1, dz.shape[-1])
        np.matmul(xt.reshape(-1, xt.shape[-1]).T, flat, out=self.grads["W"])
        np.sum(flat, axis=0, out=self.grads["b"])
        if not self.input_grad:
            return None
        return (flat @ self.params["W"].T).reshape(xt.shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "return_sequences": self.return_sequences,
            "reverse": self.reverse,
            "stateful": self.stateful,
            "kernel_initializer": self.kernel_initializer,
            "recurrent_initializer": self.recurrent_initializer,
            "bias_initializer": self.bias_initializer,
            "return_state": self.return_state,
            "name": self.name,
        }


def carry_masked(new: Array, old: Array, m: Array) -> None:
    """``new = m*new + (1-m)*old`` in place: padded steps keep the previous state."""
    new -= old
    new *= m
    new += old


@register
class RNN(Recurrent):
    """Elman recurrence ``h_t = tanh(x_t W + h_{t-1} U + b)``."""

    def _scan(self, xt: Array, mask: Array | None, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...]]:
        steps, batch, _ = xt.shape
        hidden = self.units
        self._xt = xt
        hs = np.empty((steps + 1, batch, hidden), self.dtype)
        hs[0] = state[0]
        pre = (xt.reshape(-1, xt.shape[-1]) @ self.params["W"]).reshape(steps, batch, hidden)
        pre += self.params["b"]
        u = self.params["U"]
        rec = np.empty((batch, hidden), self.dtype)
        for t in range(steps):
            np.matmul(hs[t], u, out=rec)
            np.add(pre[t], rec, out=hs[t + 1])
            np.tanh(hs[t + 1], out=hs[t + 1])
            if mask is not None:
                pre[t] = hs[t + 1]
                carry_masked(hs[t + 1], hs[t], mask[t])
        self._hs = hs
        self._act = pre if mask is not None else hs[1:]
        return hs[1:], (hs[steps],)

    def _scan_backward(
        self, dseq: Array | None, dfinal: tuple[Array | None, ...]
    ) -> tuple[Array | None, tuple[Array, ...]]:
        act = self._act
        deriv = 1.0 - act * act
        dz = np.empty_like(act)

        def step(t: int, dh: Array) -> tuple[Array, None]:
            return np.multiply(dh, deriv[t], out=dz[t]), None

        dstart = self._through_time(dseq, dfinal[0], step)
        self._recurrent_gradient(dz)
        return self._input_gradients(dz), (dstart,)
