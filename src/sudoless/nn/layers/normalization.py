"""Normalisation layers: per example over the features (LayerNorm), per channel over the batch (BatchNormalization)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.nn.layers.base import Array, Layer, Shape, last_axis, register


@register
class LayerNorm(Layer):
    """Normalise each example's features to zero mean and unit variance, then scale and shift.

    Unlike batch normalisation it needs no running statistics and behaves the same in training and
    inference, which suits recurrent networks and small batches.
    """

    def __init__(self, epsilon: float = 1e-5, name: str | None = None) -> None:
        super().__init__(name)
        self.epsilon = float(epsilon)

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        features = last_axis(input_shape)
        self.add_param("gamma", np.ones(features))
        self.add_param("beta", np.zeros(features))

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=-1, keepdims=True)
        self._inv = 1.0 / np.sqrt(var + self.epsilon)
        self._xhat = centred * self._inv
        return self._xhat * self.params["gamma"] + self.params["beta"]

    def backward(self, dy: Array) -> Array:
        xhat, inv = self._xhat, self._inv
        features = xhat.shape[-1]
        flat_dy = dy.reshape(-1, features)
        np.sum(flat_dy * xhat.reshape(-1, features), axis=0, out=self.grads["gamma"])
        np.sum(flat_dy, axis=0, out=self.grads["beta"])
        dxhat = dy * self.params["gamma"]
        return inv * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * np.mean(dxhat * xhat, axis=-1, keepdims=True))

    def get_config(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "name": self.name}


@register
class BatchNormalization(Layer):
    """Normalise each channel (the last axis) over the batch and every other axis, then scale and shift.

    Training uses the batch's own mean and (biased) variance and moves ``moving_mean`` and
    ``moving_variance`` towards them by ``1 - momentum`` per step; inference uses the moving statistics, so
    one example's output does not depend on the others in its batch. The defaults are Keras's (momentum
    0.99, epsilon 1e-3); PyTorch's ``momentum=0.1`` is Keras's 0.9. The moving statistics are layer state:
    saved and loaded with the weights, never touched by the optimiser.

    ``sync``, when set (``fit_spark`` sets it on every replica), all-reduces a vector across the data-parallel
    workers: training then takes the mean and variance over the *global* batch (per-channel sums, sums of
    squares and counts summed across workers) and sums the two batch reductions of the backward pass the same
    way, so each worker computes its rows' share of single-process training's gradient, and every replica
    moves its statistics identically.
    """

    sync: Callable[[Array], Array] | None = None

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, name: str | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= momentum < 1.0 or epsilon <= 0:
            raise InputError(f"momentum must lie in [0, 1) and epsilon be positive, got {momentum}, {epsilon}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def _build(self, input_shape: Shape, rng: np.random.Generator) -> None:
        channels = last_axis(input_shape)
        self.add_param("gamma", np.ones(channels))
        self.add_param("beta", np.zeros(channels))
        self.add_state("moving_mean", np.zeros(channels))
        self.add_state("moving_variance", np.ones(channels))

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:
        axes = tuple(range(x.ndim - 1))
        self._training = training
        if training and self.sync is not None:
            flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
            total = self.sync(np.concatenate([flat.sum(0), (flat * flat).sum(0), [float(len(flat))]]))
            channels = x.shape[-1]
            self._count = float(total[-1])
            mean = total[:channels] / self._count
            var = np.maximum(total[channels : 2 * channels] / self._count - mean * mean, 0.0)
            centred = x - mean.astype(x.dtype, copy=False)
            self.move(mean, var)
        elif training:
            mean = x.mean(axis=axes)
            centred = x - mean
            var = np.mean(centred * centred, axis=axes)
            self.move(mean, var)
        else:
            centred = x - self.state["moving_mean"]
            var = self.state["moving_variance"]
        self._inv = (1.0 / np.sqrt(var + self.epsilon)).astype(x.dtype, copy=False)
        self._xhat = centred * self._inv
        return self._xhat * self.params["gamma"] + self.params["beta"]

    def backward(self, dy: Array) -> Array:
        xhat, inv = self._xhat, self._inv
        channels = xhat.shape[-1]
        flat_dy = dy.reshape(-1, channels)
        np.sum(flat_dy * xhat.reshape(-1, channels), axis=0, out=self.grads["gamma"])
        np.sum(flat_dy, axis=0, out=self.grads["beta"])
        dxhat = dy * self.params["gamma"]
        if not self._training:
            return dxhat * inv
        axes = tuple(range(dy.ndim - 1))
        if self.sync is not None:
            total = self.sync(np.concatenate([dxhat.sum(axis=axes), np.sum(dxhat * xhat, axis=axes)]) / self._count)
            mean_d, mean_dx = total[:channels].astype(dy.dtype), total[channels:].astype(dy.dtype)
            return inv * (dxhat - mean_d - xhat * mean_dx)
        return inv * (dxhat - dxhat.mean(axis=axes) - xhat * np.mean(dxhat * xhat, axis=axes))

    def move(self, mean: Array, var: Array) -> None:
        """Move the moving statistics towards a training batch's ``mean`` and (biased) ``var``."""
        keep = self.momentum
        self.state["moving_mean"] *= keep
        self.state["moving_mean"] += (1.0 - keep) * mean
        self.state["moving_variance"] *= keep
        self.state["moving_variance"] += (1.0 - keep) * var

    def get_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "epsilon": self.epsilon, "name": self.name}
