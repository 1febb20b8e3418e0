"""Run the server: uvicorn on a socket bound up front, with the embedded executor and the scheduler.

The port is bound before anything slow happens, so a port in use fails at once with one clear line
(an :class:`~sudoless.errors.InputError`, exit code 2 from the CLI). The embedded executor (solo mode)
and the scheduler run in daemon threads of the server process; ``sudoless executor`` processes sharing
the database add capacity. With ``http_workers`` > 1, the process forks that many HTTP-only copies of itself
before any thread starts; all accept on the one socket, and only the first runs flows and the scheduler.
One Python process answers at most a couple of hundred requests a second (the GIL), which the Azkaban
clients of a busy team exceed. On shutdown the scheduler stops, the executor stops claiming, and flows this
process runs are cancelled (their jobs killed) with a short grace period, rather than left running
without an owner.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sudoless.config import Settings, ensure_home
from sudoless.errors import InputError, StateError
from sudoless.server.heap import freeze_survivors
from sudoless.store.status import TERMINAL_FLOW, Status

__all__ = ["Server", "bind"]

log = logging.getLogger(__name__)

DEFAULT_HTTP_PORT = 8081
DEFAULT_HTTPS_PORT = 8443
SESSION_PURGE_SECONDS = 600.0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; InputError naming the port when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    # With proto 0 (not IPPROTO_TCP) asyncio does not set TCP_NODELAY on the accepted connections, and
    # Nagle's algorithm then holds a response's body behind its headers until the client's delayed ACK:
    # 40 ms added to every request on Linux.
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(
                f"port {port} is in use on {host}; stop the program listening there or choose another port with --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise InputError(
                f"port {port} on {host}: permission denied (ports below 1024 need root); "
                "use a port above 1024 with --port"
            ) from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


@dataclass
class Started:
    """What a start produced: the URL, and the admin password when this start created the admin user."""

    url: str
    admin_password: str | None


class Server:
    """The HTTP server of one installation. :meth:`start` binds and prepares, :meth:`serve` blocks.

    ``store`` and ``accounts`` may be passed in (tests); otherwise they are opened from ``settings``.
    """

    def __init__(
        self,
        settings: Settings,
        host: str = "127.0.0.1",
        port: int | None = None,
        tls: tuple[Path, Path] | None = None,
        embedded_executor: bool = True,
        max_flows: int = 30,
        log_level: str = "warning",
        store: Any = None,
        accounts: Any = None,
        scheduler_interval: float = 1.0,
        cancel_grace_seconds: float = 10.0,
        http_workers: int = 1,
        freeze_heap: bool = True,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port if port is not None else (DEFAULT_HTTPS_PORT if tls else DEFAULT_HTTP_PORT)
        self.tls = tls
        self.embedded_executor = embedded_executor
        self.max_flows = max_flows
        self.log_level = log_level
        self.store = store
        self.accounts = accounts
        self.scheduler_interval = scheduler_interval
        self.cancel_grace_seconds = cancel_grace_seconds
        self.http_workers = max(1, http_workers)
        self.freeze_heap = freeze_heap
        self._survivors: Any = None  # heap.freeze_survivors' callback, once the heap was first frozen
        self._children: list[int] = []
        self.socket: socket.socket | None = None
        self.uvicorn: Any = None
        self.executor: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._starter: threading.Thread | None = None
        self.workers_ready = threading.Event()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> Started:
        """Bind the port, open the database, create the first admin if there are no users, build the app."""
        if self.tls:
            from sudoless.server.tls import check_pair

            check_pair(*self.tls)
        self.socket = bind(self.host, self.port)
        self.port = self.socket.getsockname()[1]
        try:
            return self._prepare()
        except BaseException:
            self.socket.close()
            raise

    def _prepare(self) -> Started:
        import uvicorn

        from sudoless.accounts import Accounts
        from sudoless.flows.scheduler import Scheduler
        from sudoless.server.app import create_app
        from sudoless.store import store_for

        ensure_home(self.settings)
        if self.store is None:
            self.store = store_for(self.settings)
        if self.accounts is None:
            self.accounts = Accounts(self.store, self.settings)
        self.accounts.directory.backends  # noqa: B018 (a misconfigured back-end stops the start, not a login)
        password = self.accounts.ensure_admin()
        self.scheduler = Scheduler(self.store, self.settings)
        app = create_app(self.settings, self.store, self.accounts, self.scheduler, secure=self.tls is not None)
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level=self.log_level,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            ssl_certfile=str(self.tls[0]) if self.tls else None,
            ssl_keyfile=str(self.tls[1]) if self.tls else None,
        )
        self.uvicorn = uvicorn.Server(config)
        self._freeze_heap()
        return Started(self.url, password)

    def _freeze_heap(self) -> None:
        """Keep what start-up made (modules, the application, the pool) out of the garbage collector's
        full collections.

        A full collection walks every tracked object; in a started server that is some 100,000, and on
        this project's 2-core machine each walk stopped every request thread for 100 to 300 ms, every few
        seconds at 200 requests a second: the whole p99 tail of ``fetchFlowExecutions`` on MariaDB
        (benchmarks/README.md). Frozen objects are never walked again, so a full collection then costs
        what requests left behind. Forked HTTP workers inherit the frozen heap and share its pages. No
        collection runs first (it would delay the start by as much): the garbage start-up left is small and
        made once. ``freeze_heap=False`` leaves the process's collector alone (a test process serving in a
        thread: what its other tests leave must stay collectable). From then on, what each full collection
        leaves is frozen too (:func:`~sudoless.server.heap.freeze_survivors`: the server's caches, filled
        as it serves).
        """
        if self.freeze_heap:
            gc.freeze()
            if self._survivors is None:
                self._survivors = freeze_survivors()

    def serve(self) -> None:
        """Run until :meth:`stop` (or SIGINT/SIGTERM in the main thread); then stop the workers."""
        if self.uvicorn is None or self.socket is None:
            raise StateError("Server.serve() before start()")
        self._fork_http_workers()  # before any thread exists: a fork copies only the calling thread
        # The workers start once the server answers: they would only slow down its start.
        self._starter = self._spawn("starter", self._start_workers_when_serving)
        try:
            self.uvicorn.run(sockets=[self.socket])
        finally:
            self._stop_http_workers()
            self._stop_workers()
            self.socket.close()

    # -- HTTP worker processes ----------------------------------------------------------------------------

    def _fork_http_workers(self) -> None:
        for _ in range(self.http_workers - 1):
            pid = os.fork()
            if pid == 0:
                self._serve_http_only()
            self._children.append(pid)

    def _serve_http_only(self) -> None:
        """A forked worker: the same application on the same socket, no executor or scheduler; never returns."""
        code = 0
        try:
            # Pooled connections belong to the parent; the child opens its own.
            self.store.engine.dispose(close=False)
            self.uvicorn.run(sockets=[self.socket])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        except BaseException:
            log.exception("HTTP worker %d failed", os.getpid())
            code = 1
        finally:
            os._exit(code)

    def _stop_http_workers(self, timeout: float = 10.0) -> None:
        for pid in self._children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for pid in self._children:
            while True:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            if not done:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        self._children.clear()

    def stop(self) -> None:
        self._stop.set()
        if self.uvicorn is not None:
            self.uvicorn.should_exit = True

    @property
    def started(self) -> bool:
        return bool(self.uvicorn is not None and self.uvicorn.started)

    def wait_started(self, timeout: float = 10.0) -> None:
        """Wait until the server answers and its executor and scheduler run."""
        if not self.workers_ready.wait(timeout):
            raise StateError(f"server on {self.url} did not start within {timeout:g} s")

    # -- workers --------------------------------------------------------------------------------------------

    def _start_workers_when_serving(self) -> None:
        while not self.started:
            if self._stop.wait(0.01):
                return
        self._start_workers()

    def _start_workers(self) -> None:
        from sudoless.flows.executor import Executor
        from sudoless.flows.notify import Sender
        from sudoless.server.metrics import count_notification_failure

        self._spawn("scheduler", self.scheduler.run, self._stop, self.scheduler_interval)
        self._spawn("triggers", self.scheduler.triggers.run, self._stop, self.scheduler_interval)
        self._spawn("sessions", self._purge_sessions)
        sender = Sender(
            self.store, self.settings, on_failure=lambda record, _error: count_notification_failure(record.channel)
        )
        self._spawn("notifications", sender.run, self._stop, self.scheduler_interval)
        if any(backend is not None for backend in self.accounts.directory.backends):
            self._spawn("directory", self._refresh_directory)
        if self.embedded_executor:
            self.executor = Executor(self.store, self.settings, max_flows=self.max_flows)
            self._spawn("executor", self.executor.serve)
        self._freeze_heap()  # and what the workers' start imported and built
        self.workers_ready.set()

    def _spawn(self, name: str, target: Any, *args: Any) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"sudoless-{name}")
        thread.start()
        self._threads.append(thread)
        return thread

    def _purge_sessions(self) -> None:
        while not self._stop.wait(SESSION_PURGE_SECONDS):
            try:
                self.accounts.purge_expired_sessions()
            except Exception:
                log.exception("purging expired sessions failed")

    def _refresh_directory(self) -> None:
        """Re-read directory accounts every ``directory_refresh_seconds``: someone removed from an allowed
        group loses access, sessions included, within that time."""
        while not self._stop.wait(max(1.0, self.settings.directory_refresh_seconds)):
            try:
                done = self.accounts.refresh_directory_accounts()
                if done.problem:
                    log.error("refreshing directory accounts: %s", done.problem)
            except Exception:
                log.exception("refreshing directory accounts failed")

    def _stop_workers(self) -> None:
        self._stop.set()
        if self._starter is not None:
            self._starter.join()  # it may be starting the workers at this very moment
        if self.executor is not None:
            self.executor.stop(wait=False)
            self._cancel_own_executions()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _cancel_own_executions(self) -> None:
        unfinished = [status for status in Status if status not in TERMINAL_FLOW]
        mine = [
            e.id
            for e in self.store.executions.latest(statuses=unfinished, limit=100_000)
            if e.executor_id == self.executor.id
        ]
        for exec_id in mine:
            with contextlib.suppress(StateError):  # it may have finished meanwhile
                self.store.executions.request(exec_id, "cancel")
        deadline = time.monotonic() + self.cancel_grace_seconds
        while mine and time.monotonic() < deadline:
            mine = [i for i in mine if self.store.executions.get(i).status not in TERMINAL_FLOW]
            time.sleep(0.1)
        if mine:
            log.warning(
                "executions %s did not stop within %g s; the next start finalises them",
                ", ".join(map(str, mine)),
                self.cancel_grace_seconds,
            )
