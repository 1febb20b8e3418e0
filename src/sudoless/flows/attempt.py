"""One attempt of one job, in a worker thread: its files, directory and environment, and its job type.

The runner decides *whether* a job runs; this module does the running, Azkaban's way: all resolved
properties in ``$JOB_PROP_FILE``, outputs read back from ``$JOB_OUTPUT_PROP_FILE``, ``env.*``
properties as environment variables, and the working directory of the job's ``.job`` file (Flow 1.0) or
the execution directory (Flow 2.0) unless ``working.dir`` says otherwise. Whatever goes wrong ends as a
failed :class:`~sudoless.flows.jobtypes.JobResult` with the reason in the job's log, never as an
exception in the runner.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from sudoless.descriptors import write_all
from sudoless.errors import InputError, JobError, SudolessError
from sudoless.flows.joblog import LogWriter
from sudoless.flows.jobtypes import JobContext, JobResult, job_type
from sudoless.flows.sandbox import JobSandbox


class Attempt(NamedTuple):
    """Where and what: the job's identity in the execution and the directories it runs in. A named tuple, made
    for every attempt: as immutable as the frozen dataclass it was, at a fifth of its making (14 K instructions
    for a frozen dataclass's eight ``object.__setattr__`` calls, callgrind)."""

    exec_id: int
    nested_id: str
    name: str
    type: str
    attempt: int
    source: str
    workdir: Path
    flow_version: str

    @property
    def stem(self) -> str:
        return attempt_stem(self.nested_id, self.attempt)


#: a name ``quote`` leaves as it is (its always-safe characters, ASCII only): most jobs' names
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]+")


@functools.lru_cache(maxsize=1024)  # asked five times per attempt, by the runner and here
def attempt_stem(nested_id: str, attempt: int) -> str:
    """The name of an attempt's files in ``.jobs``: the nested id percent-encoded, so that no name (a ``/``,
    ``..``, a NUL) can point outside the folder, and cut to a digest when too long for a file name."""
    encoded = nested_id if _PLAIN.fullmatch(nested_id) else quote(nested_id, safe="")
    if len(encoded) > 150:
        encoded = f"{encoded[:80]}~{hashlib.sha256(nested_id.encode()).hexdigest()[:24]}"
    return f"{encoded}.{attempt}"


def run_attempt(
    attempt: Attempt,
    resolve: Callable[[], dict[str, str]],
    base_env: Mapping[str, str],
    log: LogWriter,
    cancel: threading.Event,
    started: Callable[[int | None], None],
    sandbox: JobSandbox | None = None,
) -> tuple[JobResult, dict[str, str]]:
    """Resolve the job's properties, run its type, and log the start and the verdict.

    Returns the result and the properties the attempt ran with (empty when they did not resolve).
    """
    props: dict[str, str] = {}
    log.line(f"Starting job {attempt.nested_id} (attempt {attempt.attempt}) of type {attempt.type}")
    try:
        props = resolve()
        result = job_type(attempt.type).run(context(attempt, props, base_env, log, cancel, started, sandbox))
    except SudolessError as exc:
        log.line(str(exc), "ERROR")
        result = JobResult(False, message=str(exc))
    except Exception as exc:  # a job type's bug must fail its job, not kill the runner
        log.line(f"internal error in job type {attempt.type}: {exc!r}", "ERROR")
        result = JobResult(False, message=repr(exc))
    verdict = "SUCCEEDED" if result.succeeded else ("KILLED" if result.killed else "FAILED")
    if verdict == "FAILED" and props.get("job.succeed.on.failure", "").lower() == "true":
        verdict = "FAILED_SUCCEEDED (job.succeed.on.failure=true)"
    reason = f" ({result.message})" if result.message and not result.succeeded else ""
    log.line(f"Finished job {attempt.nested_id} attempt {attempt.attempt}: {verdict}{reason}")
    return result, props


def context(
    attempt: Attempt,
    props: dict[str, str],
    base_env: Mapping[str, str],
    log: LogWriter,
    cancel: threading.Event,
    started: Callable[[int | None], None],
    sandbox: JobSandbox | None = None,
) -> JobContext:
    # strings, not Paths: nine pathlib joins a job were a tenth of the runner's CPU per job (cProfile)
    # and the stem holds no "/" (checked below), so a file's path is the folder's and its name joined
    jobs_dir, jobs_path = _jobs_folder(attempt.workdir)
    stem = attempt.stem
    prop_file = f"{jobs_dir}/{stem}.props"
    output_file = f"{jobs_dir}/{stem}.output"
    # The stem is percent-encoded (no "/"), so only a symbolic link left in .jobs by an earlier job could
    # lead elsewhere: the props file is opened without following one and the output file may not be one.
    # (Four Path.resolve() calls did this before, 0.1-0.2 ms of every job's overhead.)
    names = tuple(props)  # the sort of the properties file and the test for env.* names are remembered by them
    try:
        if "/" in stem or os.path.islink(output_file):
            raise OSError(errno.ELOOP, "a symbolic link")
        _write_new(prop_file, _properties_text(props, names))
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise JobError(f"job {attempt.nested_id!r}: its files would leave {jobs_dir}") from None
    cwd = default_cwd(attempt.workdir, attempt.flow_version, attempt.source)
    if props.get("working.dir") and props["working.dir"] != str(cwd):  # the runner's default: as it is
        cwd = (attempt.workdir / props["working.dir"]).resolve()
    env = dict(base_env)
    if _env_names(names):  # seldom
        env.update({k[4:]: v for k, v in props.items() if k.startswith("env.")})
    env.update(
        JOB_PROP_FILE=prop_file,
        JOB_OUTPUT_PROP_FILE=output_file,
        JOB_NAME=attempt.name,
        JOB_ID=attempt.nested_id,
        AZKABAN_EXEC_ID=str(attempt.exec_id),
    )
    return JobContext(
        job_id=attempt.nested_id,
        attempt=attempt.attempt,
        props=props,
        workdir=cwd,
        env=env,
        log=log,
        cancel=cancel,
        output_file=jobs_path / f"{stem}.output",  # one part joined to a Path made once: not a whole path parsed
        timeout=_timeout(props),
        started=started,
        sandbox=sandbox,
    )


@functools.lru_cache(maxsize=64)  # the same folder for every job of an execution
def _jobs_folder(workdir: Path) -> tuple[str, Path]:
    """An execution's ``.jobs`` folder, as a string and as a Path, made once per execution."""
    path = workdir / ".jobs"
    return str(path), path


def _write_new(path: str, text: str) -> None:
    """``path.write_text(text)``, except that a symbolic link at ``path`` fails with ELOOP."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:  # one write of the encoded text: a text file object around the descriptor costs more than the write
        write_all(fd, text.encode())
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=1024)  # asked by the runner for ${working.dir}, then for the attempt's folder
def default_cwd(workdir: Path, flow_version: str, source: str) -> Path:
    """Where a job runs unless ``working.dir`` says otherwise: the folder of its ``.job`` file (Flow 1.0)
    or the execution folder (Flow 2.0); also the value of ``${working.dir}`` then."""
    if flow_version == "1.0" and source:
        return _job_folder(workdir, os.path.dirname(source))
    return workdir


@functools.lru_cache(maxsize=1024)  # the same few folders all the execution long
def _job_folder(workdir: Path, folder: str) -> Path:
    """``workdir / folder``, made once per folder: every job has its own ``.job`` file, so a cache by file
    missed on every job and paid two pathlib joins each time, where most jobs share a few folders."""
    return workdir / folder if folder else workdir


def _timeout(props: Mapping[str, str]) -> float | None:
    text = props.get("timeout", "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise InputError(f"timeout={text!r}: not a number of seconds") from None
    if seconds <= 0:
        raise InputError(f"timeout={text!r}: must be more than 0 seconds")
    return seconds


def _properties_text(props: Mapping[str, str], names: tuple[str, ...] | None = None) -> str:
    """``props`` as a properties file, sorted, ``\\``, newlines and carriage returns escaped. Values seldom hold
    one: three scans of them all, then plain lines, take a quarter less than escaping each value (32 values:
    32 against 44 us, timeit, loaded machine)."""
    # The lines are made in C (map, zip, str.join: a third of a comprehension of f-strings' time, 40 properties)
    # and the names sorted, not the items: strings compare faster than tuples.
    if not props:
        return ""
    keys = _sorted_names(tuple(props) if names is None else names)
    values = map(props.__getitem__, keys)
    text = "\x00".join(props.values())
    if "\\" in text or "\n" in text or "\r" in text:
        values = map(_escape, values)
    return "\n".join(map("=".join, zip(keys, values, strict=True))) + "\n"


@functools.lru_cache(maxsize=256)
def _sorted_names(names: tuple[str, ...]) -> list[str]:
    """``names`` sorted, remembered by the names in their order: the jobs of a flow mostly have the same ones
    (the flow's and the job's built-ins, ``type``, ``command``, ``dependencies``), so a job's sort is a lookup.
    The list is only read."""
    return sorted(names)


@functools.lru_cache(maxsize=256)
def _env_names(names: tuple[str, ...]) -> bool:
    """Whether ``names`` (a job's properties' names, in their order) hold an ``env.*`` one, remembered as the
    sort is (:func:`_sorted_names`); one scan of them joined, in C, when new."""
    return "\x00env." in "\x00" + "\x00".join(names)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
