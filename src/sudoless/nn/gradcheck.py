"""Gradient checking: analytic gradients against centred finite differences, in float64.

The centred difference ``(f(x+h) - f(x-h)) / 2h`` has error O(h²); with h = 1e-5 in float64 a correct smooth
layer agrees to about 1e-9. Errors are reported per array as ``‖a - n‖ / (‖a‖ + ‖n‖)``, which, unlike an
element-wise ratio, does not blow up on elements that are zero in both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sudoless.nn.layers.base import Layer
from sudoless.nn.losses import Loss

Array = np.ndarray


def numerical_gradient(f: Callable[[], float], x: Array, h: float = 1e-5) -> Array:
    """``df/dx`` by centred differences, perturbing ``x`` in place (and restoring it)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + h
        plus = f()
        flat[i] = original - h
        minus = f()
        flat[i] = original
        out[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(analytic: Array, numeric: Array) -> float:
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - n) / scale)


def check_layer(
    layer: Layer,
    x: Any,
    mask: Array | None = None,
    seed: int = 0,
    training: bool = False,
    before_forward: Callable[[], None] | None = None,
    h: float = 1e-5,
) -> dict[str, float]:
    """Relative errors of ``dx`` (for float inputs) and every parameter gradient of a float64 ``layer``.

    The scalar checked is ``sum(forward(x) * g)`` for a fixed random ``g``; ``before_forward`` resets any
    randomness (dropout) so every evaluation sees the same function.
    """
    rng = np.random.default_rng(seed)
    inputs = x if isinstance(x, list) else [x]

    def run() -> Any:
        if before_forward is not None:
            before_forward()
        return layer.forward(x if isinstance(x, list) else inputs[0], training, mask)

    upstream = rng.normal(size=np.shape(run()))

    def objective() -> float:
        return float(np.sum(run() * upstream))

    run()
    dx = layer.backward(upstream.copy())
    analytic = {f"param/{name}": grad.copy() for name, _, grad in layer.parameters()}
    dxs = dx if isinstance(dx, list) else [dx]
    for index, (value, grad) in enumerate(zip(inputs, dxs, strict=False)):
        if grad is not None and np.asarray(value).dtype.kind == "f":
            analytic[f"x{index}"] = np.asarray(grad).copy()
    errors = {}
    for name, param, _ in layer.parameters():
        errors[f"param/{name}"] = relative_error(analytic[f"param/{name}"], numerical_gradient(objective, param, h))
    for index, value in enumerate(inputs):
        if f"x{index}" in analytic:
            errors[f"x{index}"] = relative_error(analytic[f"x{index}"], numerical_gradient(objective, value, h))
    return errors


def check_loss(
    loss: Loss,
    output: Array,
    target: Array,
    mask: Array | None = None,
    h: float = 1e-6,
    sample_weight: Array | None = None,
) -> float:
    """Relative error of a loss's gradient with respect to the model output (weighted by ``sample_weight``)."""
    loss.forward(output, target, mask, sample_weight)
    analytic = loss.backward().copy()
    numeric = numerical_gradient(lambda: loss.forward(output, target, mask, sample_weight), output, h)
    return relative_error(analytic, numeric)
