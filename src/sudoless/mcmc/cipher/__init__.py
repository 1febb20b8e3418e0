"""Substitution ciphers: make them (:mod:`.substitution`), score plaintexts (:mod:`.model`) and break them
(:func:`solve`, a tempered Metropolis search over keys with incremental scoring).

::

    from sudoless.mcmc.cipher import LanguageModel, solve
    solution = solve(ciphertext, LanguageModel.from_symspell(), time_limit=10, seed=0)
    print(solution.plaintext, solution.confidence)

Names are loaded on first use, so importing the package (as the ``decipher`` job type does) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "encipher": "substitution",
    "encipher_homophonic": "substitution",
    "homophonic_key": "substitution",
    "parse_key": "substitution",
    "random_key": "substitution",
    "LanguageModel": "model",
    "Weights": "model",
    "Search": "solver",
    "Solution": "solver",
    "solve": "solver",
    "CipherKind": "text",
    "detect_kind": "text",
    "normalise": "text",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
