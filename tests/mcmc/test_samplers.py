"""Samplers on targets with known answers; every tolerance is a number of Monte Carlo standard errors.

Each check allows 5 MCSE (a two-sided normal tail of 6e-7 per check), so with the few dozen checks here a
correct sampler fails with probability well below 1e-4, while the seeds are fixed and the runs
deterministic. The MCSE comes from the chains' own effective sample size, so it already accounts for
autocorrelation.
"""

from __future__ import annotations

import numpy as np
import pytest

from sudoless.errors import InputError
from sudoless.mcmc import Custom, Gibbs, IntegerWalk, LogNormal, Metropolis, MetropolisHastings, RandomWalk, Swap
from sudoless.mcmc import diagnostics as d
from sudoless.mcmc.samplers import log_acceptance

K = 5.0


def assert_mean(draws: np.ndarray, expected: float) -> None:
    """``draws`` (chains, draws) has mean ``expected`` within K Monte Carlo standard errors."""
    error = d.mcse_mean(draws)
    assert abs(draws.mean() - expected) < K * error, (draws.mean(), expected, error)


def test_standard_gaussian_moments_and_convergence() -> None:
    dim = 4
    sampler = Metropolis(lambda x: -0.5 * np.sum(x**2, axis=1), RandomWalk(scale=1.0))
    samples = sampler.run(np.full(dim, 3.0), 5000, burn_in=2000, chains=4, seed=11)
    assert samples.draws.shape == (4, 5000, dim)
    assert 0.15 < samples.acceptance_rate < 0.35  # adapted toward 0.234
    for i in range(dim):
        x = samples.draws[:, :, i]
        assert_mean(x, 0.0)
        assert_mean((x - 0) ** 2, 1.0)
    assert np.all(samples.rhat() < 1.01)
    assert np.all(samples.ess_bulk() > 400)


def test_correlated_gaussian_recovers_covariance() -> None:
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    precision = np.linalg.inv(cov)
    sampler = Metropolis(lambda x: -0.5 * np.einsum("ci,ij,cj->c", x, precision, x), RandomWalk(0.5, cov=cov))
    samples = sampler.run(np.zeros(2), 8000, burn_in=2000, chains=4, seed=5)
    x, y = samples.draws[:, :, 0], samples.draws[:, :, 1]
    assert_mean(x, 0.0)
    assert_mean(y, 0.0)
    assert_mean(x * y, 0.9)
    assert_mean(x**2, 1.0)


def test_banana_density() -> None:
    """Haario's twisted Gaussian: x1 ~ N(0, s^2), x2 = y + b (x1^2 - s^2) with y ~ N(0, 1);
    E x2 = 0, Var x1 = s^2, Var x2 = 1 + 2 b^2 s^4."""
    s, b = 2.0, 0.25

    def log_prob(x: np.ndarray) -> np.ndarray:
        return -0.5 * x[:, 0] ** 2 / s**2 - 0.5 * (x[:, 1] - b * (x[:, 0] ** 2 - s**2)) ** 2

    samples = Metropolis(log_prob, RandomWalk(1.0)).run(np.zeros(2), 20000, burn_in=3000, chains=4, seed=3)
    x1, x2 = samples.draws[:, :, 0], samples.draws[:, :, 1]
    assert_mean(x1, 0.0)
    assert_mean(x2, 0.0)
    assert_mean(x1**2, s**2)
    assert_mean(x2**2, 1 + 2 * b**2 * s**4)


def test_discrete_distribution() -> None:
    weights = np.arange(1, 9, dtype=float)
    target = weights / weights.sum()
    sampler = Metropolis(lambda x: np.log(target[x[:, 0]]), IntegerWalk(0, 7, step=2))
    samples = sampler.run(np.zeros(1, dtype=int), 20000, burn_in=1000, chains=4, seed=2)
    assert samples.draws.dtype.kind == "i"
    for k in range(8):
        assert_mean((samples.draws[:, :, 0] == k).astype(float), target[k])


def test_gibbs_bivariate_normal() -> None:
    rho = 0.8
    sd = np.sqrt(1 - rho**2)
    blocks = [
        ([0], lambda x, rng: rho * x[:, 1] + sd * rng.standard_normal(len(x))),
        ([1], lambda x, rng: rho * x[:, 0] + sd * rng.standard_normal(len(x))),
    ]
    samples = Gibbs(blocks).run(np.array([5.0, -5.0]), 10000, burn_in=500, chains=4, seed=9)
    x, y = samples.draws[:, :, 0], samples.draws[:, :, 1]
    assert_mean(x, 0.0)
    assert_mean(y**2, 1.0)
    assert_mean(x * y, rho)


def gamma_log_prob(x: np.ndarray) -> np.ndarray:
    """Gamma(shape 3, scale 1), mean 3; zero density at and below 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x[:, 0] > 0, 2 * np.log(x[:, 0]) - x[:, 0], -np.inf)


class Uncorrected(LogNormal):
    """The same log-normal moves, with the Hastings term dropped: a deliberately wrong sampler."""

    def propose(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y, _ = super().propose(x, rng)
        return y, np.zeros(len(x))


def test_hastings_correction_is_needed() -> None:
    """With the correction the chain targets Gamma(3, 1) (mean 3). Without it, the move is symmetric in
    log x, so the chain targets pi(x)/x = Gamma(2, 1) (mean 2): detectably wrong."""
    right = MetropolisHastings(gamma_log_prob, LogNormal(0.8), adapt=False)
    wrong = MetropolisHastings(gamma_log_prob, Uncorrected(0.8), adapt=False)
    good = right.run(np.ones(1), 20000, burn_in=1000, chains=4, seed=21).draws[:, :, 0]
    bad = wrong.run(np.ones(1), 20000, burn_in=1000, chains=4, seed=21).draws[:, :, 0]
    assert_mean(good, 3.0)
    assert_mean(bad, 2.0)
    assert abs(bad.mean() - 3.0) > 20 * d.mcse_mean(bad)


def test_metropolis_refuses_asymmetric_proposals() -> None:
    with pytest.raises(InputError, match="not symmetric"):
        Metropolis(gamma_log_prob, LogNormal())


def test_detailed_balance_exact_on_small_chain() -> None:
    """Build the sampler's transition matrix on 5 states from its own acceptance rule and an asymmetric
    proposal matrix, then check pi_i P_ij = pi_j P_ji to rounding error, and that pi P = pi."""
    pi = np.array([0.1, 0.25, 0.05, 0.4, 0.2])
    q = np.array(
        [
            [0.1, 0.5, 0.2, 0.1, 0.1],
            [0.3, 0.1, 0.3, 0.2, 0.1],
            [0.05, 0.05, 0.1, 0.7, 0.1],
            [0.2, 0.2, 0.2, 0.2, 0.2],
            [0.6, 0.1, 0.1, 0.1, 0.1],
        ]
    )
    proposal = Custom(draw=lambda x, rng: x, log_q=lambda to, given: np.log(q[given[:, 0], to[:, 0]]))
    states = np.arange(5)
    p = np.zeros((5, 5))
    for i in states:
        x = np.full((5, 1), i)
        y = states[:, None]
        accept = np.exp(log_acceptance(np.log(pi[x[:, 0]]), np.log(pi[y[:, 0]]), proposal.log_hastings(x, y)))
        p[i] = q[i] * accept
        p[i, i] += 1 - p[i].sum()
    flow = pi[:, None] * p
    np.testing.assert_allclose(flow, flow.T, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(pi @ p, pi, rtol=1e-13)
    assert np.all(p >= 0)


def test_detailed_balance_run_matches_target() -> None:
    """The same asymmetric proposal, run as a sampler: state frequencies match pi within 5 MCSE."""
    pi = np.array([0.1, 0.25, 0.05, 0.4, 0.2])
    q = np.array(
        [
            [0.1, 0.5, 0.2, 0.1, 0.1],
            [0.3, 0.1, 0.3, 0.2, 0.1],
            [0.05, 0.05, 0.1, 0.7, 0.1],
            [0.2, 0.2, 0.2, 0.2, 0.2],
            [0.6, 0.1, 0.1, 0.1, 0.1],
        ]
    )
    cumulative = np.cumsum(q, axis=1)

    def draw(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = rng.random(len(x))[:, None]
        return (u > cumulative[x[:, 0]]).sum(axis=1, keepdims=True)

    proposal = Custom(draw=draw, log_q=lambda to, given: np.log(q[given[:, 0], to[:, 0]]))
    samples = MetropolisHastings(lambda x: np.log(pi[x[:, 0]]), proposal).run(
        np.zeros(1, dtype=int), 20000, burn_in=100, chains=4, seed=4
    )
    for k in range(5):
        assert_mean((samples.draws[:, :, 0] == k).astype(float), pi[k])


def test_permutation_states_stay_permutations() -> None:
    target = np.arange(6)
    sampler = Metropolis(lambda x: -2.0 * np.sum(x != target, axis=1), Swap(swaps=1))
    samples = sampler.run(np.array([5, 4, 3, 2, 1, 0]), 2000, burn_in=500, chains=2, seed=1)
    assert np.all(np.sort(samples.draws, axis=2) == target)
    assert (samples.draws == target).all(axis=2).mean() > 0.5


def test_reproducible_for_a_seed() -> None:
    def run(seed: int) -> np.ndarray:
        return (
            Metropolis(lambda x: -0.5 * np.sum(x**2, axis=1), RandomWalk())
            .run(np.zeros(2), 200, burn_in=50, chains=3, seed=seed)
            .draws
        )

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_thinning_burn_in_and_scalar_log_prob() -> None:
    sampler = Metropolis(lambda x: -0.5 * float(x @ x), RandomWalk(), vectorized=False)
    samples = sampler.run(np.zeros(2), 100, burn_in=10, thin=3, chains=2, seed=0)
    assert samples.draws.shape == (2, 100, 2)
    assert samples.get_chain(discard=50, thin=2).shape == (2, 25, 2)
    assert samples.get_chain(flat=True).shape == (200, 2)
    with pytest.raises(InputError, match="not finite"):
        Metropolis(lambda x: np.full(len(x), -np.inf), RandomWalk()).run(np.zeros(1), 10)
