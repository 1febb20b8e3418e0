"""Axis orders between sudoless's channels-last, batch-major arrays and the layouts ONNX operators want.

sudoless holds images as ``(B, H, W, C)`` and sequences as ``(B, T, F)``; ONNX's Conv, pooling and
BatchNormalization want channels first (``(B, C, H, W)``) and its recurrent operators time first
(``(B, T, F)`` as ``(T, B, F)``). Rather than transposing before and after every such operator, the exporter
and the importer both remember, for every tensor, the permutation ``perm`` with which the ONNX value is the
sudoless value transposed: ``onnx = sudoless.transpose(perm)``. Element-wise operators keep the permutation,
so a Conv, ReLU, MaxPool, Conv chain stays channels-first throughout, and a Transpose appears only where a
layer needs another order (a Flatten, which must read the values in sudoless's order, or the model's output).
"""

from __future__ import annotations

from collections.abc import Sequence

Perm = tuple[int, ...]


def identity(rank: int) -> Perm:
    return tuple(range(rank))


def inverse(perm: Sequence[int]) -> Perm:
    result = [0] * len(perm)
    for position, axis in enumerate(perm):
        result[axis] = position
    return tuple(result)


def compose(first: Sequence[int], then: Sequence[int]) -> Perm:
    """The one permutation that equals transposing by ``first`` and then by ``then``."""
    return tuple(first[axis] for axis in then)


def channels_first(rank: int) -> Perm:
    """``(B, ..., C)`` as ``(B, C, ...)``: the order of ONNX's Conv, pooling and BatchNormalization."""
    return (0, rank - 1, *range(1, rank - 1))


TIME_FIRST: Perm = (1, 0, 2)
