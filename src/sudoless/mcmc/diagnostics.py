"""Convergence and efficiency diagnostics for draws shaped (chains, draws).

These follow Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), the definitions ArviZ and Stan use:
rank-normalised split R-hat (the larger of bulk and folded), bulk ESS on rank-normalised split chains,
tail ESS from the 5% and 95% quantile indicators, and ESS by Geyer's initial monotone sequence over the
multi-chain autocorrelation. A constant chain has no defined R-hat or ESS, and gets NaN rather than a
reassuring number.
"""

from __future__ import annotations

import numpy as np


def _as_chains(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected draws shaped (chains, draws), got {x.shape}")
    return x


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Autocorrelation of each chain at every lag (FFT), shaped like ``x``; lag 0 is 1."""
    x = _as_chains(x)
    n = x.shape[1]
    centred = x - x.mean(axis=1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n] / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return acov / acov[:, :1]


def _autocovariance(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n] / n


def ess(x: np.ndarray) -> float:
    """Effective sample size of the draws as they are (no splitting, no ranks)."""
    x = _as_chains(x)
    chains, n = x.shape
    if n < 4 or np.ptp(x) == 0 or not np.all(np.isfinite(x)):
        return float("nan")
    acov = _autocovariance(x)
    chain_var = acov[:, 0] * n / (n - 1)
    within = chain_var.mean()
    var_plus = within * (n - 1) / n
    if chains > 1:
        var_plus += x.mean(axis=1).var(ddof=1)
    rho = 1 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # Geyer: sum adjacent pairs while positive, forced monotone.
    pairs = rho[: (n // 2) * 2].reshape(-1, 2).sum(axis=1)
    positive = np.flatnonzero(pairs <= 0)
    pairs = pairs[: positive[0]] if len(positive) else pairs
    pairs = np.minimum.accumulate(pairs)
    tau = -1 + 2 * pairs.sum()
    tau = max(tau, 1 / np.log10(chains * n))
    return float(chains * n / tau)


def split_chains(x: np.ndarray) -> np.ndarray:
    """Each chain cut into its first and second half (an odd middle draw dropped)."""
    x = _as_chains(x)
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def rank_normalise(x: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks (Blom's offsets), with ties given their average rank."""
    from statistics import NormalDist

    x = _as_chains(x)
    flat = x.ravel()
    order = np.argsort(flat, kind="mergesort")
    ranks = np.empty(len(flat))
    ranks[order] = np.arange(1, len(flat) + 1)
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = sums[inverse] / counts[inverse]
    p = (ranks - 0.375) / (len(flat) + 0.25)
    quantile = np.vectorize(NormalDist().inv_cdf, otypes=[float])
    return quantile(p).reshape(x.shape)


def _rhat_plain(x: np.ndarray) -> float:
    chains, n = x.shape
    within = x.var(axis=1, ddof=1).mean()
    between = n * x.mean(axis=1).var(ddof=1)
    return float(np.sqrt(((n - 1) / n * within + between / n) / within))


def rhat(x: np.ndarray) -> float:
    """Rank-normalised split R-hat: the larger of the bulk and folded (tail) versions."""
    x = _as_chains(x)
    if x.shape[1] < 4 or np.ptp(x) == 0 or not np.all(np.isfinite(x)):
        return float("nan")
    split = split_chains(x)
    bulk = _rhat_plain(rank_normalise(split))
    folded = _rhat_plain(rank_normalise(np.abs(split - np.median(split))))
    return max(bulk, folded)


def ess_bulk(x: np.ndarray) -> float:
    """ESS of the rank-normalised split chains: how well the centre of the distribution is explored."""
    x = _as_chains(x)
    if x.shape[1] < 4 or np.ptp(x) == 0:
        return float("nan")
    return ess(rank_normalise(split_chains(x)))


def ess_tail(x: np.ndarray) -> float:
    """The smaller ESS of the 5% and 95% quantile indicators: how well the tails are explored."""
    x = _as_chains(x)
    if x.shape[1] < 4 or np.ptp(x) == 0:
        return float("nan")
    split = split_chains(x)
    low, high = np.quantile(split, [0.05, 0.95])
    return min(ess((split <= low).astype(float)), ess((split <= high).astype(float)))


def ess_mean(x: np.ndarray) -> float:
    """ESS for the mean itself (split chains, no ranks), the one the MCSE of the mean uses."""
    return ess(split_chains(_as_chains(x)))


def mcse_mean(x: np.ndarray) -> float:
    """Monte Carlo standard error of the mean: sd / sqrt(ESS)."""
    x = _as_chains(x)
    return float(x.std(ddof=1) / np.sqrt(ess_mean(x)))


def mcse_sd(x: np.ndarray) -> float:
    """Monte Carlo standard error of the standard deviation, by the delta method on E[x] and E[x^2] with
    the ESS of each (exact for normal draws, a good approximation otherwise)."""
    x = _as_chains(x)
    centred = x - x.mean()
    sd = x.std(ddof=1)
    n_eff = min(ess_mean(centred), ess_mean(centred**2))
    fourth = np.mean(centred**4)
    return float(np.sqrt(max(fourth - sd**4, 0.0) / n_eff) / (2 * sd))


def autocorr_time(x: np.ndarray) -> float:
    """Integrated autocorrelation time: draws per effective draw (total draws / ESS)."""
    x = _as_chains(x)
    return float(x.size / ess(x))
