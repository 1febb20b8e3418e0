"""Job types: what ``type=`` in a job means. A registry maps each name to a class with ``run``.

Built in: ``command`` (Azkaban's, not a shell), ``noop``, ``test`` (Azkaban's test job type) and
``javaprocess``/``java``. The runner handles ``flow`` (embedded flows) itself. The workload types
(``decipher``, ``routes``, ``spark``, ``nn``) live beside them and load on first use (:data:`PLUGINS`); other
code adds types with :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from sudoless.errors import JobError
from sudoless.flows.jobtypes.builtin import CommandJob, JavaProcessJob, NoopJob, TestJob
from sudoless.flows.jobtypes.context import JobContext, JobResult, JobType

__all__ = ["PLUGINS", "JobContext", "JobResult", "JobType", "job_type", "known_types", "register"]


#: The built-in types; :func:`register` adds others.
_REGISTRY: dict[str, Callable[[], JobType]] = {
    "command": CommandJob,
    "noop": NoopJob,
    "test": TestJob,
    "javaprocess": JavaProcessJob,
    "java": JavaProcessJob,
}


def register(name: str) -> Callable[[Callable[[], JobType]], Callable[[], JobType]]:
    def add(factory: Callable[[], JobType]) -> Callable[[], JobType]:
        _REGISTRY[name] = factory
        return factory

    return add


def job_type(name: str) -> JobType:
    """A fresh instance of the job type ``name``; a workload type whose extra is missing raises the pip line."""
    if name not in _REGISTRY and name in PLUGINS:
        from sudoless.extras import require

        require(name, f"job type '{name}'")
        importlib.import_module(PLUGINS[name])
    if name not in _REGISTRY:
        known = ", ".join(known_types() + ["flow"])
        raise JobError(f"unknown job type '{name}'; this server has: {known}")
    return _REGISTRY[name]()


def known_types() -> list[str]:
    return sorted(set(_REGISTRY) | set(PLUGINS))


#: The workload job types, each registered by its module here when a flow first asks for it. They adapt a
#: workload package (which knows nothing of flows) and import it only inside ``run``: those packages import
#: NumPy, PySpark glue and solvers, which a server or a flow of command jobs should not pay for at start
#: (half a second of the server's start went there).
PLUGINS: dict[str, str] = {
    "decipher": "sudoless.flows.jobtypes.decipher",
    "routes": "sudoless.flows.jobtypes.routes",
    "spark": "sudoless.flows.jobtypes.spark",
    "nn": "sudoless.flows.jobtypes.nn",
}
