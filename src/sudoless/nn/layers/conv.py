"""Convolutions over channels-last sequences (Conv1D) and images (Conv2D), as im2col plus one GEMM.

Every window of the (padded) input is gathered through a strided view into one ``(windows, k_h·k_w·C)``
matrix, which a single matrix product with the ``(k_h·k_w·C, filters)`` kernel turns into the output; the
backward pass is one product for the kernel gradient and, for the input gradient, one small product per
kernel position added into the strided slice of the image it read. With ``groups`` the channels split into
independent groups, one product each. Kernels are laid out as Keras
lays them, ``(k_h, k_w, C / groups, filters)`` (``(k, C / groups, filters)`` in 1-D).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.initializers import get_initializer
from sudoless.nn.layers.activations import Activated
from sudoless.nn.layers.base import Array, Shape, last_axis, register
from sudoless.nn.layers.windows import Window, as_image, check_padding, crop, pad, pair, patches, taps


class Convolution(Activated):
    """Shared by Conv1D and Conv2D: the 1-D layer is the 2-D one on images of height 1."""

    rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        dilation_rate: Any = 1,
        groups: int = 1,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        activation: str | None = None,
        name: str | None = None,
    ) -> None:
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
        self.window = Window(
            self._pair(kernel_size, "kernel_size"),
            self._pair(strides, "strides"),
            self._pair(dilation_rate, "dilation_rate"),
            self.padding,
        )

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
            raise InputError(
                f"{type(self).__name__} expects inputs of {self.rank + 1} axes per example "
                f"({'length' if self.rank == 1 else 'height, width'}, channels), got {input_shape}"
            )
        channels = last_axis(input_shape)
        if channels % self.groups:
            raise InputError(f"{channels} input channels do not split into {self.groups} groups")
        size = self.window.size[2 - self.rank :]
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
        positions = self.window.size[0] * self.window.size[1]
        cols: Array = patches(xp, self.window, out).reshape(count, positions, groups, channels // groups)
        cols = cols.transpose(2, 0, 1, 3).reshape(groups, count, -1)  # a copy: every window as one row
        kernel = self.params["W"].reshape(cols.shape[2], self.filters)
        if groups == 1:
            y = cols[0] @ kernel
        else:
            y = np.empty((count, self.filters), x.dtype)
            for g, part in enumerate(self._group_slices()):
                y[:, part] = cols[g] @ kernel[:, part]
        if self.use_bias:
            y += self.params["b"]
        self._cols, self._padded, self._pads, self._out = cols, xp.shape, pads, out
        y = y.reshape(batch, out[0], out[1], self.filters)
        return y[:, 0] if self.rank == 1 else y

    def _group_slices(self) -> list[slice]:
        size = self.filters // self.groups
        return [slice(g * size, (g + 1) * size) for g in range(self.groups)]

    def _backward(self, dy: Array) -> Array | None:
        cols = self._cols
        dy2 = dy.reshape(-1, self.filters)
        dw = self.grads["W"].reshape(cols.shape[2], self.filters)
        if self.groups == 1:
            np.matmul(cols[0].T, dy2, out=dw)
        else:
            for g, part in enumerate(self._group_slices()):
                dw[:, part] = cols[g].T @ dy2[:, part]
        if self.use_bias:
            np.sum(dy2, axis=0, out=self.grads["b"])
        if not self.input_grad:
            return None
        return self._input_gradient(dy2)

    def _input_gradient(self, dy2: Array) -> Array:
        """``dx``: for each kernel position one product ``dy · W[i, j]ᵀ``, added into the strided slice of the
        padded image that position read; never materialises the ``(windows, k_h·k_w·C)`` gradient matrix."""
        window, padded, out = self.window, self._padded, self._out
        batch, channels = padded[0], padded[3]
        per_group = channels // self.groups
        kernel = self.params["W"].reshape(window.size[0] * window.size[1], per_group, self.filters)
        dx = np.zeros(padded, dy2.dtype)
        for i, j, rows, columns in taps(window, out):
            tap = kernel[i * window.size[1] + j]
            if self.groups == 1:
                part = dy2 @ tap.T
            else:
                part = np.empty((dy2.shape[0], channels), dy2.dtype)
                for g, filters in enumerate(self._group_slices()):
                    part[:, g * per_group : (g + 1) * per_group] = dy2[:, filters] @ tap[:, filters].T
            dx[:, rows, columns, :] += part.reshape(batch, out[0], out[1], channels)
        dx = crop(dx, self._pads)
        return dx[:, 0] if self.rank == 1 else dx

    def get_config(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "activation": self.activation,
            "name": self.name,
        }


@register
class Conv2D(Convolution):
    """2-D convolution over ``(height, width, channels)`` images; ``kernel_size``, ``strides`` and
    ``dilation_rate`` are a number or a ``[height, width]`` pair."""

    rank = 2


@register
class Conv1D(Convolution):
    """1-D convolution over ``(length, channels)`` sequences (text, signals)."""

    rank = 1
