"""Diagnostics against processes whose answers are known in closed form, plus the result object's outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sudoless.mcmc import Metropolis, RandomWalk
from sudoless.mcmc import diagnostics as d


def ar1(phi: float, chains: int, n: int, seed: int) -> np.ndarray:
    """Stationary AR(1) chains with unit marginal variance: tau = (1 + phi) / (1 - phi)."""
    rng = np.random.default_rng(seed)
    x = np.empty((chains, n))
    x[:, 0] = rng.standard_normal(chains)
    noise = rng.standard_normal((chains, n)) * np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def test_ess_of_independent_draws_is_their_number() -> None:
    x = np.random.default_rng(0).standard_normal((4, 5000))
    # The ESS estimate of 20,000 iid draws has a relative sd of about 2%; 10% is 5 sd.
    assert 18000 < d.ess(x) < 22000
    assert 18000 < d.ess_bulk(x) < 22000
    assert d.rhat(x) < 1.005


def test_ess_and_autocorrelation_of_ar1() -> None:
    phi = 0.8
    x = ar1(phi, 4, 20000, seed=1)
    tau = (1 + phi) / (1 - phi)
    assert d.ess(x) == pytest.approx(x.size / tau, rel=0.1)
    assert d.autocorr_time(x) == pytest.approx(tau, rel=0.1)
    rho = d.autocorrelation(x).mean(axis=0)
    assert rho[0] == pytest.approx(1.0)
    assert rho[1] == pytest.approx(phi, abs=0.02)
    assert rho[5] == pytest.approx(phi**5, abs=0.03)


def test_mcse_matches_the_spread_of_chain_means() -> None:
    """Over 200 independent AR(1) runs the sd of the run means equals the typical MCSE estimate."""
    runs = ar1(0.5, 200, 2000, seed=2)
    means = runs.mean(axis=1)
    estimates = np.array([d.mcse_mean(run) for run in runs])
    assert np.median(estimates) == pytest.approx(means.std(ddof=1), rel=0.15)


def test_rhat_flags_chains_that_disagree() -> None:
    x = np.random.default_rng(3).standard_normal((4, 1000))
    x[0] += 2.0
    assert d.rhat(x) > 1.1
    y = np.random.default_rng(4).standard_normal((4, 1000))
    y[1] *= 4  # same centre, different spread: only the folded R-hat sees it
    assert d.rhat(y) > 1.1


def test_tail_ess_and_constant_chains() -> None:
    x = np.random.default_rng(5).standard_normal((4, 2000))
    assert 4000 < d.ess_tail(x) < 9000
    assert np.isnan(d.rhat(np.ones((4, 100))))
    assert np.isnan(d.ess_bulk(np.ones((4, 100))))


@pytest.fixture(scope="module")
def samples():  # type: ignore[no-untyped-def]
    sampler = Metropolis(lambda x: -0.5 * np.sum(x**2, axis=1), RandomWalk(1.0))
    return sampler.run(np.zeros(2), 1000, burn_in=300, chains=3, seed=1, names=["alpha", "beta"], progress=True)


def test_summary_and_table(samples) -> None:  # type: ignore[no-untyped-def]
    summary = samples.summary()
    assert list(summary) == ["alpha", "beta"]
    assert set(summary["alpha"]) == {
        "mean",
        "sd",
        "q5",
        "q50",
        "q95",
        "mcse_mean",
        "mcse_sd",
        "ess_bulk",
        "ess_tail",
        "r_hat",
    }
    table = samples.summary_table()
    assert "alpha" in table and "r_hat" in table and "3 chains x 1000 draws" in table
    assert samples.autocorrelation(max_lag=10).shape == (2, 10)
    assert samples.mcse().shape == (2,)


def test_trace_and_density_plots_are_png(samples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for path in (samples.plot_trace(tmp_path / "trace.png"), samples.plot_density(tmp_path / "density.png")):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


@pytest.mark.skipif(importlib.util.find_spec("arviz") is None, reason="arviz is not installed (optional extra)")
def test_arviz_conversion_agrees(samples) -> None:  # type: ignore[no-untyped-def]
    import arviz

    data = samples.to_arviz()
    assert data.posterior["alpha"].shape == (3, 1000)
    ours = samples.summary()["alpha"]
    assert float(arviz.rhat(data)["alpha"]) == pytest.approx(ours["r_hat"], abs=1e-6)
    assert float(arviz.ess(data, method="bulk")["alpha"]) == pytest.approx(ours["ess_bulk"], rel=1e-6)
    assert float(arviz.ess(data, method="tail")["alpha"]) == pytest.approx(ours["ess_tail"], rel=1e-6)


def test_arviz_missing_is_a_clear_error(samples, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import builtins

    from sudoless.errors import ConfigError

    real = builtins.__import__

    def no_arviz(name: str, *args: object, **kwargs: object) -> object:
        if name == "arviz":
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_arviz)
    with pytest.raises(ConfigError, match="pip install"):
        samples.to_arviz()
