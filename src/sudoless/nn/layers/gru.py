"""Gated recurrent unit."""

from __future__ import annotations

import numpy as np

from sudoless.nn.layers.activations import sigmoid
from sudoless.nn.layers.base import Array, Shape, register
from sudoless.nn.layers.recurrent import Recurrent, carry_masked


@register
class GRU(Recurrent):
    """GRU in the form cuDNN and PyTorch use: the reset gate scales the recurrent candidate *after* its product.

    ``r, z = σ(x W_rz + h U_rz + b_rz + c_rz)``; ``n = tanh(x W_n + b_n + r ⊙ (h U_n + c_n))``;
    ``h' = (1 - z) ⊙ n + z ⊙ h``. Gate order ``[r, z, n]``; ``b`` is the input bias and ``c`` the recurrent bias
    (redundant for r and z, needed for n).
    """

    gates = 3

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        super()._build(input_shape, rng)
        self.add_param("c", np.zeros(3 * self.units))

    def _scan(self, xt: Array, mask: Array | None, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...]]:
        steps, batch, features = xt.shape
        h = self.units
        self._xt = xt
        pre = (xt.reshape(-1, features) @ self.params["W"]).reshape(steps, batch, 3 * h)
        pre += self.params["b"]
        u, c = self.params["U"], self.params["c"]
        hs = np.empty((steps + 1, batch, h), self.dtype)
        hs[0] = state[0]
        rec = np.empty((steps, batch, 3 * h), self.dtype)
        for t in range(steps):
            np.matmul(hs[t], u, out=rec[t])
            rec[t] += c
            gates = pre[t]
            gates[:, : 2 * h] += rec[t, :, : 2 * h]
            sigmoid(gates[:, : 2 * h], out=gates[:, : 2 * h])
            n = gates[:, 2 * h :]
            n += gates[:, :h] * rec[t, :, 2 * h :]
            np.tanh(n, out=n)
            nxt = hs[t + 1]
            np.subtract(hs[t], n, out=nxt)
            nxt *= gates[:, h : 2 * h]
            nxt += n
            if mask is not None:
                carry_masked(nxt, hs[t], mask[t])
        self._hs, self._acts, self._rec = hs, pre, rec
        return hs[1:], (hs[steps],)

    def _scan_backward(
        self, dseq: Array | None, dfinal: tuple[Array | None, ...]
    ) -> tuple[Array | None, tuple[Array, ...]]:
        hs, acts, rec = self._hs, self._acts, self._rec
        h = self.units
        r, z, n = acts[..., :h], acts[..., h : 2 * h], acts[..., 2 * h :]
        dx = np.empty_like(acts)
        dr = np.empty_like(acts)

        def step(t: int, dh: Array) -> tuple[Array, Array]:
            dn = dh * (1.0 - z[t]) * (1.0 - n[t] * n[t])
            dx[t, :, 2 * h :] = dn
            dr[t, :, 2 * h :] = dn * r[t]
            dr[t, :, :h] = dn * rec[t, :, 2 * h :] * r[t] * (1.0 - r[t])
            dr[t, :, h : 2 * h] = dh * (hs[t] - n[t]) * z[t] * (1.0 - z[t])
            dx[t, :, : 2 * h] = dr[t, :, : 2 * h]
            return dr[t], dh * z[t]

        dstart = self._through_time(dseq, dfinal[0], step)
        self._recurrent_gradient(dr)
        np.sum(dr.reshape(-1, dr.shape[-1]), axis=0, out=self.grads["c"])
        return self._input_gradients(dx), (dstart,)
