"""Training runs from a YAML config on Spark: the ``spark:`` section and ``sudoless nn train --master``.

::

    spark:
      master: yarn                # local[*] (default), spark://host:7077, yarn, k8s://...
      num_executors: 128
      executor_cores: 1
      executor_memory: 4g
      archive: env.tar.gz         # from `sudoless pack`; executors run its Python
      engine: barrier             # sync (default), average, barrier
      partitions: 128             # default: the cluster's task slots
      sync_every: 8               # average engine: local steps between averagings
      checkpoint: true            # a checkpoint per epoch in RUN/checkpoints (or a path)
      resume: false
      conf: {spark.network.timeout: 300s}

Command-line options override the section; either one makes the run a Spark run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sudoless.errors import InputError
from sudoless.nn.runs import RunResult, train_run
from sudoless.nn.spark.session import SparkOptions, start_session

SPARK_KEYS = {
    "master",
    "num_executors",
    "executor_cores",
    "executor_memory",
    "archive",
    "engine",
    "partitions",
    "sync_every",
    "checkpoint",
    "resume",
    "retries",
    "conf",
}


@dataclass(frozen=True)
class SparkTraining:
    """How a run trains on Spark: the cluster (``options``) and the engine settings."""

    options: SparkOptions
    engine: str = "sync"
    partitions: int | None = None
    sync_every: int = 8
    checkpoint: bool | str = False
    resume: bool = False
    retries: int = 3
    extra: dict[str, Any] = field(default_factory=dict)


def spark_training(
    config: dict[str, Any], overrides: dict[str, Any] | None = None, submitted: bool = False
) -> SparkTraining | None:
    """The Spark settings of a config merged with command-line ``overrides``; None for a local run.

    ``submitted``: this process is the driver spark-submit started (:mod:`sudoless.nn.spark.submission`),
    which has shipped the environment archive already, so the session must not name it again (in cluster
    mode its path is one of the submitting machine)."""
    file = config.get("_file", "config")
    section = config.get("spark") or {}
    if not isinstance(section, dict):
        raise InputError(f"{file}: spark must be a mapping (master, engine, partitions ...)")
    unknown = sorted(set(section) - SPARK_KEYS)
    if unknown:
        raise InputError(f"{file}: unknown spark key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(SPARK_KEYS))}")
    merged = {**section, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    if not config.get("spark") and not merged.get("master"):
        return None
    engine = str(merged.get("engine", "sync"))
    if engine not in ("sync", "average", "barrier"):
        raise InputError(f"{file}: spark.engine must be sync, average or barrier, not {engine!r}")
    try:
        options = SparkOptions(
            master=str(merged.get("master", "local[*]")),
            num_executors=_int(merged.get("num_executors")),
            executor_cores=_int(merged.get("executor_cores")),
            executor_memory=None if merged.get("executor_memory") is None else str(merged["executor_memory"]),
            archive=None if merged.get("archive") is None or submitted else str(merged["archive"]),
            app_name=f"sudoless-nn-{config.get('name', 'run')}",
            conf={str(k): str(v) for k, v in (merged.get("conf") or {}).items()},
        )
        return SparkTraining(
            options,
            engine,
            _int(merged.get("partitions")),
            int(merged.get("sync_every", 8)),
            merged.get("checkpoint", False),
            bool(merged.get("resume", False)),
            int(merged.get("retries", 3)),
        )
    except (TypeError, ValueError) as exc:
        raise InputError(f"{file}: spark: {exc}") from None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def train_on_spark(
    config: dict[str, Any],
    training: SparkTraining,
    output: str | Path | None = None,
    epochs: int | None = None,
    verbose: int = 1,
    default_root: Path | None = None,
    threads: int | None = None,
) -> RunResult:
    """``train_run`` with ``fit_spark`` in place of ``fit``: same run directory, metrics and plots."""
    from sudoless.nn.spark.fit import fit_spark

    session = start_session(training.options)
    folder = Path(output or config.get("output") or (default_root or Path("runs")) / str(config["name"]))
    checkpoint = training.checkpoint
    checkpoint_dir = None if not checkpoint else (folder / "checkpoints" if checkpoint is True else Path(checkpoint))
    partitions = training.partitions
    if partitions is None and training.options.num_executors and training.options.executor_cores:
        partitions = training.options.num_executors * training.options.executor_cores

    def fit(model: Any, x: Any, y: Any, tbptt: int | None = None, **options: Any) -> Any:
        return fit_spark(
            model,
            x,
            y,
            tbptt=tbptt,
            engine=training.engine,
            partitions=partitions,
            sync_every=training.sync_every,
            spark=session,
            checkpoint_dir=checkpoint_dir,
            resume=training.resume,
            retries=training.retries,
            **options,
        )

    return train_run(
        config, output=folder, epochs=epochs, verbose=verbose, default_root=default_root, fit=fit, threads=threads
    )
