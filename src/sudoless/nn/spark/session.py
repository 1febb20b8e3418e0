"""Starting the Spark session a training run uses, from the same options on every kind of cluster.

``local[*]``, ``spark://host:port``, ``yarn`` and ``k8s://...`` differ only in the master URL and the
executor settings; the run itself is the same. The Java runtime comes from :mod:`sudoless.spark.java` (no
root needed). An environment archive from ``sudoless pack`` reaches the executors through ``spark.archives``
with ``PYSPARK_PYTHON`` pointing into it, set in the environment before the context starts, because
PySpark reads the worker interpreter from that variable and ignores ``spark.pyspark.python`` given to the
session builder (the recipe of Spark's "Python Package Management" guide, which sets the variable). In local
mode no archive is shipped, and without one the workers run this interpreter.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from sudoless.config import PYSPARK_PYTHON, environment_value
from sudoless.extras import install_hint


@dataclass(frozen=True)
class SparkOptions:
    """Cluster settings: the master, executors (count, cores, memory), an environment archive, extra conf."""

    master: str = "local[*]"
    num_executors: int | None = None
    executor_cores: int | None = None
    executor_memory: str | None = None
    archive: str | None = None
    app_name: str = "sudoless-nn"
    conf: dict[str, str] = field(default_factory=dict)

    @property
    def local(self) -> bool:
        return self.master.startswith("local")

    def spark_conf(self) -> dict[str, str]:
        conf = {
            "spark.ui.showConsoleProgress": "false",
            "spark.speculation": "false",
            # Synchronous steps need every executor before the first step, as BigDL required.
            "spark.scheduler.minRegisteredResourcesRatio": "1.0",
            "spark.dynamicAllocation.enabled": "false",
        }
        if self.num_executors is not None:
            conf["spark.executor.instances"] = str(self.num_executors)
        if self.executor_cores is not None:
            conf["spark.executor.cores"] = str(self.executor_cores)
            if self.num_executors is not None:
                conf["spark.cores.max"] = str(self.num_executors * self.executor_cores)
        if self.executor_memory is not None:
            conf["spark.executor.memory"] = self.executor_memory
        if self.archive and not self.local:
            conf["spark.archives"] = f"{self.archive}#environment"
        conf.update(self.conf)
        return conf


def start_session(options: SparkOptions | None = None) -> Any:
    """A SparkSession for ``options`` (default ``local[*]``); reuses the process's active one if there is one."""
    options = options or SparkOptions()
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise install_hint("training on Spark", "spark", "pyspark") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from sudoless.spark.submit import require_yarn_configuration

    require_yarn_configuration(options.master)
    _prepare_environment(options)
    builder = SparkSession.builder.master(options.master).appName(options.app_name)
    for key, value in options.spark_conf().items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def local_workers_run_this_python(sc: Any) -> None:
    """In local mode, make the Python workers run this interpreter, which can import sudoless.

    PySpark otherwise starts the first ``python3`` on PATH unless ``PYSPARK_PYTHON`` was set before the context
    started; it takes the interpreter from ``sc.pythonExec`` each time it wraps a job's function.
    """
    if sc.master.startswith("local") and not environment_value(PYSPARK_PYTHON):
        sc.pythonExec = sys.executable


def _prepare_environment(options: SparkOptions) -> None:
    from sudoless.config import JAVA_HOME, SPARK_LOCAL_IP, export, load_settings
    from sudoless.spark.cluster import spark_environment

    if not environment_value(JAVA_HOME):
        env = spark_environment(load_settings())
        export(JAVA_HOME, env[JAVA_HOME])
        export("PATH", env["PATH"])
    if options.local or "127.0.0.1" in options.master or "localhost" in options.master:
        export(SPARK_LOCAL_IP, "127.0.0.1", replace=False)
    if options.archive and not options.local:
        export(PYSPARK_PYTHON, "./environment/bin/python")
    else:
        # Without an archive the executors must have this interpreter at the same path (one machine, or
        # identical hosts); otherwise ship one with `sudoless pack`.
        export(PYSPARK_PYTHON, sys.executable, replace=False)
