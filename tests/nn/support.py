"""Helpers shared by the NumPy network tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from sudoless.nn.layers.base import Layer

TOLERANCE = 1e-6


def build64(layer: Layer, input_shape: Any, seed: int = 0) -> Layer:
    """Build ``layer`` in float64 with parameters perturbed away from their initial values.

    Biases start at zero and LayerNorm's gain at one; checking only there would miss gradients that happen
    to vanish at those points, so every parameter gets random noise first.
    """
    rng = np.random.default_rng(seed)
    layer.build(input_shape, rng, np.float64)
    for _, param, _ in layer.parameters():
        param += 0.3 * rng.standard_normal(param.shape)
    return layer
