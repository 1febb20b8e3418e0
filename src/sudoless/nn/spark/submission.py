"""``sudoless nn train --deploy-mode ...``: a training run handed to spark-submit, driver and all.

A plain ``--master`` run starts its Spark session in this process, which is then the driver. The driver's own
resources (``--driver-memory``, ``--driver-cores``) and its place (``--deploy-mode cluster``: inside the
cluster) are spark-submit's to set, so with any of them the run becomes one spark-submit command: the
application is :mod:`sudoless.nn.spark.driver`, which runs :func:`train_in_driver` with the config, the run
folder and the Spark options passed on flag for flag.

``--dry-run`` says what the same command without it would do, and runs nothing: with a deploy option, the
spark-submit command (:func:`submit_run`); without one, the run stays in this process, so it describes the
session this process would start (:func:`plan_in_process`: master, application name, engine, Spark conf)
rather than a spark-submit command the real run would never use.

Spark merges a Python driver's stderr into its stdout, so the driver does not print its result there: in
client mode it writes the run's report as JSON to a private file this process then reads, and the command
prints it as a local run would. In cluster mode the config travels with ``--files`` and is read from the
driver's working folder; the data it names and the run folder must be paths the cluster's nodes can reach
(a shared file system), the environment archive (``--archive``, from ``sudoless pack``) must hold sudoless,
and the report is in the driver's log.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sudoless.config import Settings
from sudoless.errors import InputError
from sudoless.nn.runs import RunResult
from sudoless.nn.spark.run import spark_training, train_on_spark
from sudoless.spark.submit import SubmitCommand, SubmitSpec, build_command, require_yarn_configuration, run_command

#: The ``nn train`` Spark options the driver is given again, as flags of the same names.
FORWARDED = ("master", "num_executors", "executor_cores", "executor_memory", "engine", "partitions", "sync_every")
NUMBERS = ("num_executors", "executor_cores", "partitions", "sync_every")
#: The application spark-submit runs (named by path: it imports this module).
DRIVER = Path(__file__).absolute().with_name("driver.py")


@dataclass(frozen=True)
class DriverPlacement:
    """Where the driver runs and what it gets: the options only spark-submit can apply."""

    deploy_mode: str = "client"
    memory: str | None = None
    cores: int | None = None


@dataclass(frozen=True)
class Submitted:
    """A submitted run: the command, spark-submit's exit code and (client mode) the run's report."""

    command: SubmitCommand
    code: int = 0
    result: RunResult | None = None


@dataclass(frozen=True)
class InProcessPlan:
    """A plain ``--master`` run as ``--dry-run`` shows it: this process starts the Spark session and is the
    driver, with this master, application name, engine and Spark conf."""

    master: str
    app_name: str
    engine: str
    partitions: int | None
    conf: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": "in-process",
            "master": self.master,
            "app_name": self.app_name,
            "engine": self.engine,
            "partitions": self.partitions,
            "conf": dict(self.conf),
        }


def plan_in_process(config: dict[str, Any], overrides: dict[str, Any]) -> InProcessPlan:
    """What a run without deploy options would start here, checked as the run would check it (a Spark run,
    YARN's configuration), with nothing started."""
    training = spark_training(config, overrides)
    if training is None:
        raise InputError("--deploy-mode, --driver-memory, --driver-cores and --dry-run need a Spark run: give --master")
    options = training.options
    require_yarn_configuration(options.master)
    return InProcessPlan(options.master, options.app_name, training.engine, training.partitions, options.spark_conf())


def driver_arguments(
    config_file: Path,
    overrides: dict[str, Any],
    deploy_mode: str,
    output: Path | None = None,
    epochs: int | None = None,
    threads: int | None = None,
    quiet: bool = False,
) -> list[str]:
    """The arguments of :mod:`~sudoless.nn.spark.driver`: the config, the run's options, the Spark options."""
    cluster = deploy_mode == "cluster"
    args = [config_file.name if cluster else str(config_file.absolute())]
    if output is not None:
        args += ["--output", str(output) if cluster else str(output.absolute())]
    for flag, value in (("--epochs", epochs), ("--threads", threads)):
        if value is not None:
            args += [flag, str(value)]
    for key in FORWARDED:
        if overrides.get(key) is not None:
            args += [f"--{key.replace('_', '-')}", str(overrides[key])]
    if overrides.get("resume"):
        args.append("--resume")
    if quiet:
        args.append("--quiet")
    return args


def submit_run(
    config_file: Path,
    config: dict[str, Any],
    overrides: dict[str, Any],
    placement: DriverPlacement,
    settings: Settings,
    output: Path | None = None,
    epochs: int | None = None,
    threads: int | None = None,
    quiet: bool = False,
    dry_run: bool = False,
) -> Submitted:
    """Train ``config`` through spark-submit (or, with ``dry_run``, only build the command)."""
    training = spark_training(config, overrides)
    if training is None:
        raise InputError("--deploy-mode, --driver-memory, --driver-cores and --dry-run need a Spark run: give --master")
    options = training.options
    require_yarn_configuration(options.master)
    mode = placement.deploy_mode
    if mode not in ("client", "cluster"):
        raise InputError(f"--deploy-mode {mode!r}: use client or cluster")
    arguments = driver_arguments(config_file, overrides, mode, output, epochs, threads, quiet)
    report = None if mode == "cluster" or dry_run else _report_file()
    spec = SubmitSpec(
        app=str(DRIVER),
        args=arguments if report is None else [*arguments, "--report", str(report)],
        master=options.master,
        deploy_mode=mode,
        env_archive=None if options.archive is None else Path(options.archive),
        conf=dict(options.conf),
        name=options.app_name,
        driver_memory=placement.memory or "",
        driver_cores="" if placement.cores is None else str(placement.cores),
        executor_memory=options.executor_memory or "",
        executor_cores="" if options.executor_cores is None else str(options.executor_cores),
        num_executors="" if options.num_executors is None else str(options.num_executors),
        files=str(config_file.absolute()) if mode == "cluster" else "",
    )
    try:
        command = build_command(spec, settings)
        if dry_run:
            return Submitted(command)
        # The driver's output, Spark's log among it, goes to stderr: stdout is the command's result.
        code = run_command(command, stdout=sys.stderr.fileno())
        text = report.read_text() if report is not None and code == 0 else ""
        return Submitted(command, code, _result(json.loads(text)) if text else None)
    finally:
        if report is not None:
            report.unlink(missing_ok=True)


def _report_file() -> Path:
    fd, name = tempfile.mkstemp(prefix="sudoless-nn-report-", suffix=".json")  # 0600: the user's own
    os.close(fd)
    return Path(name)


def _result(document: dict[str, Any]) -> RunResult:
    return RunResult(
        name=document["name"],
        output=Path(document["output"]),
        epochs=int(document["epochs"]),
        metrics=document["metrics"],
        parameters=int(document["parameters"]),
        seconds=float(document["seconds"]),
        sample=document.get("sample"),
        threads=document.get("threads"),
    )


def train_in_driver(
    config_file: Path,
    overrides: dict[str, Any],
    default_root: Path,
    output: Path | None = None,
    epochs: int | None = None,
    threads: int | None = None,
    verbose: int = 1,
) -> RunResult:
    """What the submitted driver does: the run of a plain ``--master`` run, in the session spark-submit
    started, without naming the environment archive again (spark-submit shipped it)."""
    from sudoless.nn.runs import load_config

    config = load_config(config_file)
    overrides = {k: (int(v) if k in NUMBERS and v is not None else v) for k, v in overrides.items()}
    if overrides.get("resume"):
        overrides["checkpoint"] = True
    training = spark_training(config, overrides, submitted=True)
    if training is None:
        raise InputError(f"{config_file}: the submitted driver needs a Spark run (--master)")
    return train_on_spark(
        config, training, output=output, epochs=epochs, verbose=verbose, default_root=default_root, threads=threads
    )
