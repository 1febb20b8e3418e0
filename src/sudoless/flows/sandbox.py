"""Confining a job without root: what a job process may touch, enforced by Linux Landlock.

A job runs as the server's Unix user, so without confinement it could read the server's database and
secrets in SUDOLESS_HOME. Landlock (Linux 5.13+, usable by any user) lets a process give up rights for itself
and its children; rules only *allow*, each for a whole file hierarchy. So the rule set lists every path the
job keeps, which is everything except the branch that leads to SUDOLESS_HOME:

- every entry beside the way from ``/`` to SUDOLESS_HOME is allowed in full (``/usr``, ``/tmp``,
  ``/home/other``, ``~/data``, ``~/.bashrc`` ...). The folders on that way themselves (``/``, ``/home``, ``~``
  for the default home) can be listed (``ls /``, ``ls ~``, globs), but no entry can be created, removed or
  renamed in them: a right on a folder covers everything beneath it, and creating files in SUDOLESS_HOME
  (a ``config.toml`` that turns the sandbox off at the next start) must stay impossible;
- listing is one rule, READ_DIR on ``/``, so it reaches into SUDOLESS_HOME too: a job can list the names
  of the home's folders and files (other executions' file names, the managed MySQL's database and table
  names), never read or change what they hold. ``sandbox_list_dirs=off`` (SUDOLESS_SANDBOX_LIST_DIRS)
  takes that rule away: the names stay hidden, and the folders on the way cannot be listed;
- inside SUDOLESS_HOME only the execution's own directory (everything) and the Spark caches (read and
  execute: packed environments and Java that the ``spark`` job type runs from) are allowed, plus the paths an
  admin grants with the ``sandbox_read`` and ``sandbox_write`` settings, server-wide, or to one project's
  jobs with its sandbox grants (:func:`sudoless.flows.projects.set_sandbox_grants`);
- with Landlock ABI 4+ a project's grants may name the only TCP ports its jobs connect to (binding stays
  open); on older kernels that restriction cannot be enforced and jobs connect anywhere, as by default;
- with Landlock ABI 6+ the job cannot signal a process outside its sandbox (the server, other jobs).

The rule set of an execution is built once, at its first job, and applied to its job processes by one thread
of the execution's that restricts itself (Landlock and ``no_new_privs`` bind a thread and what it starts) and
starts them, with ``posix_spawn`` (:mod:`sudoless.flows.spawn`); the runner's own threads never carry a
restriction, and no ``preexec_fn`` forces a full fork.
The job's environment loses the server's settings (``SUDOLESS_*`` but ``SUDOLESS_HOME``) whatever happens.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sudoless.config import Settings
from sudoless.errors import ConfigError
from sudoless.flows.spawn import JobProcess, PendingStart, Reply, output_pipe, own_working_folder, spawn_into, spawn_job
from sudoless.store.light.project_settings import SandboxGrants

#: syscall numbers: the same on x86_64 and aarch64 (the generic table), which is where they are known here
_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2
_NET_CONNECT_TCP = 1 << 1
_PR_SET_NO_NEW_PRIVS = 38
_SCOPE_SIGNAL = 1 << 1

# file-system rights by the ABI that introduced them
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_ABI1 = (1 << 13) - 1  # execute ... make_sym
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
#: the rights that make sense on a file that is not a directory (the kernel refuses the others there)
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV
_READ_RIGHTS = _EXECUTE | _READ_FILE | _READ_DIR

#: environment variables of the server a job keeps: where the home is tells nothing secret, and a
#: ``sudoless`` command inside a job (``sudoless pack``, ``nn train``) finds its caches through it
_KEPT = frozenset({"SUDOLESS_HOME"})
#: how a job process's standard streams are set up: no input, stdout and stderr into one pipe
JOB_STREAMS: dict[str, Any] = dict(
    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
)
_T = TypeVar("_T")
#: a request to the spawning thread (:meth:`_ConfinedSpawner.submit`)
_Work = Callable[[bool, "BaseException | None"], None]


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


@cache
def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int
    return libc


def _syscall(number: int, *args: Any) -> int:
    result = _libc().syscall(ctypes.c_long(number), *args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(result)


@cache
def landlock_abi() -> tuple[int, str]:
    """The kernel's Landlock ABI version and, when it is 0, why there is none (one phrase)."""
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        return 0, f"Landlock is not known on {platform.machine()} here"
    try:
        return _syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION)), ""
    except OSError as exc:
        if exc.errno == errno.ENOSYS:
            return 0, f"this kernel ({platform.release()}) has no Landlock"
        if exc.errno == errno.EOPNOTSUPP:
            return 0, "Landlock is disabled in this kernel (add lsm=landlock,... to its boot parameters)"
        return 0, f"Landlock is not usable: {exc.strerror}"


def _fs_rights(abi: int) -> int:
    rights = _ABI1
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


@dataclass(frozen=True)
class SandboxStatus:
    """Whether jobs here are confined, and one line that says how or why not (for the log and status)."""

    isolated: bool
    abi: int
    line: str


def sandbox_status(settings: Settings) -> SandboxStatus:
    if not settings.sandbox:
        return SandboxStatus(False, 0, "jobs are not isolated: the sandbox is off (sandbox=off)")
    abi, reason = landlock_abi()
    if abi == 0:
        return SandboxStatus(False, 0, f"jobs are not isolated: {reason}")
    signals = "signals to the server blocked" if abi >= 6 else "signals not blocked (Landlock ABI < 6)"
    return SandboxStatus(True, abi, f"jobs are isolated: Landlock ABI {abi}, {signals}")


def check_sandbox(settings: Settings) -> SandboxStatus:
    """The status for a server or CLI that starts; :class:`ConfigError` when ``require_sandbox`` is set and
    jobs would not be isolated."""
    status = sandbox_status(settings)
    if settings.require_sandbox and not status.isolated:
        raise ConfigError(f"{status.line}; require_sandbox (SUDOLESS_REQUIRE_SANDBOX) is set, so nothing runs")
    return status


def announce_sandbox(settings: Settings) -> SandboxStatus:
    """:func:`check_sandbox` for a command that starts running flows: one line on stderr when jobs will not
    be isolated (or the sandbox is off), so that nobody believes they are."""
    status = check_sandbox(settings)
    if not status.isolated:
        print(f"sudoless: {status.line}", file=sys.stderr, flush=True)
    return status


def job_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the server's settings: the database URL, its password file and the rest.

    Asked for every job process, of an environment of some eighty names among which a few are settings. Which
    names to drop is remembered by the names in their order (:func:`_settings_among`): every job of an
    execution has the same ones, its executor's environment and the five ``JOB_*`` and ``AZKABAN_*`` names, so
    a job pays a tuple of its names and a lookup, a quarter of a scan of the names joined (timeit)."""
    kept = dict(env)
    for name in _settings_among(tuple(kept)):
        del kept[name]
    return kept


@functools.lru_cache(maxsize=64)
def _settings_among(names: tuple[str, ...]) -> tuple[str, ...]:
    """The names of ``names`` that :func:`job_env` drops: the server's settings, bar those jobs may see."""
    return tuple(name for name in names if name.startswith("SUDOLESS_") and name not in _KEPT)


@dataclass
class JobSandbox:
    """The confinement of one execution's jobs: ``workdir`` (the execution directory) is theirs, SUDOLESS_HOME
    otherwise closed, everything else open. :meth:`popen` starts a job process inside it."""

    home: Path
    workdir: Path
    read: tuple[Path, ...] = ()
    write: tuple[Path, ...] = ()
    enabled: bool = True
    #: whether :meth:`allows` is asked by in-process job types (the ``sandbox`` setting, kernel or not)
    checks_paths: bool = True
    #: a temporary folder of the execution's own, given to its jobs (TMPDIR, java.io.tmpdir) when the
    #: system's is on the way to the home, where a confined job cannot create entries
    tmpdir: Path | None = None
    #: the only TCP ports a job may connect to (Landlock ABI 4+); None: any
    ports: tuple[int, ...] | None = None
    #: whether every folder may be listed, SUDOLESS_HOME's included (names only; the module's docstring)
    list_dirs: bool = True
    _ruleset: int | None = field(default=None, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _spawn_thread: _ConfinedSpawner | None = field(default=None, init=False, repr=False)

    @classmethod
    def for_execution(cls, settings: Settings, workdir: Path, grants: SandboxGrants | None = None) -> JobSandbox:
        """The sandbox of an execution at ``workdir``: the server's settings plus its project's ``grants``."""
        grants = grants or SandboxGrants()
        status = sandbox_status(settings)
        spark = settings.home / "spark"
        with contextlib.suppress(OSError):  # made now, so that the rule covers caches the run fills later
            spark.mkdir(mode=0o700, exist_ok=True)
        system_tmp = os.path.realpath(tempfile.gettempdir())
        blocked = Path(os.path.realpath(settings.home)).is_relative_to(system_tmp)
        return cls(
            settings.home,
            workdir,
            read=(spark, *settings.sandbox_read_paths, *map(Path, grants.read)),
            write=(*settings.sandbox_write_paths, *map(Path, grants.write)),
            enabled=status.isolated,
            checks_paths=settings.sandbox,
            tmpdir=workdir / ".tmp" if blocked else None,
            ports=grants.ports,
            list_dirs=settings.sandbox_list_dirs,
        )

    def allows(self, path: Path) -> bool:
        """Whether a job may use ``path``: what in-process job types check before they open a file."""
        real = Path(os.path.realpath(path))
        home = Path(os.path.realpath(self.home))
        if not real.is_relative_to(home):
            return True
        return any(real.is_relative_to(os.path.realpath(p)) for p in (self.workdir, *self.read, *self.write))

    def popen(self, argv: list[str], env: Mapping[str, str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """``subprocess.Popen(argv, env=job_env(env), **kwargs)``, confined when the sandbox is on."""
        env = self._job_environment(env)
        if not self.enabled:
            return subprocess.Popen(argv, env=env, **kwargs)
        return self._call(lambda _own_folder: subprocess.Popen(argv, env=env, **kwargs))

    def start(self, argv: list[str], env: Mapping[str, str], cwd: Path) -> JobProcess | subprocess.Popen[bytes]:
        """Start a job process: ``argv`` in ``cwd``, a session of its own, stdin from ``/dev/null``, stdout and
        stderr into one pipe (its ``stdout``), the environment without the server's settings; confined when the
        sandbox is on. Started with ``posix_spawn`` from this execution's spawning thread when that thread has
        a working folder of its own (:mod:`sudoless.flows.spawn`), else through ``subprocess.Popen``."""
        env = self._job_environment(env)

        def start(own_folder: bool) -> JobProcess | subprocess.Popen[bytes]:
            process = spawn_job(argv, env, cwd) if own_folder else None
            return process or subprocess.Popen(argv, env=env, cwd=cwd, **JOB_STREAMS)

        return self._call(start)

    def begin(
        self, argv: list[str], env: Mapping[str, str], cwd: Path, started: Callable[[int], None]
    ) -> PendingStart | None:
        """:meth:`start` without waiting for it: the spawning thread starts the process and calls ``started`` with
        its pid at once; the caller gets the read end of its output now and the process from the
        :class:`PendingStart` (what the start raised is raised there). None when this process has no stdin,
        stdout or stderr (then :meth:`start`, which sorts that out)."""
        env = self._job_environment(env)
        pipe = output_pipe()
        if pipe is None:
            return None
        read, write = pipe
        stdout = open(read, "rb", buffering=0)  # noqa: SIM115 (closed by run_process)
        reply: Reply[JobProcess | subprocess.Popen[bytes]] = Reply()

        def start(own_folder: bool, failure: BaseException | None) -> None:
            try:
                if failure is not None:
                    raise failure
                if own_folder:
                    process: JobProcess | subprocess.Popen[bytes] = JobProcess(
                        spawn_into(argv, env, cwd, write), stdout
                    )
                else:
                    process = subprocess.Popen(
                        argv,
                        env=env,
                        cwd=cwd,
                        stdin=subprocess.DEVNULL,
                        stdout=write,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                started(process.pid)
            except BaseException as exc:  # raised in the thread that follows the job, as Popen's would be
                reply.fail(exc)
            else:
                reply.set(process)
            finally:
                os.close(write)  # only now can the reader see the output end: the answer is in before

        try:
            self._submit(start)
        except BaseException:
            stdout.close()
            os.close(write)
            raise
        return PendingStart(stdout, reply)

    def _call(self, start: Callable[[bool], _T]) -> _T:
        """``start(own_folder)`` on the spawning thread (``own_folder``: it may change its working folder); its
        error is raised here."""
        reply: Reply[_T] = Reply()

        def work(own_folder: bool, failure: BaseException | None) -> None:
            try:
                if failure is not None:
                    raise failure
                reply.set(start(own_folder))
            except BaseException as exc:  # handed to the caller's thread, raised there
                reply.fail(exc)

        self._submit(work)
        return reply.get()

    def _submit(self, work: _Work) -> None:
        """Hand ``work`` to the spawning thread, made when first needed; under the lock that :meth:`close` takes,
        so that no request can arrive after the thread's stop and wait forever."""
        ruleset = self._prepared() if self.enabled else None
        with self._lock:
            if self._closed:
                raise RuntimeError("the execution's sandbox is closed: its run has ended")
            if self._spawn_thread is None:
                self._spawn_thread = _ConfinedSpawner(ruleset)
            self._spawn_thread.submit(work)

    def _job_environment(self, env: Mapping[str, str]) -> dict[str, str]:
        env = job_env(env)
        if self.enabled and self.tmpdir is not None:
            self.tmpdir.mkdir(exist_ok=True)
            java = f"{env.get('JAVA_TOOL_OPTIONS', '')} -Djava.io.tmpdir={self.tmpdir}".strip()
            env.update(TMPDIR=str(self.tmpdir), JAVA_TOOL_OPTIONS=java)
        return env

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._spawn_thread is not None:
                self._spawn_thread.stop()
                self._spawn_thread = None
            if self._ruleset is not None:
                os.close(self._ruleset)
                self._ruleset = None

    def _prepared(self) -> int:
        with self._lock:
            if self._closed:
                raise RuntimeError("the execution's sandbox is closed: its run has ended")
            if self._ruleset is None:
                self._ruleset = build_ruleset(
                    landlock_abi()[0],
                    self.home,
                    [(self.workdir, None), *((p, _READ_RIGHTS) for p in self.read), *((p, None) for p in self.write)],
                    ports=self.ports,
                    list_dirs=self.list_dirs,
                )
            return self._ruleset


class _ConfinedSpawner:
    """The thread that starts an execution's job processes, confined when ``ruleset`` is given.

    Landlock confines the calling thread, and a confined thread can never be freed again, so job processes
    are started from a thread of their own. One such thread per execution, confined once with the
    execution's ruleset, starts every job process of that execution: a thread started and joined for each
    job cost about 0.2 ms of the per-job overhead (benchmarks/README.md, flow_overhead.py). The thread also
    has a working folder of its own, so that it can start jobs with ``posix_spawn`` (:mod:`sudoless.flows.
    spawn`). It runs nothing but this sandbox's process starts, and stops when the sandbox is closed.
    """

    def __init__(self, ruleset: int | None) -> None:
        self._requests: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, args=(ruleset,), name="sandboxed-spawn", daemon=True)
        self._thread.start()

    def submit(self, work: _Work) -> None:
        """Run ``work(own_folder, failure)`` on the spawning thread: ``own_folder``, it may change its working
        folder; ``failure``, why nothing may start there (its confinement failed). ``work`` answers its caller
        itself and raises nothing."""
        self._requests.put(work)

    def stop(self) -> None:
        self._requests.put(None)

    def _serve(self, ruleset: int | None) -> None:
        failure: BaseException | None = None
        own_folder = own_working_folder()
        try:
            if ruleset is not None:
                if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
                _syscall(_SYSCALLS[platform.machine()][2], ctypes.c_int(ruleset), ctypes.c_uint32(0))
        except BaseException as exc:  # every request gets it: nothing may start unconfined
            failure = exc
        while (work := self._requests.get()) is not None:
            work(own_folder, failure)


def build_ruleset(
    abi: int,
    home: Path,
    grants: Iterable[tuple[Path, int | None]],
    ports: Iterable[int] | None = None,
    list_dirs: bool = True,
) -> int:
    """A Landlock ruleset fd: everything but the branch to ``home``, then ``grants`` (path, rights; None is
    every right). Grants that do not exist are skipped. ``ports``: the only TCP ports a connect may reach,
    where the kernel handles network rights (ABI 4+); None or an older kernel leaves connect alone.
    ``list_dirs``: every folder may be listed, the branch to ``home`` and ``home`` included."""
    create, add, _ = _SYSCALLS[platform.machine()]
    every = _fs_rights(abi)
    net = _NET_CONNECT_TCP if ports is not None and abi >= 4 else 0
    attr = _RulesetAttr(every, net, _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    fd = _syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    rule = _PathBeneathAttr(0, -1)

    def allow(path: str, rights: int) -> None:
        try:
            target = os.open(path, os.O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return  # gone since it was listed, or not ours to open: nothing to allow
        try:
            rule.allowed_access, rule.parent_fd = rights, target
            _syscall(add, ctypes.c_int(fd), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0))
        finally:
            os.close(target)

    try:
        real_home = os.path.realpath(home)
        parts = Path(real_home).parts
        if list_dirs:
            allow(parts[0], _READ_DIR)
        for depth in range(1, len(parts)):
            folder = os.path.join(*parts[:depth])
            on_the_way = os.path.join(folder, parts[depth])
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                for entry in entries:
                    if entry.path == on_the_way or entry.is_symlink():
                        continue  # a link is followed at use, to a target that has its own rule (or none)
                    allow(entry.path, every if entry.is_dir(follow_symlinks=False) else every & _FILE_RIGHTS)
        for path, rights in grants:
            if os.path.exists(path):
                wanted = every if rights is None else rights
                allow(os.path.realpath(path), wanted if os.path.isdir(path) else wanted & _FILE_RIGHTS)
        for port in ports if ports is not None and net else ():
            port_rule = _NetPortAttr(_NET_CONNECT_TCP, port)
            _syscall(add, ctypes.c_int(fd), ctypes.c_int(_RULE_NET_PORT), ctypes.byref(port_rule), ctypes.c_uint32(0))
    except BaseException:
        os.close(fd)
        raise
    return fd
