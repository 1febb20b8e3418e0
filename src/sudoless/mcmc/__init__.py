"""Markov chain Monte Carlo: samplers, proposals, diagnostics, plots; ``cipher`` breaks substitution ciphers.

Public surface::

    from sudoless.mcmc import Metropolis, MetropolisHastings, Gibbs, RandomWalk, LogNormal, Independence,
        Custom, IntegerWalk, Swap, Samples
    samples = Metropolis(log_prob, RandomWalk(0.5)).run(x0, 2000, burn_in=1000, thin=1, chains=4, seed=1)
    print(samples.summary_table())

Names are loaded on first use, so importing a submodule (the flow job type, say) does not pull in NumPy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Custom": "proposals",
    "Independence": "proposals",
    "IntegerWalk": "proposals",
    "LogNormal": "proposals",
    "RandomWalk": "proposals",
    "Swap": "proposals",
    "Samples": "result",
    "Gibbs": "samplers",
    "Metropolis": "samplers",
    "MetropolisHastings": "samplers",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
