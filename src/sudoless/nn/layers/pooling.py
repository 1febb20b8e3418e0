"""Max and average pooling over windows (1-D and 2-D, channels last) and over the whole of each example.

Windows come from the same strided view as the convolutions (:mod:`~sudoless.nn.layers.windows`); the
maximum is taken position by position over the window (one vectorised ``maximum`` per kernel position). Max
pooling sends each window's gradient to the position of its maximum (the first one on ties, as PyTorch does);
average pooling spreads it evenly. With ``same`` padding the padded cells never win a maximum and do not count
in an average (Keras's behaviour).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.base import LAYERS, Array, Layer, Shape, register
from sudoless.nn.layers.windows import Window, as_image, check_padding, crop, fold, pad, pair, patches, taps


class Pooling(Layer):
    """Shared by the four window-pooling layers; ``strides`` default to ``pool_size`` (windows do not overlap)."""

    rank = 2
    kind = "max"

    def __init__(
        self, pool_size: Any = 2, strides: Any = None, padding: str = "valid", name: str | None = None
    ) -> None:
        super().__init__(name)
        self.pool_size, self.strides = pool_size, strides
        self.padding = check_padding(padding)
        size = self._pair(pool_size, "pool_size")
        stride = size if strides is None else self._pair(strides, "strides")
        self.window = Window(size, stride, (1, 1), self.padding)

    def _pair(self, value: Any, what: str) -> tuple[int, int]:
        if self.rank == 1:
            if isinstance(value, list | tuple):
                raise InputError(f"{what} of a 1-D layer is one number, got {value!r}")
            return pair([1, value], what)
        return pair(value, what)

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != self.rank + 1:
            raise InputError(
                f"{type(self).__name__} expects inputs of {self.rank + 1} axes per example, got {input_shape}"
            )
        if self.rank == 1:
            return (self.window.output_shape(1, input_shape[0])[1], input_shape[-1])
        return (*self.window.output_shape(input_shape[0], input_shape[1]), input_shape[-1])

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        image = as_image(x) if self.rank == 1 else x
        batch, height, width, channels = image.shape
        out, pads = self.window.plan(height, width)
        fill = -np.inf if self.kind == "max" else 0.0
        xp = pad(image, pads, fill)
        view = patches(xp, self.window, out)
        self._padded, self._pads = xp.shape, pads
        if self.kind == "max":
            # The running maximum and the kernel position that holds it (the first one on ties: a later
            # position must be strictly greater to take over), kept for the backward pass instead of the
            # window view, which would keep the padded input alive and need a second comparison per position.
            # Positions only grow, so "take over where greater" is a maximum with ``greater · position``
            # (several times faster than a masked copy).
            y = view[:, :, :, 0, 0, :].copy()
            positions = self.window.size[0] * self.window.size[1]
            best = np.zeros(y.shape, np.uint8 if positions <= 256 else np.int32)
            for position, (i, j, _, _) in enumerate(taps(self.window, out)):
                if position:
                    candidate = view[:, :, :, i, j, :]
                    greater = np.greater(candidate, y)
                    np.maximum(y, candidate, out=y)
                    np.maximum(best, np.multiply(greater, position, dtype=best.dtype), out=best)
            self._best = best
        else:
            if any(pads[0]) or any(pads[1]):
                ones = pad(np.ones((1, height, width, 1), image.dtype), pads)
                self._count = patches(ones, self.window, out).sum(axis=(3, 4))
            else:
                self._count = np.asarray(self.window.size[0] * self.window.size[1], image.dtype)
            y = view.sum(axis=(3, 4)) / self._count
        return y[:, 0] if self.rank == 1 else y

    def backward(self, dy: Array) -> Array:
        image_dy = as_image(dy) if self.rank == 1 else dy
        batch, out_h, out_w, channels = image_dy.shape
        if self.kind == "max":
            # Each window's gradient goes to the first position (in row-major order) that holds its maximum.
            # Windows that do not overlap (the usual stride = pool size) write each input cell at most once,
            # straight into the strided slice; overlapping ones add.
            padded = np.zeros(self._padded, dy.dtype)
            disjoint = all(s >= k for s, k in zip(self.window.stride, self.window.size, strict=True))
            for position, (_, _, rows, columns) in enumerate(taps(self.window, (out_h, out_w))):
                hit = self._best == position
                if disjoint:
                    np.multiply(image_dy, hit, out=padded[:, rows, columns, :])
                else:
                    padded[:, rows, columns, :] += image_dy * hit
            dx = crop(padded, self._pads)
        else:
            kh, kw = self.window.size
            share = image_dy / self._count
            cols = np.broadcast_to(share[:, :, :, None, None, :], (batch, out_h, out_w, kh, kw, channels))
            dx = fold(cols, self._padded, self.window, self._pads)
        return dx[:, 0] if self.rank == 1 else dx

    def get_config(self) -> dict[str, Any]:
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding, "name": self.name}


@register
class MaxPooling2D(Pooling):
    """The largest value of each window of an ``(height, width, channels)`` image."""


@register
class AveragePooling2D(Pooling):
    """The mean of each window of an ``(height, width, channels)`` image."""

    kind = "average"


@register
class MaxPooling1D(Pooling):
    """The largest value of each window of a ``(length, channels)`` sequence."""

    rank = 1


@register
class AveragePooling1D(Pooling):
    """The mean of each window of a ``(length, channels)`` sequence."""

    rank = 1
    kind = "average"


class GlobalPooling(Layer):
    """Reduce every axis between the batch and the channels to one value per channel: ``(B, ..., C) -> (B, C)``."""

    rank = 2
    kind = "max"

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != self.rank + 1:
            raise InputError(
                f"{type(self).__name__} expects inputs of {self.rank + 1} axes per example, got {input_shape}"
            )
        return (input_shape[-1],)

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        self._shape = x.shape
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        if self.kind == "max":
            self._argmax = np.argmax(flat, axis=1)[:, None, :]
            return np.take_along_axis(flat, self._argmax, axis=1)[:, 0]
        return flat.mean(axis=1)

    def backward(self, dy: Array) -> Array:
        batch, channels = dy.shape
        positions = int(np.prod(self._shape[1:-1]))
        if self.kind == "max":
            dx = np.zeros((batch, positions, channels), dy.dtype)
            np.put_along_axis(dx, self._argmax, dy[:, None, :], axis=1)
        else:
            dx = np.broadcast_to(dy[:, None, :] / positions, (batch, positions, channels)).copy()
        return dx.reshape(self._shape)

    def compute_mask(self, mask: Array | None) -> Array | None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


@register
class GlobalMaxPooling2D(GlobalPooling):
    """The largest value of each channel over the whole image."""


@register
class GlobalAveragePooling2D(GlobalPooling):
    """The mean of each channel over the whole image (the head of most modern CNNs)."""

    kind = "average"


@register
class GlobalMaxPooling1D(GlobalPooling):
    """The largest value of each channel over the whole sequence."""

    rank = 1


@register
class GlobalAveragePooling1D(GlobalPooling):
    """The mean of each channel over the whole sequence."""

    rank = 1
    kind = "average"


#: Keras's shorter names for the same layers.
for _alias, _cls in {
    "MaxPool1D": MaxPooling1D,
    "MaxPool2D": MaxPooling2D,
    "AvgPool1D": AveragePooling1D,
    "AvgPool2D": AveragePooling2D,
}.items():
    LAYERS[_alias] = _cls
