"""Trace, density and convergence plots written straight to PNG.

Figures are drawn with matplotlib's Agg canvas directly, never through ``pyplot``, so nothing changes the
process-wide backend and no display is needed (clusters and CI have none).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sudoless.mcmc.result import Samples


def _figure(rows: int, cols: int, height: float) -> tuple[Figure, np.ndarray]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5 * cols, height * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = np.atleast_2d(np.asarray(figure.subplots(rows, cols, squeeze=False)))
    return figure, axes


def _save(figure: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def _indices(samples: Samples, names: Sequence[str] | None) -> list[int]:
    all_names = list(samples.names or ())
    return [all_names.index(n) for n in names] if names else list(range(min(len(all_names), 8)))


def trace_plot(samples: Samples, path: Path, names: Sequence[str] | None = None) -> Path:
    """One row per coordinate (the first eight by default): the trace of every chain, and the pooled
    histogram beside it."""
    chosen = _indices(samples, names)
    figure, axes = _figure(len(chosen), 2, 2.2)
    for row, i in enumerate(chosen):
        name = (samples.names or ())[i]
        for chain in range(samples.chains):
            axes[row, 0].plot(samples.draws[chain, :, i], linewidth=0.6, alpha=0.8)
            axes[row, 1].hist(samples.draws[chain, :, i], bins=40, histtype="step", density=True)
        axes[row, 0].set_ylabel(name)
        axes[row, 0].set_xlabel("draw")
    return _save(figure, path)


def density_plot(samples: Samples, path: Path, names: Sequence[str] | None = None) -> Path:
    """Pooled density (histogram) per coordinate, with the 5%, 50% and 95% quantiles marked."""
    chosen = _indices(samples, names)
    figure, axes = _figure(len(chosen), 1, 2.2)
    for row, i in enumerate(chosen):
        values = samples.draws[:, :, i].ravel()
        axes[row, 0].hist(values, bins=60, density=True, color="tab:blue", alpha=0.7)
        for q in np.quantile(values, [0.05, 0.5, 0.95]):
            axes[row, 0].axvline(q, color="black", linewidth=0.8, linestyle=":")
        axes[row, 0].set_xlabel((samples.names or ())[i])
    return _save(figure, path)


def convergence_plot(trace: Sequence[tuple[float, float, float]], path: Path, title: str = "") -> Path:
    """Best score found and the chains' mean score against seconds, from the random start through every
    search round (the decipher ``--plot``)."""
    figure, axes = _figure(1, 1, 3.0)
    seconds = [t for t, _, _ in trace]
    axes[0, 0].step(seconds, [b for _, b, _ in trace], where="post", label="best")
    axes[0, 0].plot(seconds, [m for _, _, m in trace], ".-", markersize=3, linewidth=0.7, label="chains' mean")
    axes[0, 0].legend(loc="lower right")
    axes[0, 0].set_xlabel("seconds")
    axes[0, 0].set_ylabel("best log-score")
    if title:
        axes[0, 0].set_title(title)
    return _save(figure, path)
