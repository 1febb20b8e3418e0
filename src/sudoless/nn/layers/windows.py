"""Sliding windows over the spatial axes of channels-last images: the arithmetic convolutions and pooling share.

Everything works on ``(batch, height, width, channels)``; the 1-D layers add a height of 1. A window has a
size, a stride and a dilation per axis, and ``valid`` (no padding) or ``same`` padding (output size
``ceil(input / stride)``, the extra row or column at the end as Keras and TensorFlow place it).
:func:`patches` is a strided *view* of every window (no copy, no Python loop over pixels); :func:`fold` is its
adjoint, adding each window's gradient back into the image with one vectorised slice per kernel position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from sudoless.errors import InputError

Array = np.ndarray
PADDINGS = ("valid", "same")


def pair(value: Any, what: str) -> tuple[int, int]:
    """``3`` or ``[3, 3]`` as ``(3, 3)``; every entry a positive whole number."""
    items = list(value) if isinstance(value, list | tuple) else [value, value]
    if len(items) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in items):
        raise InputError(f"{what} must be a positive whole number or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def check_padding(padding: str) -> str:
    if padding not in PADDINGS:
        raise InputError(f"padding must be 'valid' or 'same', got {padding!r}")
    return padding


@dataclass(frozen=True)
class Window:
    """Size, stride and dilation per spatial axis, and the padding mode."""

    size: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: str

    def span(self, axis: int) -> int:
        return (self.size[axis] - 1) * self.dilation[axis] + 1

    def plan(self, height: int, width: int) -> tuple[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]]:
        """Output ``(height, width)`` and the ``(before, after)`` padding of each axis."""
        outs, pads = [], []
        for axis, size in enumerate((height, width)):
            span, stride = self.span(axis), self.stride[axis]
            if self.padding == "same":
                out = -(-size // stride)
                total = max((out - 1) * stride + span - size, 0)
                pads.append((total // 2, total - total // 2))
            else:
                out = (size - span) // stride + 1
                if out < 1:
                    raise InputError(
                        f"a window spanning {span} does not fit an input of size {size} with "
                        "padding 'valid'; use padding 'same' or a smaller window"
                    )
                pads.append((0, 0))
            outs.append(out)
        return (outs[0], outs[1]), (pads[0], pads[1])

    def output_shape(self, height: int | None, width: int | None) -> tuple[int | None, int | None]:
        if height is None or width is None:
            return height, width
        return self.plan(height, width)[0]


def pad(x: Array, pads: tuple[tuple[int, int], tuple[int, int]], value: float = 0.0) -> Array:
    if not any(pads[0]) and not any(pads[1]):
        return x
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=value)


def patches(xp: Array, window: Window, out: tuple[int, int]) -> Array:
    """A read-only view ``(B, out_h, out_w, k_h, k_w, C)`` of every window of the padded image ``xp``."""
    sb, sh, sw, sc = xp.strides
    shape = (xp.shape[0], out[0], out[1], window.size[0], window.size[1], xp.shape[3])
    strides = (sb, sh * window.stride[0], sw * window.stride[1], sh * window.dilation[0], sw * window.dilation[1], sc)
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def taps(window: Window, out: tuple[int, int]) -> Iterator[tuple[int, int, slice, slice]]:
    """For each kernel position ``(i, j)``, the strided rows and columns of the padded image it reads."""
    for i in range(window.size[0]):
        top = i * window.dilation[0]
        rows = slice(top, top + (out[0] - 1) * window.stride[0] + 1, window.stride[0])
        for j in range(window.size[1]):
            left = j * window.dilation[1]
            yield i, j, rows, slice(left, left + (out[1] - 1) * window.stride[1] + 1, window.stride[1])


def crop(dx: Array, pads: tuple[tuple[int, int], tuple[int, int]]) -> Array:
    """Cut the padding off a padded image's gradient."""
    (top, bottom), (left, right) = pads
    return dx[:, top : dx.shape[1] - bottom, left : dx.shape[2] - right, :]


def fold(
    cols: Array, padded_shape: tuple[int, ...], window: Window, pads: tuple[tuple[int, int], tuple[int, int]]
) -> Array:
    """The adjoint of :func:`patches`: sum ``(B, out_h, out_w, k_h, k_w, C)`` window values into the image.

    Loops over kernel positions only (25 for a 5×5 kernel), each one strided slice-add over the whole batch;
    the padding is cut off at the end.
    """
    dx = np.zeros(padded_shape, cols.dtype)
    for i, j, rows, columns in taps(window, (cols.shape[1], cols.shape[2])):
        dx[:, rows, columns, :] += cols[:, :, :, i, j, :]
    return crop(dx, pads)


def as_image(x: Array) -> Array:
    """``(B, L, C)`` sequences as ``(B, 1, L, C)`` images, so the 1-D layers reuse the 2-D code."""
    return x[:, None, :, :]
