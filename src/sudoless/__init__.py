"""sudoless: workflows, databases and compute for people without root.

The top level holds what every use starts from: the settings (:class:`Settings`, :func:`load_settings`),
the root of every error sudoless raises (:class:`SudolessError`) and the version. Each capability is a
package of its own (:mod:`sudoless.flows`, :mod:`sudoless.mysql`, :mod:`sudoless.nn`, ...) with its own
``__all__``.

Every name is loaded on first use (PEP 562), so that ``import sudoless`` (which every command and every
Spark worker does) costs nothing; the version is written once, in pyproject.toml, and read from the
installed package's metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sudoless.config import Settings, load_settings
    from sudoless.errors import SudolessError

    __version__: str

__all__ = ["Settings", "SudolessError", "__version__", "load_settings"]

#: where each lazily loaded name is defined
_LAZY = {"Settings": "sudoless.config", "load_settings": "sudoless.config", "SudolessError": "sudoless.errors"}


def __getattr__(name: str) -> object:
    if name == "__version__":
        from importlib.metadata import version

        return version("sudoless")
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sudoless' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
