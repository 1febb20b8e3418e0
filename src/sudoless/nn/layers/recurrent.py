"""Recurrent layers: the shared time loop, masking and state handling, and the plain tanh RNN.

Inputs are batch-major ``(B, T, D)`` as users hold them; the loop runs time-major ``(T, B, ·)`` so every step
reads and writes contiguous blocks. The input projection of all T steps is one GEMM before the loop and the
recurrent-kernel gradient one GEMM after it, so the loop itself holds only the unavoidable ``(B, H) @ (H, kH)``
product per step and a few element-wise operations on preallocated buffers.

Masking (``True`` = a real step): at a padded step the state is carried unchanged and the output is zero, so
the last state is the state after the last real step, for left or right padding alike, and a reversed layer
starts from a clean state at each sequence's last real step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.initializers import get_initializer
from sudoless.nn.layers.base import Array, Layer, Shape, last_axis, register


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
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.units = int(units)
        self.return_sequences = return_sequences
        self.reverse = reverse
        self.stateful = stateful
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self._state: tuple[Array, ...] | None = None

    # -- parameters ------------------------------------------------------------------------------------------

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        if len(input_shape) != 2:
            raise InputError(f"{type(self).__name__} expects (time, features) inputs, got shape {input_shape}")
        features, width = last_axis(input_shape), self.gates * self.units
        self.add_param("W", get_initializer(self.kernel_initializer)((features, width), rng))
        self.add_param("U", get_initializer(self.recurrent_initializer)((self.units, width), rng))
        self.add_param("b", self._initial_bias(get_initializer(self.bias_initializer)((width,), rng)))

    def _initial_bias(self, bias: Array) -> Array:
        return bias

    def output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def compute_mask(self, mask: Array | None) -> Array | None:
        return mask if self.return_sequences else None

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

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        if x.ndim != 3:
            raise InputError(f"{type(self).__name__} expects (batch, time, features) inputs, got shape {x.shape}")
        xt = x.transpose(1, 0, 2)
        m = None if mask is None else mask.T.astype(self.dtype)[:, :, None]
        if self.reverse:
            xt = xt[::-1]
            m = None if m is None else m[::-1]
        xt = np.ascontiguousarray(xt, dtype=self.dtype)
        self._mask = None if m is None else np.ascontiguousarray(m)
        hs, final = self._scan(xt, self._mask, self._initial_state(x.shape[0]))
        if self.stateful:
            self._state = tuple(s.copy() for s in final)
        if not self.return_sequences:
            return final[0]
        out = hs if self._mask is None else hs * self._mask
        if self.reverse:
            out = out[::-1]
        return out.transpose(1, 0, 2)

    def backward(self, dy: Array) -> Array | None:
        if self.return_sequences:
            dseq = dy.transpose(1, 0, 2)
            if self.reverse:
                dseq = dseq[::-1]
            if self._mask is not None:
                dseq = dseq * self._mask
            dseq, dlast = np.ascontiguousarray(dseq, dtype=self.dtype), None
        else:
            dseq, dlast = None, np.array(dy, dtype=self.dtype)
        dxt = self._scan_backward(dseq, dlast)
        if dxt is None or not self.input_grad:
            return None
        if self.reverse:
            dxt = dxt[::-1]
        return dxt.transpose(1, 0, 2)

    def _scan(self, xt: Array, mask: Array | None, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...]]:
        """Run the recurrence over time-major ``xt``; return the hidden states ``(T, B, H)`` and the final state."""
        raise NotImplementedError

    def _scan_backward(self, dseq: Array | None, dlast: Array | None) -> Array | None:
        """Back-propagate through time; write parameter gradients and return ``dx`` time-major."""
        raise NotImplementedError

    def _through_time(
        self, dseq: Array | None, dlast: Array | None, step: Callable[[int, Array], tuple[Array, Array | None]]
    ) -> None:
        """The backward walk over time that RNN and GRU share, from the last step to the first.

        ``dh`` holds the gradient reaching the hidden state at step t: the output's own (``dseq``, ``dlast``)
        plus what flowed back from step t+1. ``step(t, dh)`` returns the pre-activation gradients of the
        recurrent product at step t, ``(B, kH)``, and any part of ``dh`` that reaches ``h_{t-1}`` directly
        rather than through ``U`` (GRU's ``z ⊙ h`` path; None for RNN). At a masked step the state was carried
        unchanged, so the gradient passes straight through it.
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

    def _scan_backward(self, dseq: Array | None, dlast: Array | None) -> Array | None:
        act = self._act
        deriv = 1.0 - act * act
        dz = np.empty_like(act)

        def step(t: int, dh: Array) -> tuple[Array, None]:
            return np.multiply(dh, deriv[t], out=dz[t]), None

        self._through_time(dseq, dlast, step)
        self._recurrent_gradient(dz)
        return self._input_gradients(dz)
