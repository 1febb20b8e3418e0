"""``spark-submit`` with the app's Python environment shipped to the executors.

Given a packed archive (or a venv, packed and cached on the way), the command gets
``--archives ARCHIVE#environment`` and the Python settings that actually work with PySpark 4, which differ by
master and deploy mode:

* a cluster master (``spark://``, ``yarn``, ``k8s://``), client mode: executors run
  ``./environment/bin/python`` (``spark.pyspark.python``, ``spark.executorEnv.PYSPARK_PYTHON`` and the
  ``PYSPARK_PYTHON`` variable), while the driver runs here, on the venv's own python (or this process's
  interpreter), through ``spark.pyspark.driver.python``: without it the driver tries the relative path too;
* cluster mode: the driver runs in the cluster, beside the unpacked archive, so it uses
  ``./environment/bin/python`` too (``spark.yarn.appMasterEnv.PYSPARK_PYTHON`` on YARN); Spark's standalone
  master does not run Python drivers in cluster mode, which is refused here with the reason;
* ``local[...]``: local executors do not run in the folder archives are unpacked to, so no archive is sent;
  driver and workers use the venv's python, or the archive unpacked once under SUDOLESS_HOME.

Packed and unpacked archives are cache entries (:mod:`sudoless.spark.cache`): each use marks them used and
trims the cache to its cap, and :func:`submit` holds the entries its app uses until the app ends.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sudoless.config import Settings, environment_value
from sudoless.errors import InputError
from sudoless.spark.cache import archives_dir, cap_bytes, in_use, mark_used, trim, unpacked_dir
from sudoless.spark.cluster import HOST, java_shim_dir, spark_home
from sudoless.spark.java import spark_java
from sudoless.spark.pack import check_venv
from sudoless.spark.untar import extract_tar_into

EXECUTOR_PYTHON = "./environment/bin/python"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class SubmitSpec:
    """One application and how to run it; the field names follow spark-submit's options."""

    app: str
    args: Sequence[str] = ()
    master: str = "local[*]"
    deploy_mode: str = "client"
    env_archive: Path | None = None
    venv: Path | None = None
    with_python: bool = False
    #: the driver's python in client mode (default: the venv's, else this process's interpreter)
    driver_python: str = ""
    conf: Mapping[str, str] = field(default_factory=dict)
    name: str = ""
    main_class: str = ""
    driver_memory: str = ""
    driver_cores: str = ""
    executor_memory: str = ""
    executor_cores: str = ""
    num_executors: str = ""
    py_files: str = ""
    jars: str = ""
    files: str = ""


@dataclass(frozen=True)
class SubmitCommand:
    """What :func:`build_command` decided: the argv, the environment, the archive that is shipped and the
    cache entries the app runs from (to hold with :func:`sudoless.spark.cache.in_use` while it runs)."""

    argv: list[str]
    env: dict[str, str]
    archive: Path | None
    cached: tuple[Path, ...] = ()


#: Where Spark reads a YARN cluster's address from (core-site.xml, yarn-site.xml); either one will do.
HADOOP_CONF_VARIABLES = ("HADOOP_CONF_DIR", "YARN_CONF_DIR")


def require_yarn_configuration(master: str) -> None:
    """Refuse ``--master yarn`` without the Hadoop configuration folder, in one line, before any JVM starts.

    Without it Spark cannot find the ResourceManager and fails deep in its start-up with a long Java trace.
    """
    if master != "yarn":
        return
    for name in HADOOP_CONF_VARIABLES:
        value = environment_value(name)
        if value:
            if not Path(value).is_dir():
                raise InputError(f"{name}={value} is not a folder; point it at the folder holding yarn-site.xml")
            return
    raise InputError(
        "--master yarn needs HADOOP_CONF_DIR (or YARN_CONF_DIR) set to the folder holding the cluster's "
        "core-site.xml and yarn-site.xml; ask the cluster's admins, or copy it from an edge node"
    )


def is_local(master: str) -> bool:
    """Whether executors run inside the driver's JVM (``local``, ``local[N]``), where shipped archives are not
    in their working folder. ``local-cluster[...]`` starts real executor processes, so it is not local here."""
    return master == "local" or master.startswith("local[")


def _unpacked(settings: Settings, archive: Path) -> Path:
    """The archive unpacked once under SUDOLESS_HOME (for local masters); keyed by its bytes. Marks the copy
    used and trims the cache to its cap."""
    digest = hashlib.sha256()
    with open(archive, "rb") as raw:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            digest.update(chunk)
    target = unpacked_dir(settings.home) / digest.hexdigest()[:24]
    if not (target / "bin" / "python").exists():
        shutil.rmtree(target, ignore_errors=True)  # an incomplete copy, never a finished one
        extract_tar_into(archive, target)
    mark_used(target)
    trim(settings.home, cap_bytes(settings), keep=[target, archive])
    return target


def _driver_python(spec: SubmitSpec) -> str:
    if spec.driver_python:
        return spec.driver_python
    if spec.venv is not None:
        return str(spec.venv.absolute() / "bin" / "python")
    return sys.executable


def _master_is_loopback(master: str) -> bool:
    if is_local(master) or master.startswith("local-cluster["):
        return True
    if master.startswith("spark://"):
        hosts = master[len("spark://") :].split(",")
        return all(h.rsplit(":", 1)[0] in LOOPBACK_HOSTS for h in hosts)
    return False


def resolve_archive(spec: SubmitSpec, settings: Settings) -> Path | None:
    """The archive to ship: ``env_archive`` as given, or ``venv`` packed (from the cache when unchanged)."""
    if spec.env_archive is not None and spec.venv is not None:
        raise InputError("give --env ARCHIVE or --venv DIR, not both")
    if spec.env_archive is not None:
        if not spec.env_archive.is_file():
            raise InputError(f"--env {spec.env_archive}: no such archive; make one with 'sudoless pack VENV -o FILE'")
        return spec.env_archive.absolute()
    if spec.venv is not None:
        from sudoless.spark.pack import pack_env

        return pack_env(
            spec.venv, with_python=spec.with_python, cache_home=settings.home, cache_cap_bytes=cap_bytes(settings)
        ).path
    return None


def build_command(spec: SubmitSpec, settings: Settings, base_env: Mapping[str, str] | None = None) -> SubmitCommand:
    """The spark-submit argv and environment for ``spec`` (packing the venv when needed)."""
    if spec.deploy_mode not in ("client", "cluster"):
        raise InputError(f"--deploy-mode {spec.deploy_mode!r}: use client or cluster")
    python_app = spec.app.endswith(".py")
    if spec.deploy_mode == "cluster" and python_app and spec.master.startswith("spark://"):
        raise InputError(
            "Spark's standalone master cannot run a Python driver in cluster mode; use "
            "--deploy-mode client (the driver runs here, executors use the shipped env)"
        )
    if spec.deploy_mode == "cluster" and is_local(spec.master):
        raise InputError(f"--master {spec.master} runs everything here; --deploy-mode cluster needs a cluster")
    app = spec.app if "://" in spec.app else str(Path(spec.app).absolute())
    if "://" not in spec.app and not Path(app).is_file():
        raise InputError(f"{spec.app}: no such application file")
    if is_local(spec.master) and spec.venv is not None:
        check_venv(spec.venv)
        archive = None  # local executors run the venv's own python: nothing to pack
    else:
        archive = resolve_archive(spec, settings)

    env = spark_java(java_shim_dir(settings), base_env).environment(base_env)
    env["SPARK_HOME"] = str(spark_home())
    if _master_is_loopback(spec.master):
        env.setdefault("SPARK_LOCAL_IP", HOST)  # Spark would otherwise bind to a non-loopback interface
    conf: dict[str, str] = {}
    shipped: Path | None = None
    used: list[Path] = []
    if python_app and is_local(spec.master):
        if archive is not None:
            used.append(_unpacked(settings, archive))
            python = str(used[-1] / "bin" / "python")
        else:
            python = _driver_python(spec)
        conf["spark.pyspark.python"] = conf["spark.pyspark.driver.python"] = python
        env["PYSPARK_PYTHON"] = env["PYSPARK_DRIVER_PYTHON"] = python
    elif python_app and archive is not None:
        shipped = archive
        conf["spark.pyspark.python"] = EXECUTOR_PYTHON
        conf["spark.executorEnv.PYSPARK_PYTHON"] = EXECUTOR_PYTHON
        env["PYSPARK_PYTHON"] = EXECUTOR_PYTHON
        if spec.deploy_mode == "client":
            conf["spark.pyspark.driver.python"] = env["PYSPARK_DRIVER_PYTHON"] = _driver_python(spec)
        else:
            conf["spark.pyspark.driver.python"] = EXECUTOR_PYTHON
            conf["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] = EXECUTOR_PYTHON
            env.pop("PYSPARK_DRIVER_PYTHON", None)
    elif archive is not None:
        shipped = archive  # a JVM app that starts Python workers itself
    conf.update(spec.conf)

    argv = [str(spark_home() / "bin" / "spark-submit"), "--master", spec.master, "--deploy-mode", spec.deploy_mode]
    for flag, value in (
        ("--name", spec.name),
        ("--class", spec.main_class),
        ("--driver-memory", spec.driver_memory),
        ("--driver-cores", spec.driver_cores),
        ("--executor-memory", spec.executor_memory),
        ("--executor-cores", spec.executor_cores),
        ("--num-executors", spec.num_executors),
        ("--py-files", spec.py_files),
        ("--jars", spec.jars),
        ("--files", spec.files),
    ):
        if value:
            argv += [flag, str(value)]
    if shipped is not None:
        argv += ["--archives", f"{shipped}#environment"]
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    argv += [app, *spec.args]
    if shipped is not None and shipped.parent == archives_dir(settings.home):
        used.append(shipped)  # the driver serves it to executors for as long as the app runs
    return SubmitCommand(argv=argv, env=env, archive=shipped, cached=tuple(used))


def submit(
    spec: SubmitSpec,
    settings: Settings,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
    cwd: Path | None = None,
) -> int:
    """Run the application; the driver's output goes to ``stdout``/``stderr`` (default: this process's) as
    it is written. Returns spark-submit's exit code, which is the driver's in client mode."""
    return run_command(build_command(spec, settings), stdout, stderr, cwd)


def run_command(
    command: SubmitCommand,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
    cwd: Path | None = None,
) -> int:
    """Run a command :func:`build_command` made, holding the cache entries it uses until it ends."""
    try:
        with in_use(command.cached):
            done = subprocess.run(
                command.argv,
                env=command.env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                cwd=cwd,
                check=False,
            )
    except OSError as exc:
        raise InputError(f"cannot run {command.argv[0]}: {exc.strerror}; reinstall pyspark") from None
    return done.returncode
