"""Job types: what ``type=`` in a job means. A registry maps each name to a class with ``run``.

Built in: ``command`` (Azkaban's, not a shell), ``noop``, ``test`` (Azkaban's test job type) and
``javaprocess``/``java``. The runner handles ``flow`` (embedded flows) itself. The workload types
(``decipher``, ``routes``, ``spark``, ``nn``) live beside them and load on first use (:data:`PLUGINS`); other
code adds types with :func:`register`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sudoless.errors import JobError
from sudoless.flows.joblog import LogWriter

if TYPE_CHECKING:
    from sudoless.flows.sandbox import JobSandbox


@dataclass
class JobContext:
    """What a job type gets: resolved properties, where to run, where to log, and when to stop."""

    job_id: str
    attempt: int
    props: dict[str, str]
    workdir: Path
    env: dict[str, str]
    log: LogWriter
    cancel: threading.Event
    output_file: Path
    timeout: float | None = None
    started: Callable[[int | None], None] = lambda pid: None
    #: the confinement its processes start in (:func:`~sudoless.flows.jobtypes.process.run_process`), and
    #: the paths in-process job types may open (:meth:`JobSandbox.allows`); None runs them unconfined
    sandbox: JobSandbox | None = None

    def path(self, relative: str) -> Path:
        """``relative`` (or absolute) under the working directory, for a job type that opens files in the
        runner's own process, where no kernel confines it: a path the sandbox keeps from jobs (the server's
        database, its secrets, another execution) raises :class:`JobError`."""
        path = self.workdir / relative
        if self.sandbox is not None and self.sandbox.checks_paths and not self.sandbox.allows(path):
            raise JobError(f"{relative}: jobs may not use files in {self.sandbox.home} outside their execution "
                           "directory (the sandbox_read and sandbox_write settings grant more)")
        return path


@dataclass
class JobResult:
    succeeded: bool
    outputs: dict[str, str] = field(default_factory=dict)
    killed: bool = False
    message: str = ""


class JobType(Protocol):
    def run(self, ctx: JobContext) -> JobResult: ...


_REGISTRY: dict[str, Callable[[], JobType]] = {}


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


from sudoless.flows.jobtypes import builtin  # noqa: E402,F401  (registers the built-in types)

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
