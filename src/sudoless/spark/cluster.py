"""A local Spark standalone cluster (one master, N workers) for development and tests, without root.

The pyspark package ships Spark's jars but not the ``sbin/start-*.sh`` scripts, so the daemons are started
here as plain ``java -cp <pyspark>/jars/* org.apache.spark.deploy.master.Master`` (and ``...worker.Worker``)
processes, each in its own process group so that stopping a worker also ends the executors it started.
Everything listens on 127.0.0.1 on free ports; state, logs and work directories live under
``SUDOLESS_HOME/spark/cluster``. Whether the cluster is up is read from the master's own web UI
(``/json``), not assumed from pid files.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from sudoless.cleanable import remove_path, tree_bytes
from sudoless.config import Settings
from sudoless.errors import ConfigError, DaemonError, InputError, StateError
from sudoless.extras import install_hint
from sudoless.processes import is_running, reap, signal_group, start_daemon, start_ticks
from sudoless.spark.java import JavaRuntime, spark_java

HOST = "127.0.0.1"
DAEMON_HEAP = "512m"

#: what Spark's launcher (JavaModuleOptions) gives every JVM on Java 17+, minus jdk.incubator.vector, which
#: Spark only uses when present and a trimmed runtime lacks.
JAVA_MODULE_OPTIONS = (
    "-XX:+IgnoreUnrecognizedVMOptions",
    *(
        f"--add-opens=java.base/{package}=ALL-UNNAMED"
        for package in (
            "java.lang",
            "java.lang.invoke",
            "java.lang.reflect",
            "java.io",
            "java.net",
            "java.nio",
            "java.util",
            "java.util.concurrent",
            "java.util.concurrent.atomic",
            "jdk.internal.ref",
            "sun.nio.ch",
            "sun.nio.cs",
            "sun.security.action",
            "sun.util.calendar",
        )
    ),
    "--add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "-Djdk.reflect.useDirectMethodHandle=false",
    "-Dio.netty.tryReflectionSetAccessible=true",
)


class ClusterError(DaemonError):
    """The cluster did not start or stop; ``log_tail`` holds the end of the daemon's log."""


@dataclass(frozen=True)
class Daemon:
    """One started JVM: its role (``master`` or ``worker-N``), pid, start time (clock ticks) and log file."""

    role: str
    pid: int
    ticks: int | None
    log: str

    def running(self) -> bool:
        return is_running(self.pid, self.ticks)


@dataclass(frozen=True)
class ClusterState:
    """What ``start`` recorded: the master's URLs and every daemon; saved as ``state.json``."""

    master_url: str
    web_url: str
    workers: int
    cores: int
    memory: str
    daemons: list[Daemon] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class ClusterStatus:
    """The cluster as the master reports it: ``alive_workers`` counts workers in state ALIVE."""

    running: bool
    master_url: str = ""
    web_url: str = ""
    alive_workers: int = 0
    cores: int = 0
    workers: list[dict[str, object]] = field(default_factory=list)
    daemons: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def spark_home() -> Path:
    """The pyspark package directory, which is a SPARK_HOME (``jars/``, ``bin/``); without importing pyspark."""
    spec = find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise install_hint("a Spark cluster", "spark", "pyspark")
    home = Path(spec.origin).parent
    if not (home / "jars").is_dir():
        raise ConfigError(
            f"{home} has no jars/ folder: this pyspark cannot run Spark itself; "
            "reinstall with pip install 'sudoless[spark]'"
        )
    return home


def cluster_dir(settings: Settings) -> Path:
    return settings.home / "spark" / "cluster"


def work_dir(settings: Settings) -> Path:
    """Where the workers keep one folder per application (its executors' files, jars and logs)."""
    return cluster_dir(settings) / "work"


def java_shim_dir(settings: Settings) -> Path:
    return settings.home / "spark" / "java"


def spark_environment(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a Spark process needs here: JAVA_HOME (see :mod:`sudoless.spark.java`), SPARK_HOME and
    SPARK_LOCAL_IP=127.0.0.1 unless already set (Spark otherwise binds to a non-loopback interface)."""
    runtime: JavaRuntime = spark_java(java_shim_dir(settings), base)
    env = runtime.environment(base)
    env["SPARK_HOME"] = str(spark_home())
    # bin/load-spark-env.sh sets this for spark-class; without it the launcher a worker uses to start
    # executors fails with "Cannot find any build directories".
    env.setdefault("SPARK_SCALA_VERSION", scala_version())
    env.setdefault("SPARK_LOCAL_IP", HOST)
    return env


def scala_version() -> str:
    """The Scala version Spark's jars were built for (``2.13``), read from the spark-core jar's name."""
    for jar in sorted((spark_home() / "jars").glob("spark-core_*.jar")):
        return jar.name.split("_", 1)[1].split("-", 1)[0]
    raise ConfigError(f"{spark_home() / 'jars'} has no spark-core jar; reinstall pyspark")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _load_state(root: Path) -> ClusterState | None:
    try:
        raw = json.loads((root / "state.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(f"{root / 'state.json'}: unreadable ({exc}); stop the daemons by hand and delete it") from None
    raw["daemons"] = [Daemon(**daemon) for daemon in raw.get("daemons", [])]
    return ClusterState(**raw)


def _save_state(root: Path, state: ClusterState) -> None:
    partial = root / f"state.json.{os.getpid()}"
    partial.write_text(json.dumps(state.to_json(), indent=2))
    partial.replace(root / "state.json")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def master_json(web_url: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """The master's state from its web UI (``/json``, a JSON object whose values are whatever the master's
    version writes, hence Any), or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{web_url}/json", timeout=timeout) as response:
            return dict(json.loads(response.read()))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _launch(role: str, main_class: str, arguments: list[str], root: Path, env: dict[str, str]) -> Daemon:
    log = root / "logs" / f"{role}.log"
    command = [
        str(Path(env["JAVA_HOME"]) / "bin" / "java"),
        f"-Xmx{DAEMON_HEAP}",
        *JAVA_MODULE_OPTIONS,
        "-Dspark.master.rest.enabled=false",
        "-cp",
        f"{spark_home() / 'jars'}/*",
        main_class,
        *arguments,
    ]
    process = start_daemon(command, log, cwd=root, env=env, append=True)
    return Daemon(role=role, pid=process.pid, ticks=start_ticks(process.pid), log=str(log))


def _wait(state: ClusterState, deadline: float) -> dict[str, Any]:
    """Poll the master until it is ALIVE with every worker registered; fail fast when a daemon dies."""
    while True:
        for daemon in state.daemons:
            if not daemon.running():
                raise ClusterError(
                    f"Spark {daemon.role} exited during start; see {daemon.log}", _tail(Path(daemon.log))
                )
        report = master_json(state.web_url, timeout=2.0)
        if report and report.get("status") == "ALIVE" and int(report.get("aliveworkers", 0)) >= state.workers:
            return report
        if time.monotonic() > deadline:
            waiting = "master" if not report else f"workers ({report.get('aliveworkers', 0)}/{state.workers} alive)"
            raise ClusterError(
                f"Spark cluster not ready in time: waiting for the {waiting}; logs in "
                f"{Path(state.daemons[0].log).parent}",
                _tail(Path(state.daemons[-1].log)),
            )
        time.sleep(0.5)


def start_cluster(
    settings: Settings, workers: int = 2, cores: int = 1, memory: str = "1g", timeout: float = 300.0
) -> ClusterState:
    """Start a master and ``workers`` workers of ``cores`` cores and ``memory`` each; return once the master
    lists them all ALIVE. A cluster already running is an error (stop it first); stale state is replaced."""
    if workers < 1 or cores < 1:
        raise InputError(f"--workers {workers} --cores {cores}: both must be at least 1")
    if not memory[:-1].isdigit() or memory[-1].lower() not in "mg":
        raise InputError(f"--memory {memory!r}: give a size such as 1g or 512m")
    root = cluster_dir(settings)
    current = cluster_status(settings)
    if current.running:
        raise StateError(f"a Spark cluster already runs at {current.master_url}; 'sudoless spark cluster stop' first")
    stop_cluster(settings, keep_work=True)  # whatever a crashed start left behind; a kept work folder stays
    (root / "logs").mkdir(parents=True, exist_ok=True)
    env = spark_environment(settings)
    port, web_port = free_port(), free_port()
    state = ClusterState(
        master_url=f"spark://{HOST}:{port}",
        web_url=f"http://{HOST}:{web_port}",
        workers=workers,
        cores=cores,
        memory=memory,
    )
    started: list[Daemon] = []
    try:
        started.append(
            _launch(
                "master",
                "org.apache.spark.deploy.master.Master",
                ["--host", HOST, "--port", str(port), "--webui-port", str(web_port)],
                root,
                env,
            )
        )
        _save_state(root, ClusterState(**{**asdict(state), "daemons": started}))
        for number in range(1, workers + 1):
            work = work_dir(settings) / f"worker-{number}"
            work.mkdir(parents=True, exist_ok=True)
            started.append(
                _launch(
                    f"worker-{number}",
                    "org.apache.spark.deploy.worker.Worker",
                    [
                        state.master_url,
                        "--host",
                        HOST,
                        "--cores",
                        str(cores),
                        "--memory",
                        memory,
                        "--webui-port",
                        str(free_port()),
                        "--work-dir",
                        str(work),
                    ],
                    root,
                    env,
                )
            )
            _save_state(root, ClusterState(**{**asdict(state), "daemons": started}))
        state = ClusterState(**{**asdict(state), "daemons": started})
        _wait(state, time.monotonic() + timeout)
    except BaseException:
        stop_cluster(settings, keep_work=True)
        raise
    return state


def cluster_status(settings: Settings) -> ClusterStatus:
    """The recorded cluster as its master sees it now; ``running`` is False when there is none."""
    state = _load_state(cluster_dir(settings))
    if state is None:
        return ClusterStatus(running=False)
    daemons = [{"role": d.role, "pid": d.pid, "running": d.running(), "log": d.log} for d in state.daemons]
    report = master_json(state.web_url) if any(d["running"] for d in daemons) else None
    if report is None:
        return ClusterStatus(running=False, master_url=state.master_url, web_url=state.web_url, daemons=daemons)
    workers = [
        {key: worker.get(key) for key in ("id", "host", "port", "state", "cores", "coresused", "memory")}
        for worker in report.get("workers", [])
    ]
    return ClusterStatus(
        running=report.get("status") == "ALIVE",
        master_url=state.master_url,
        web_url=state.web_url,
        alive_workers=int(report.get("aliveworkers", 0)),
        cores=int(report.get("cores", 0)),
        workers=workers,
        daemons=daemons,
    )


@dataclass(frozen=True)
class StopResult:
    """What :func:`stop_cluster` did: the roles that were running, and the bytes of work folders removed."""

    stopped: list[str]
    freed_bytes: int = 0
    removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def cluster_running(settings: Settings) -> bool:
    """Whether any recorded daemon of the cluster still runs (read from the processes, not the master)."""
    state = _load_state(cluster_dir(settings))
    return state is not None and any(daemon.running() for daemon in state.daemons)


def remove_stopped(settings: Settings, path: Path) -> bool:
    """Remove ``path`` (a work or log folder of the cluster) unless a daemon of the cluster runs again."""
    if cluster_running(settings):
        return False
    remove_path(path)
    return True


def stop_cluster(settings: Settings, timeout: float = 30.0, keep_work: bool = False) -> StopResult:
    """Stop the recorded daemons, workers first, each with its process group (the executors it started);
    SIGKILL after ``timeout``; remove the state file. Then, unless ``keep_work``, remove the workers' work
    folders (one folder per application, each with a copy of its environment: often a GB or more); the
    daemons' own logs stay in ``logs/`` until ``sudoless clean``."""
    root = cluster_dir(settings)
    state = _load_state(root)
    stopped: list[str] = []
    live = [daemon for daemon in reversed(state.daemons) if daemon.running()] if state is not None else []
    for daemon in live:
        stopped.append(daemon.role)
        signal_group(daemon.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for daemon in live:
        while daemon.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if daemon.running():
            signal_group(daemon.pid, signal.SIGKILL)
        reap(daemon.pid)  # a daemon is our child when started in this process: no zombie left behind
    (root / "state.json").unlink(missing_ok=True)
    if keep_work or not work_dir(settings).is_dir():
        return StopResult(stopped)
    freed, removed = 0, []
    for folder in sorted(work_dir(settings).iterdir()):
        freed += tree_bytes(folder)
        remove_path(folder)
        removed.append(str(folder))
    return StopResult(stopped, freed, removed)
