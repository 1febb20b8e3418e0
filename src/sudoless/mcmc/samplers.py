"""Metropolis, Metropolis-Hastings and Gibbs samplers, every chain advanced at once with NumPy.

Vocabulary, as the project's seed names it: *burn-in* (draws discarded while the chain settles and the
proposal adapts), *sampling interval* (``thin``: keep every k-th state), *number of samples* (kept draws
per chain), *perturbation size* (the proposal's ``scale`` or ``swaps``).

Targets are log densities, vectorised: ``log_prob(x)`` takes states (chains, dim) and returns (chains,).
Pass ``vectorized=False`` for a function of one state. States may be float (continuous) or int (discrete,
permutations included); the sampler never changes their dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sudoless.errors import InputError
from sudoless.mcmc.progress import progress_bar
from sudoless.mcmc.proposals import Proposal, Scaled
from sudoless.mcmc.result import Samples

LogProb = Callable[[np.ndarray], np.ndarray]


def _vectorise(log_prob: Callable[[np.ndarray], float | np.ndarray], vectorized: bool) -> LogProb:
    if vectorized:
        return lambda x: np.asarray(log_prob(x), dtype=np.float64).reshape(len(x))
    return lambda x: np.array([float(log_prob(row)) for row in x])


def log_acceptance(lp_current: np.ndarray, lp_proposed: np.ndarray, log_hastings: np.ndarray) -> np.ndarray:
    """Log of the Metropolis-Hastings acceptance probability, ``min(0, lp(y) - lp(x) + log q(x|y) - log q(y|x))``;
    a proposal outside the support (non-finite log density) is never accepted."""
    ratio = np.where(np.isfinite(lp_proposed), lp_proposed - lp_current + log_hastings, -np.inf)
    return np.minimum(ratio, 0.0)


def _initial(initial: np.ndarray | Sequence[float], chains: int | None) -> np.ndarray:
    x = np.array(initial)
    if x.ndim == 1:
        x = np.repeat(x[None, :], chains or 1, axis=0)
    elif x.ndim != 2:
        raise InputError(f"initial states must be (dim,) or (chains, dim), got shape {x.shape}")
    elif chains is not None and len(x) != chains:
        raise InputError(f"{len(x)} initial states given for {chains} chains")
    return x


@dataclass
class MetropolisHastings:
    """Metropolis-Hastings with any :class:`~sudoless.mcmc.proposals.Proposal`; the proposal supplies the
    Hastings correction. During burn-in a proposal with a ``scale`` is adapted (Robbins-Monro on
    ``log scale``, one scale shared by all chains) toward ``target_accept``; it is frozen afterwards, so
    the kept draws come from a fixed, valid kernel."""

    log_prob: Callable[[np.ndarray], float | np.ndarray]
    proposal: Proposal
    vectorized: bool = True
    target_accept: float = 0.234
    adapt: bool = True

    def run(
        self,
        initial: np.ndarray | Sequence[float],
        n_samples: int,
        *,
        burn_in: int = 1000,
        thin: int = 1,
        chains: int | None = None,
        seed: int | None = 0,
        progress: bool = False,
        names: Sequence[str] | None = None,
    ) -> Samples:
        """Draw ``n_samples`` per chain after ``burn_in`` iterations, keeping every ``thin``-th state."""
        if n_samples < 1 or burn_in < 0 or thin < 1:
            raise InputError("need n_samples >= 1, burn_in >= 0 and thin >= 1")
        rng = np.random.default_rng(seed)
        log_prob = _vectorise(self.log_prob, self.vectorized)
        x = _initial(initial, chains)
        lp = log_prob(x)
        if not np.all(np.isfinite(lp)):
            raise InputError("the log density is not finite at the initial states; start inside the support")
        draws = np.empty((len(x), n_samples, x.shape[1]), dtype=x.dtype)
        kept_lp = np.empty((len(x), n_samples))
        accepted = np.zeros(len(x))
        tuned = self.proposal if self.adapt and isinstance(self.proposal, Scaled) else None
        total = burn_in + n_samples * thin
        with progress_bar(total, "sampling", enabled=progress) as advance:
            for t in range(total):
                y, log_hastings = self.proposal.propose(x, rng)
                lp_y = log_prob(y)
                accept = np.log(rng.random(len(x))) < log_acceptance(lp, lp_y, log_hastings)
                x = np.where(accept[:, None], y, x)
                lp = np.where(accept, lp_y, lp)
                if t < burn_in:
                    if tuned is not None:
                        gain = (t + 1) ** -0.6
                        tuned.scale *= float(np.exp(gain * (accept.mean() - self.target_accept)))
                else:
                    accepted += accept
                    kept = t - burn_in
                    if kept % thin == thin - 1:
                        draws[:, kept // thin] = x
                        kept_lp[:, kept // thin] = lp
                advance(1)
        return Samples(
            draws,
            kept_lp,
            accepted / (n_samples * thin),
            names=tuple(names) if names else None,
            burn_in=burn_in,
            thin=thin,
        )


@dataclass
class Metropolis(MetropolisHastings):
    """Random-walk Metropolis: the same kernel, restricted to symmetric proposals (no Hastings term)."""

    def __post_init__(self) -> None:
        if not getattr(self.proposal, "symmetric", False):
            raise InputError(f"{type(self.proposal).__name__} is not symmetric; use MetropolisHastings")


Conditional = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass
class Gibbs:
    """Gibbs sampling with user-supplied full conditionals, each updating one block of coordinates.

    ``blocks`` is a list of (indices, draw) pairs: ``draw(x, rng)`` returns new values for ``x[:, indices]``
    drawn from their conditional given the rest, for every chain at once. Blocks are visited in order
    each iteration (systematic scan), which leaves the joint distribution invariant.
    """

    blocks: Sequence[tuple[Sequence[int], Conditional]]
    log_prob: Callable[[np.ndarray], float | np.ndarray] | None = None
    vectorized: bool = True

    def run(
        self,
        initial: np.ndarray | Sequence[float],
        n_samples: int,
        *,
        burn_in: int = 1000,
        thin: int = 1,
        chains: int | None = None,
        seed: int | None = 0,
        progress: bool = False,
        names: Sequence[str] | None = None,
    ) -> Samples:
        if n_samples < 1 or burn_in < 0 or thin < 1:
            raise InputError("need n_samples >= 1, burn_in >= 0 and thin >= 1")
        rng = np.random.default_rng(seed)
        x = _initial(initial, chains).astype(np.float64)
        log_prob = _vectorise(self.log_prob, self.vectorized) if self.log_prob else None
        draws = np.empty((len(x), n_samples, x.shape[1]))
        kept_lp = np.full((len(x), n_samples), np.nan)
        total = burn_in + n_samples * thin
        with progress_bar(total, "sampling", enabled=progress) as advance:
            for t in range(total):
                for indices, draw in self.blocks:
                    x[:, list(indices)] = np.asarray(draw(x, rng)).reshape(len(x), len(indices))
                kept = t - burn_in
                if kept >= 0 and kept % thin == thin - 1:
                    draws[:, kept // thin] = x
                    if log_prob is not None:
                        kept_lp[:, kept // thin] = log_prob(x)
                advance(1)
        return Samples(
            draws, kept_lp, np.ones(len(x)), names=tuple(names) if names else None, burn_in=burn_in, thin=thin
        )
