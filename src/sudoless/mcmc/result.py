"""What a sampler returns: the draws and everything one asks of them.

Draws are shaped (chain, draw, dimension), ArviZ's order. ``get_chain`` follows emcee's
``get_chain(discard=, thin=, flat=)`` so code written for emcee reads naturally, except that the chain
axis comes first here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sudoless.mcmc import diagnostics

SUMMARY_COLUMNS = ("mean", "sd", "q5", "q50", "q95", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat")


@dataclass
class Samples:
    """Kept draws (chains, draws, dim), their log densities (chains, draws) and per-chain acceptance."""

    draws: np.ndarray
    log_prob: np.ndarray
    acceptance: np.ndarray
    names: tuple[str, ...] | None = None
    burn_in: int = 0
    thin: int = 1

    def __post_init__(self) -> None:
        if self.names is None:
            self.names = tuple(f"x{i}" for i in range(self.draws.shape[2]))
        if len(self.names) != self.draws.shape[2]:
            raise ValueError(f"{len(self.names)} names for {self.draws.shape[2]} dimensions")

    @property
    def chains(self) -> int:
        return int(self.draws.shape[0])

    @property
    def acceptance_rate(self) -> float:
        """Share of proposals accepted after burn-in, over all chains."""
        return float(np.mean(self.acceptance))

    def get_chain(self, discard: int = 0, thin: int = 1, flat: bool = False) -> np.ndarray:
        """Draws after dropping ``discard`` more per chain and keeping every ``thin``-th; ``flat`` pools chains."""
        kept = self.draws[:, discard::thin]
        return kept.reshape(-1, kept.shape[2]) if flat else kept

    def _column(self, i: int) -> np.ndarray:
        return self.draws[:, :, i].astype(np.float64)

    def rhat(self) -> np.ndarray:
        return np.array([diagnostics.rhat(self._column(i)) for i in range(self.draws.shape[2])])

    def ess_bulk(self) -> np.ndarray:
        return np.array([diagnostics.ess_bulk(self._column(i)) for i in range(self.draws.shape[2])])

    def ess_tail(self) -> np.ndarray:
        return np.array([diagnostics.ess_tail(self._column(i)) for i in range(self.draws.shape[2])])

    def mcse(self) -> np.ndarray:
        """Monte Carlo standard error of each coordinate's mean."""
        return np.array([diagnostics.mcse_mean(self._column(i)) for i in range(self.draws.shape[2])])

    def autocorrelation(self, max_lag: int | None = None) -> np.ndarray:
        """Chain-averaged autocorrelation, (dim, lags)."""
        rho = np.array(
            [np.nanmean(diagnostics.autocorrelation(self._column(i)), axis=0) for i in range(self.draws.shape[2])]
        )
        return rho[:, :max_lag] if max_lag else rho

    def autocorr_time(self) -> np.ndarray:
        return np.array([diagnostics.autocorr_time(self._column(i)) for i in range(self.draws.shape[2])])

    def summary(self) -> dict[str, dict[str, float]]:
        """Per coordinate: mean, sd, 5/50/95% quantiles, MCSE of mean and sd, bulk and tail ESS, R-hat."""
        out: dict[str, dict[str, float]] = {}
        for i, name in enumerate(self.names or ()):
            x = self._column(i)
            q5, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
            out[name] = {
                "mean": float(x.mean()),
                "sd": float(x.std(ddof=1)),
                "q5": float(q5),
                "q50": float(q50),
                "q95": float(q95),
                "mcse_mean": diagnostics.mcse_mean(x),
                "mcse_sd": diagnostics.mcse_sd(x),
                "ess_bulk": diagnostics.ess_bulk(x),
                "ess_tail": diagnostics.ess_tail(x),
                "r_hat": diagnostics.rhat(x),
            }
        return out

    def summary_table(self) -> str:
        """The summary as aligned text, one row per coordinate, the way ArviZ and Stan print it."""
        rows = self.summary()
        width = max(8, *(len(n) for n in rows))
        lines = [" " * width + "".join(f"{c:>11}" for c in SUMMARY_COLUMNS)]
        for name, stats in rows.items():
            lines.append(f"{name:<{width}}" + "".join(f"{stats[c]:>11.4g}" for c in SUMMARY_COLUMNS))
        lines.append(f"{self.chains} chains x {self.draws.shape[1]} draws; acceptance {self.acceptance_rate:.3f}")
        return "\n".join(lines)

    def plot_trace(self, path: Path, names: list[str] | None = None) -> Path:
        from sudoless.mcmc.plots import trace_plot

        return trace_plot(self, path, names)

    def plot_density(self, path: Path, names: list[str] | None = None) -> Path:
        from sudoless.mcmc.plots import density_plot

        return density_plot(self, path, names)

    def to_arviz(self) -> Any:
        """An ``arviz.InferenceData`` with the draws as ``posterior`` and log densities and acceptance as
        ``sample_stats``. Needs the optional ``arviz`` package (``pip install sudoless[mcmc]``)."""
        try:
            import arviz
        except ImportError:
            from sudoless.extras import install_hint

            raise install_hint("to_arviz()", "mcmc", "arviz") from None
        posterior = {name: self.draws[:, :, i] for i, name in enumerate(self.names or ())}
        stats = {
            "lp": self.log_prob,
            "acceptance_rate": np.repeat(self.acceptance[:, None], self.draws.shape[1], axis=1),
        }
        return arviz.from_dict(posterior=posterior, sample_stats=stats)
