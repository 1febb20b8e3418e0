"""What a job type is given and gives back: the contract between the runner's attempt and every job type.

Below the registry (:mod:`sudoless.flows.jobtypes`) and the built-in types, which all use it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sudoless.errors import JobError
from sudoless.flows.joblog import LogWriter

if TYPE_CHECKING:
    from sudoless.flows.sandbox import JobSandbox

__all__ = ["JobContext", "JobResult", "JobType"]


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
            raise JobError(
                f"{relative}: jobs may not use files in {self.sandbox.home} outside their execution "
                "directory (the sandbox_read and sandbox_write settings grant more)"
            )
        return path


@dataclass
class JobResult:
    succeeded: bool
    outputs: dict[str, str] = field(default_factory=dict)
    killed: bool = False
    message: str = ""


class JobType(Protocol):
    def run(self, ctx: JobContext) -> JobResult: ...
