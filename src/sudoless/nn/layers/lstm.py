"""Long short-term memory layer, written for speed on CPUs."""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.nn.layers.base import Array, register
from sudoless.nn.layers.recurrent import Recurrent, carry_masked


@register
class LSTM(Recurrent):
    """LSTM with the four gates fused into one ``(D, 4H)`` input and one ``(H, 4H)`` recurrent kernel.

    Gate order is ``[g, i, f, o]`` (candidate, input, forget, output) so the three sigmoid gates are one
    contiguous block. All four gates are activated by one ``exp`` per step: the kernels' columns are scaled
    by -1 (sigmoid gates) and -2 (candidate) beforehand, so ``1 / (1 + exp(·))`` gives ``σ(z)`` and ``σ(2z)``,
    and ``tanh(z) = 2σ(2z) - 1``. NumPy's ``exp`` is about twice as fast as its ``tanh``, and ``exp`` overflowing
    to ``inf`` gives the right limit 0. The forget-gate bias starts at 1 (Gers et al. 2000; Jozefowicz et al.
    2015) so early gradients flow through the cell state.
    """

    gates = 4
    state_count = 2

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias

    def _initial_bias(self, bias: Array) -> Array:
        if self.unit_forget_bias:
            bias[2 * self.units : 3 * self.units] = 1.0
        return bias

    def _scaled(self, name: str) -> Array:
        scaled = self.params[name] * np.asarray(-1.0, self.dtype)
        scaled[..., : self.units] *= 2.0
        return scaled

    def _scan(self, xt: Array, mask: Array | None, state: tuple[Array, ...]) -> tuple[Array, tuple[Array, ...]]:
        steps, batch, features = xt.shape
        h = self.units
        self._xt = xt
        acts = (xt.reshape(-1, features) @ self._scaled("W")).reshape(steps, batch, 4 * h)
        acts += self._scaled("b")
        u = self._scaled("U")
        hs = np.empty((steps + 1, batch, h), self.dtype)
        cs = np.empty((steps + 1, batch, h), self.dtype)
        tanh_c = np.empty((steps, batch, h), self.dtype)
        hs[0], cs[0] = state
        rec = np.empty((batch, 4 * h), self.dtype)
        ig = np.empty((batch, h), self.dtype)
        with np.errstate(over="ignore"):
            for t in range(steps):
                self._step(t, acts[t], u, hs, cs, tanh_c, rec, ig, mask)
        self._hs, self._cs, self._acts, self._tanh_c = hs, cs, acts, tanh_c
        return hs[1:], (hs[steps], cs[steps])

    def _step(
        self, t: int, z: Array, u: Array, hs: Array, cs: Array, tanh_c: Array, rec: Array, ig: Array, mask: Array | None
    ) -> None:
        h = self.units
        np.matmul(hs[t], u, out=rec)
        z += rec
        np.exp(z, out=z)
        z += 1.0
        np.divide(1.0, z, out=z)
        g = z[:, :h]
        g *= 2.0
        g -= 1.0
        c = cs[t + 1]
        np.multiply(z[:, 2 * h : 3 * h], cs[t], out=c)
        np.multiply(z[:, h : 2 * h], g, out=ig)
        c += ig
        np.tanh(c, out=tanh_c[t])
        np.multiply(z[:, 3 * h :], tanh_c[t], out=hs[t + 1])
        if mask is not None:
            carry_masked(c, cs[t], mask[t])
            carry_masked(hs[t + 1], hs[t], mask[t])

    def _scan_backward(
        self, dseq: Array | None, dfinal: tuple[Array | None, ...]
    ) -> tuple[Array | None, tuple[Array, ...]]:
        hs, cs, acts, tanh_c, mask = self._hs, self._cs, self._acts, self._tanh_c, self._mask
        steps, batch, width = acts.shape
        h = self.units
        g, i, f, o = (acts[..., k * h : (k + 1) * h] for k in range(4))
        # Local derivatives for all steps at once (few large operations rather than many small ones), in place
        # so that no step-sized temporaries are allocated.
        sig = acts[..., h:]
        dsig = np.multiply(sig, sig)
        np.subtract(sig, dsig, out=dsig)
        through_c = np.multiply(tanh_c, tanh_c)
        np.subtract(1.0, through_c, out=through_c)
        through_c *= o
        to_o = dsig[..., 2 * h :]
        to_o *= tanh_c
        to_gif = np.empty((steps, batch, 3, h), self.dtype)
        np.multiply(g, g, out=to_gif[:, :, 0])
        np.subtract(1.0, to_gif[:, :, 0], out=to_gif[:, :, 0])
        to_gif[:, :, 0] *= i
        np.multiply(g, dsig[..., :h], out=to_gif[:, :, 1])
        np.multiply(cs[:-1], dsig[..., h : 2 * h], out=to_gif[:, :, 2])
        dz = np.empty((steps, batch, width), self.dtype)
        dz4 = dz.reshape(steps, batch, 4, h)
        dh = np.zeros((batch, h), self.dtype) if dfinal[0] is None else dfinal[0].copy()
        dc = np.zeros((batch, h), self.dtype) if dfinal[1] is None else dfinal[1].copy()
        tmp = np.empty((batch, h), self.dtype)
        ut = np.ascontiguousarray(self.params["U"].T)
        for t in range(steps - 1, -1, -1):
            if dseq is not None:
                dh += dseq[t]
            if mask is not None:
                keep_h, keep_c = dh * (1.0 - mask[t]), dc * (1.0 - mask[t])
                dh *= mask[t]
                dc *= mask[t]
            np.multiply(dh, through_c[t], out=tmp)
            dc += tmp
            np.multiply(dh, to_o[t], out=dz4[t, :, 3])
            np.multiply(dc[:, None, :], to_gif[t], out=dz4[t, :, :3])
            dc *= f[t]
            np.matmul(dz[t], ut, out=dh)
            if mask is not None:
                dh += keep_h
                dc += keep_c
        np.matmul(hs[:-1].reshape(-1, h).T, dz.reshape(-1, width), out=self.grads["U"])
        return self._input_gradients(dz), (dh, dc)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
