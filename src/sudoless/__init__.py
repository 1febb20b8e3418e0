"""sudoless: workflows, databases and compute for people without root.

The version is written once, in pyproject.toml; ``__version__`` reads it from the installed package's
metadata on first use, so that ``import sudoless`` stays free of ``importlib.metadata``'s start-up cost.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("sudoless")
    raise AttributeError(f"module 'sudoless' has no attribute {name!r}")
