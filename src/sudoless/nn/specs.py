"""Building a component (loss, optimiser, schedule) from its config spec: a name, or ``{"name": ..., **options}``.

Configs name components by string and pass their options as keys; a typo in either must be an input error
that names the component and what is known, not a KeyError or TypeError from deep inside training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sudoless.errors import InputError

T = TypeVar("T")


def build(registry: Mapping[str, Callable[..., T]], spec: str | Mapping[str, Any], what: str, default: str = "") -> T:
    """The registry's component for ``spec``; ``what`` names the kind in error messages."""
    options: dict[str, Any] = {}
    if isinstance(spec, Mapping):
        options = dict(spec)
        name: str = options.pop("name", default)
    else:
        name = spec
    if name not in registry:
        raise InputError(f"unknown {what} '{name}'; known: {', '.join(sorted(registry))}")
    try:
        return registry[name](**options)
    except TypeError as exc:
        raise InputError(f"{what} {name}: {exc}") from None
