"""Convolutions over channels-last sequences (Conv1D) and images (Conv2D), as im2col plus one GEMM.

Every window of the (padded) input is gathered through a strided view into one ``(windows, k_h·k_w·C)``
matrix, which a single matrix product with the ``(k_h·k_w·C, filters)`` kernel turns into the output; the
backward pass is two more products and a fold of the window gradients back into the image. With ``groups``
the channels split into independent groups, computed as one batched product. Kernels are laid out as Keras
lays them, ``(k_h, k_w, C / groups, filters)`` (``(k, C / groups, filters)`` in 1-D).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.initializers import get_initializer
from sudoless.nn.layers.activations import Activated
from sudoless.nn.layers.base import Array, Shape, register
from sudoless.nn.layers.windows import Window, as_image, check_padding, fold, pad, pair, patches


class Convolution(Activated):
    """Shared by Conv1D and Conv2D: the 1-D layer is the 2-D one on images of height 1."""

    rank = 2

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 dilation_rate: Any = 1, groups: int = 1, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 activation: str | None = None, name: str | None = None) -> None:
        super().__init__(activation, name)
        self.filters = int(filters)
        self.groups = int(groups)
        if self.filters < 1 or self.groups < 1 or self.filters % self.groups:
            raise InputError(f"filters ({filters}) must be a positive multiple of groups ({groups})")
        self.kernel_size, self.strides, self.dilation_rate = kernel_size, strides, dilation_rate
        self.padding = check_padding(padding)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.window = Window(self._pair(kernel_size, "kernel_size"), self._pair(strides, "strides"),
                             self._pair(dilation_rate, "dilation_rate"), self.padding)

    def _pair(self, value: Any, what: str) -> tuple[int, int]:
        if self.rank == 1:
            if isinstance(value, list | tuple) and len(value) == 1:
                value = value[0]
            if isinstance(value, list | tuple):
                raise InputError(f"{what} of a 1-D layer is one number, got {value!r}")
            return pair([1, value], what)
        return pair(value, what)

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        if len(input_shape) != self.rank + 1:
            raise InputError(f"{type(self).__name__} expects inputs of {self.rank + 1} axes per example "
                             f"({'length' if self.rank == 1 else 'height, width'}, channels), got {input_shape}")
        channels = int(input_shape[-1])  # type: ignore[arg-type]
        if channels % self.groups:
            raise InputError(f"{channels} input channels do not split into {self.groups} groups")
        size = self.window.size[2 - self.rank:]
        shape = (*size, channels // self.groups, self.filters)
        self.add_param("W", get_initializer(self.kernel_initializer)(shape, rng))
        if self.use_bias:
            self.add_param("b", get_initializer(self.bias_initializer)((self.filters,), rng))

    def output_shape(self, input_shape: Shape) -> Shape:
        if self.rank == 1:
            (length,) = self.window.output_shape(1, input_shape[0])[1:]
            return (length, self.filters)
        return (*self.window.output_shape(input_shape[0], input_shape[1]), self.filters)

    def _forward(self, x: Array, training: bool) -> Array:
        image = as_image(x) if self.rank == 1 else x
        batch, height, width, channels = image.shape
        out, pads = self.window.plan(height, width)
        xp = pad(image, pads)
        groups, count = self.groups, batch * out[0] * out[1]
        taps = self.window.size[0] * self.window.size[1]
        cols = patches(xp, self.window, out).reshape(count, taps, groups, channels // groups)
        cols = cols.transpose(2, 0, 1, 3).reshape(groups, count, -1)
        y = np.matmul(cols, self._grouped_kernel())
        y = y.transpose(1, 0, 2).reshape(batch, out[0], out[1], self.filters)
        if self.use_bias:
            y += self.params["b"]
        self._cols, self._padded, self._pads = cols, xp.shape, pads
        return y[:, 0] if self.rank == 1 else y

    def _grouped_kernel(self) -> Array:
        """The kernel as ``(groups, k_h·k_w·C/groups, filters/groups)`` (a view, no copy)."""
        w = self.params["W"]
        return w.reshape(-1, self.groups, self.filters // self.groups).transpose(1, 0, 2)

    def _backward(self, dy: Array) -> Array | None:
        groups, cols = self.groups, self._cols
        dy2 = dy.reshape(-1, groups, self.filters // groups).transpose(1, 0, 2)
        dw = np.matmul(cols.transpose(0, 2, 1), dy2)
        self.grads["W"][...] = dw.transpose(1, 0, 2).reshape(self.grads["W"].shape)
        if self.use_bias:
            np.sum(dy.reshape(-1, self.filters), axis=0, out=self.grads["b"])
        if not self.input_grad:
            return None
        dcols = np.matmul(dy2, self._grouped_kernel().transpose(0, 2, 1))
        batch, height, width, channels = self._padded
        kh, kw = self.window.size
        out_h, out_w = (1, dy.shape[1]) if self.rank == 1 else dy.shape[1:3]
        dcols = dcols.reshape(groups, batch, out_h, out_w, kh, kw, channels // groups)
        dcols = dcols.transpose(1, 2, 3, 4, 5, 0, 6).reshape(batch, out_h, out_w, kh, kw, channels)
        dx = fold(dcols, self._padded, self.window, self._pads)
        return dx[:, 0] if self.rank == 1 else dx

    def get_config(self) -> dict[str, Any]:
        return {"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "dilation_rate": self.dilation_rate, "groups": self.groups,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer, "activation": self.activation, "name": self.name}


@register
class Conv2D(Convolution):
    """2-D convolution over ``(height, width, channels)`` images; ``kernel_size``, ``strides`` and
    ``dilation_rate`` are a number or a ``[height, width]`` pair."""

    rank = 2


@register
class Conv1D(Convolution):
    """1-D convolution over ``(length, channels)`` sequences (text, signals)."""

    rank = 1
