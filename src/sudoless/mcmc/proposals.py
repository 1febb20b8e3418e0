"""Proposal distributions for Metropolis-Hastings, vectorised over chains.

A proposal maps the current states ``x`` (chains, dim) to candidates ``y`` and returns, per chain, the
Hastings term ``log q(x | y) - log q(y | x)`` that the acceptance ratio needs. Symmetric proposals return
zeros and say so with ``symmetric = True``, which is what :class:`~sudoless.mcmc.samplers.Metropolis`
insists on. A proposal with a ``scale`` can be tuned during burn-in toward a target acceptance rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from sudoless.errors import InputError


class Proposal(Protocol):
    symmetric: bool

    def propose(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Candidates for every chain and the log Hastings term ``log q(x|y) - log q(y|x)`` per chain."""
        ...


@runtime_checkable
class Scaled(Protocol):
    """A proposal whose step size burn-in may tune: the samplers look for it with ``isinstance``."""

    scale: float


@dataclass
class RandomWalk:
    """``y = x + scale * z`` with ``z`` standard normal (or a Cholesky factor ``cov`` applied to it).

    ``scale`` is what burn-in adaptation tunes; 2.38/sqrt(dim) with the target's covariance is the
    classic optimum for Gaussian targets (acceptance about 0.234).
    """

    scale: float = 1.0
    cov: np.ndarray | None = None
    symmetric: bool = True

    def propose(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        z = rng.standard_normal(x.shape)
        if self.cov is not None:
            z = z @ np.linalg.cholesky(np.asarray(self.cov, dtype=np.float64)).T
        return x + self.scale * z, np.zeros(len(x))


@dataclass
class LogNormal:
    """Multiplicative walk for positive states: ``y = x * exp(scale * z)``.

    Not symmetric: ``q(y|x)`` has density ``1/y`` times a normal in ``log y``, so the Hastings term is
    ``sum(log y - log x)``. Leaving it out biases the chain toward zero.
    """

    scale: float = 0.5
    symmetric: bool = False

    def propose(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if np.any(x <= 0):
            raise InputError("LogNormal proposals need strictly positive states")
        y = x * np.exp(self.scale * rng.standard_normal(x.shape))
        return y, np.sum(np.log(y) - np.log(x), axis=1)


@dataclass
class Independence:
    """Candidates drawn from a fixed distribution ``g`` whatever the state: ``sample(rng, chains)`` gives
    (chains, dim) draws and ``log_density(y)`` their log density (up to a constant). Hastings term:
    ``log g(x) - log g(y)``."""

    sample: Callable[[np.random.Generator, int], np.ndarray]
    log_density: Callable[[np.ndarray], np.ndarray]
    symmetric: bool = False

    def propose(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(self.sample(rng, len(x)), dtype=x.dtype).reshape(x.shape)
        return y, np.asarray(self.log_density(x) - self.log_density(y), dtype=np.float64)


@dataclass
class Custom:
    """A user-defined proposal: ``draw(x, rng)`` gives candidates and ``log_q(to, given)`` the log density of
    proposing ``to`` from ``given`` (per chain). ``symmetric=True`` skips ``log_q`` altogether."""

    draw: Callable[[np.ndarray, np.random.Generator], np.ndarray]
    log_q: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    symmetric: bool = False

    def propose(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(self.draw(x, rng))
        return y, self.log_hastings(x, y)

    def log_hastings(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log q(x | y) - log q(y | x)`` for moves from ``x`` to ``y``, per chain."""
        if self.symmetric:
            return np.zeros(len(x))
        if self.log_q is None:
            raise InputError("an asymmetric Custom proposal needs log_q(to, given)")
        return np.asarray(self.log_q(x, y) - self.log_q(y, x), dtype=np.float64)


@dataclass
class IntegerWalk:
    """Discrete states on ``{low, ..., high}`` per coordinate: move one random coordinate by a uniform
    step in ``-step..step`` (not 0), wrapping around, which keeps the proposal symmetric."""

    low: int
    high: int
    step: int = 1
    symmetric: bool = True

    def propose(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        size = self.high - self.low + 1
        y = x.copy()
        coordinate = rng.integers(x.shape[1], size=len(x))
        move = rng.integers(1, self.step + 1, size=len(x)) * rng.choice([-1, 1], size=len(x))
        rows = np.arange(len(x))
        y[rows, coordinate] = (x[rows, coordinate] - self.low + move) % size + self.low
        return y, np.zeros(len(x))


@dataclass
class Swap:
    """Permutation states: swap the entries at ``swaps`` pairs of positions drawn uniformly (a pair may
    coincide, a null move). Symmetric, since every swap undoes itself. ``swaps`` is the proposal size."""

    swaps: int = 1
    symmetric: bool = True

    def propose(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y = x.copy()
        rows = np.arange(len(x))
        for _ in range(self.swaps):
            i = rng.integers(x.shape[1], size=len(x))
            j = rng.integers(x.shape[1], size=len(x))
            y[rows, i], y[rows, j] = y[rows, j], y[rows, i].copy()
        return y, np.zeros(len(x))
