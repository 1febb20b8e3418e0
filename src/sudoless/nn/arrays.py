"""What a model takes and gives: one array, or a list of arrays for a model with several inputs or outputs.

Training, evaluation and prediction slice, count and cast these the same way whether there is one array or
several, so the functions here accept both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray


def cast_input(x: Any, dtype: np.dtype) -> Any:
    """Float inputs in the model's dtype; integer inputs (token ids) unchanged; lists element-wise."""
    if isinstance(x, list | tuple):
        return [cast_input(item, dtype) for item in x]
    x = np.asarray(x)
    return x.astype(dtype, copy=False) if x.dtype.kind in "fb" else x


def input_shape_of(x: Any) -> Any:
    """The per-example shape (batch axis dropped) of an array, or the list of them for a list of arrays."""
    if isinstance(x, list | tuple):
        return [tuple(np.shape(item)[1:]) for item in x]
    return tuple(np.shape(x)[1:])


def take(x: Any, index: Array | slice) -> Any:
    """Rows ``index`` of an array, or of each array in a list (multi-input models)."""
    if isinstance(x, list | tuple):
        return [a[index] for a in x]
    return x[index]


def count(x: Any) -> int:
    """The number of examples: the length of the array, or of the first array of a list."""
    return len(x[0]) if isinstance(x, list | tuple) else len(x)
