"""Starting a job process with ``posix_spawn``: what ``subprocess.Popen`` does for a job, at half its cost.

A job process needs its working folder, its environment, a session of its own, stdin from ``/dev/null``
and stdout and stderr into one pipe. ``subprocess.Popen`` does this in Python around a fork: pipes for its
own error reporting, the executable searched in the child, every descriptor closed; about 0.24 ms of the
parent's CPU per ``true`` here, against 0.11 ms for ``os.posix_spawn`` (glibc's vfork) and 0.5 ms less
wall time (benchmarks/README.md, "Per-job overhead"). What ``posix_spawn`` lacks is done before it:

* the working folder: ``posix_spawn`` has no ``chdir`` in Python 3.11, so the spawning thread gives itself
  a working folder of its own (``unshare(CLONE_FS)``, no privilege needed) and changes into the job's
  before each start; no other thread's folder moves. A thread that cannot (:func:`own_working_folder`
  false) starts jobs through ``subprocess.Popen``;
* the executable: searched in the job environment's ``PATH``, as ``Popen`` does;
* the descriptors: every one Python opens is close-on-exec already, but a program may make one inheritable (the
  server's listening socket) and a C library may open one without ``O_CLOEXEC``: every descriptor above stderr
  is listed just before each start and closed in the child;
* signals: SIGPIPE and SIGXFSZ, which Python ignores, are reset to their defaults, as ``Popen`` does.

Whatever the thread carries (a Landlock domain, ``no_new_privs``) the job process carries too.

The thread that follows a job (its output, its end) does not wait for the spawning thread's answer before it
waits on the job: it makes the output pipe, hands the start over (:meth:`sudoless.flows.sandbox.JobSandbox.begin`)
and waits on the pipe at once; the spawning thread reports the start itself and closes its end of the pipe only
once the process is in the :class:`PendingStart`. For a short job, one wake-up of the following thread (the
output's end) instead of two (the answer, then the end).
"""

from __future__ import annotations

import bisect
import ctypes
import errno
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from itertools import repeat
from pathlib import Path
from typing import IO, Any, BinaryIO, Generic, TypeAlias, TypeVar, cast

_CLONE_FS = 0x00000200
_T = TypeVar("_T")
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)


def own_working_folder() -> bool:
    """Give the calling thread a working folder of its own (Linux ``unshare(CLONE_FS)``); False if not."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.unshare(_CLONE_FS) == 0)
    except (OSError, AttributeError):
        return False


class JobProcess:
    """A started job process, as :func:`sudoless.flows.jobtypes.process.run_process` uses it (the part of
    ``subprocess.Popen`` it needs): ``pid``, ``stdout`` (the read end of its output), ``poll``, ``wait``."""

    def __init__(self, pid: int, stdout: BinaryIO) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code (minus the signal's number if one ended it) once it has exited, else None."""
        return self._wait(os.WNOHANG)

    def wait(self) -> int:
        code = self._wait(0)
        assert code is not None  # a blocking wait returns only once the process has exited
        return code

    def _wait(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): the code is lost; Popen says 0 too
                self.returncode = 0
                return self.returncode
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def spawn_job(argv: list[str], env: Mapping[str, str], cwd: Path) -> JobProcess | None:
    """Start ``argv`` in ``cwd`` with ``env``, in a new session, its output in a pipe. Must run in a thread that
    has its own working folder (:func:`own_working_folder`). Raises what ``Popen`` raises when the program or
    the folder cannot be used (``FileNotFoundError``, ``PermissionError``, ``NotADirectoryError``); None when
    this process has no stdin, stdout or stderr (the pipe took their place: ``Popen`` sorts that out)."""
    pipe = output_pipe()
    if pipe is None:
        return None
    read, write = pipe
    try:
        pid = spawn_into(argv, env, cwd, write)
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    return JobProcess(pid, open(read, "rb", buffering=0))  # noqa: SIM115 (closed by run_process)


def output_pipe() -> tuple[int, int] | None:
    """A pipe (read, write) for a job's output; None when it took the place of a missing stdin, stdout or
    stderr of this process (descriptors 0-2), which ``posix_spawn``'s ``dup2`` onto them would then break."""
    read, write = os.pipe()
    if min(read, write) <= 2:
        os.close(read)
        os.close(write)
        return None
    return read, write


def spawn_into(argv: list[str], env: Mapping[str, str], cwd: Path, output: int) -> int:
    """:func:`spawn_job` with stdout and stderr into the descriptor ``output`` (a pipe's write end, which the
    caller closes); returns the pid."""
    os.chdir(cwd)
    actions: list[tuple[Any, ...]] = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, output, 1),
        (os.POSIX_SPAWN_DUP2, output, 2),
    ]
    actions += _close_actions()
    candidates, remembered = _candidates(argv[0], env)
    try:
        return _spawn_first(candidates, argv, env, actions)
    except OSError:
        if not remembered:
            raise
        # the program moved since the search was made: search again
        return _spawn_first(_candidates(argv[0], env, fresh=True)[0], argv, env, actions)


class Reply(Generic[_T]):
    """One answer from another thread, given once (:meth:`set` or :meth:`fail`) and waited for with :meth:`get`.

    A lock held until the answer is in: lighter than a ``concurrent.futures.Future`` (a condition variable, a
    waiter lock and a callback list for every answer), which the spawning thread's answers were before."""

    __slots__ = ("_done", "_value", "_error")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()
        self._value: _T | None = None
        self._error: BaseException | None = None

    def set(self, value: _T) -> None:
        self._value = value
        self._done.release()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.release()

    def ready(self) -> bool:
        return not self._done.locked()

    def get(self) -> _T:
        """The answer, once it is in; the error given instead is raised here."""
        if self._done.locked():
            with self._done:  # released by the answering thread: this waits for it
                pass
        if self._error is not None:
            raise self._error
        return cast(_T, self._value)


#: what a job process is to the thread that follows it: started by :func:`spawn_job` or by ``Popen``
Process: TypeAlias = JobProcess | subprocess.Popen[bytes]


class PendingStart:
    """A job process that may still be starting: the read end of its output now (``stdout``), the process
    (:meth:`process`) once the spawning thread has started it. The thread that follows the job waits on its
    output at once, not on a reply and then on the output: one hand-off between threads fewer per process.
    The spawning thread closes its end of the pipe only after it answered, so once the output has ended (or
    the start failed: then nothing else holds the pipe) the answer is in."""

    __slots__ = ("stdout", "_reply")

    def __init__(self, stdout: IO[bytes], reply: Reply[Process]) -> None:
        self.stdout = stdout
        self._reply = reply

    @classmethod
    def started(cls, process: Process) -> PendingStart:
        """A process already started (by the calling thread)."""
        reply: Reply[Process] = Reply()
        reply.set(process)
        assert process.stdout is not None
        return cls(process.stdout, reply)

    def ready(self) -> bool:
        """Whether :meth:`process` would answer at once."""
        return self._reply.ready()

    def process(self) -> Process:
        """The started process; raises what the start raised (``FileNotFoundError`` ...)."""
        return self._reply.get()


def _spawn_first(candidates: list[str], argv: list[str], env: Mapping[str, str], actions: list[tuple[Any, ...]]) -> int:
    """Start the first of ``candidates`` that starts, as ``execvpe`` would; its error when none does."""
    failure: OSError | None = None
    for path in candidates:
        try:
            return os.posix_spawn(path, argv, env, file_actions=actions, setsid=True, setsigdef=_DEFAULT_SIGNALS)
        except (FileNotFoundError, NotADirectoryError) as exc:
            failure = failure or exc
        except PermissionError as exc:  # as execvpe: remembered, the search goes on
            failure = exc
    raise failure or FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])


#: where a program was found in a PATH, and when: (program, PATH) -> (monotonic time, paths that exist)
_FOUND: dict[tuple[str, str | None], tuple[float, list[str]]] = {}
#: how long a search is reused: a flow of short jobs starts the same programs many times a second, and each
#: search is a ``stat`` per folder of the PATH (eleven here, a fifth of what ``posix_spawn`` costs the parent)
FOUND_SECONDS = 1.0


def _candidates(program: str, env: Mapping[str, str], fresh: bool = False) -> tuple[list[str], bool]:
    """Where ``program`` may be: itself when it names a path, else each folder of the job's ``PATH`` where it
    exists (a failed start costs a vfork and an exec, a failed stat a microsecond), searched at most once a
    second unless ``fresh`` (:data:`FOUND_SECONDS`). Also whether the paths are a remembered search's."""
    if os.sep in program:
        return [program], False
    key = (program, env.get("PATH"))
    now = time.monotonic()
    found = _FOUND.get(key)
    if found is not None and not fresh and now - found[0] < FOUND_SECONDS:
        return found[1], True
    paths = [os.path.join(folder, program) for folder in os.get_exec_path(env)]
    existing = [path for path in paths if os.path.exists(path)]
    if all(os.path.isabs(path) for path in paths):  # a relative folder depends on the job's own folder
        if len(_FOUND) >= 256:
            _FOUND.clear()
        _FOUND[key] = (now, existing)
    return existing, False


def _close_actions() -> list[tuple[int, int]]:
    """A close in the child of every descriptor above stderr open here now, listed before every start: a
    descriptor made inheritable since the last start (by Python code, or opened without ``O_CLOEXEC`` by a C
    library) must not reach a job. The close-on-exec ones (most) are closed with the others rather than told
    apart: asking each whether it is inheritable was a loop in Python, where this list is made in C; closing
    one that exec would close anyway changes nothing, and glibc ignores a close of the listing's own
    descriptor, closed by now (``EBADF`` for a number below the limit of open files)."""
    fds = sorted(map(int, os.listdir("/proc/self/fd")))
    del fds[: bisect.bisect_right(fds, 2)]  # stdin, stdout and stderr are the job's own (the actions before)
    if fds and fds[-1] >= os.sysconf(_SC_OPEN_MAX):
        # A number at or above the limit (a tool's own, as valgrind's, or one opened before the limit was
        # lowered): posix_spawn refuses to close one, so those are told apart, as all were before.
        high = bisect.bisect_left(fds, os.sysconf(_SC_OPEN_MAX))
        fds[high:] = filter(_inheritable, fds[high:])
    return list(zip(repeat(os.POSIX_SPAWN_CLOSE), fds))


_SC_OPEN_MAX = os.sysconf_names["SC_OPEN_MAX"]


def _inheritable(fd: int) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:  # closed since it was listed
        return False
