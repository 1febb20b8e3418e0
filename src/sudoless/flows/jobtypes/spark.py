"""The ``spark`` job type: a flow node that submits a Spark application with its Python environment shipped.

Property names follow Azkaban's spark job type (azkaban-jobtype's HadoopSparkJob) where it has them; the
PySpark ones (``py-file``, ``env``, ``venv``, ``with-python``) are sudoless's. Paths are relative to the
job's working directory.

===================  =====================================================================================
``execution-jar``    the application jar (with ``class``), or
``py-file``          the PySpark application
``class``            main class of a jar application
``params``           the application's arguments (split like a ``command``: spaces, quotes)
``master``           ``local[*]`` (default), ``spark://HOST:PORT``, ``yarn``, ``k8s://...``
``deploy-mode``      ``client`` (default) or ``cluster``
``name``             application name (default: the job id)
``driver-memory``,   ``driver-cores``, ``executor-memory``, ``executor-cores``, ``num-executors``,
``jars``, ``files``  ``py-files``: as spark-submit's options of the same names
``conf.KEY``         ``--conf KEY=VALUE`` (``conf.spark.executor.memory=2g``)
``env``              an archive from ``sudoless pack`` to ship as ``./environment``
``venv``             a virtual environment to pack (cached by content) and ship
``with-python``      ``true``: bundle the interpreter when packing ``venv``
===================  =====================================================================================
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sudoless.config import load_settings
from sudoless.errors import SudolessError
from sudoless.flows.jobtypes import JobContext, JobResult, register
from sudoless.flows.jobtypes.builtin import run_commands
from sudoless.flows.jobtypes.process import split_command

_FLAGS = {
    "driver-memory": "driver_memory",
    "driver-cores": "driver_cores",
    "executor-memory": "executor_memory",
    "executor-cores": "executor_cores",
    "num-executors": "num_executors",
    "jars": "jars",
    "files": "files",
    "py-files": "py_files",
    "class": "main_class",
    "master": "master",
    "deploy-mode": "deploy_mode",
    "name": "name",
}


def _path(ctx: JobContext, key: str) -> Path | None:
    raw = ctx.props.get(key, "").strip()
    return ctx.path(raw) if raw else None


@register("spark")
class SparkJob:
    """Builds the spark-submit command with :func:`sudoless.spark.submit.build_command` and runs it as the
    job's process: output into the job log, cancel and timeout kill the driver's process group."""

    def run(self, ctx: JobContext) -> JobResult:
        from sudoless.spark.cache import in_use
        from sudoless.spark.submit import SubmitSpec, build_command

        jar, py_file = ctx.props.get("execution-jar", "").strip(), ctx.props.get("py-file", "").strip()
        if bool(jar) == bool(py_file):
            ctx.log.line("spark job needs exactly one of 'execution-jar' and 'py-file'", "ERROR")
            return JobResult(False, message="no application")
        options = {field: ctx.props[key].strip() for key, field in _FLAGS.items() if ctx.props.get(key, "").strip()}
        options.setdefault("name", ctx.job_id)
        conf = {key[len("conf.") :]: value for key, value in ctx.props.items() if key.startswith("conf.")}
        try:
            spec = SubmitSpec(
                app=str(ctx.path(jar or py_file)),
                args=split_command(ctx.props.get("params", "")),
                env_archive=_path(ctx, "env"),
                venv=_path(ctx, "venv"),
                with_python=ctx.props.get("with-python", "").strip().lower() == "true",
                conf=conf,
                **options,
            )
            command = build_command(spec, load_settings(ctx.env), base_env=ctx.env)
        except SudolessError as exc:
            ctx.log.line(f"spark job: {exc}", "ERROR")
            return JobResult(False, message=str(exc))
        if command.archive is not None:
            ctx.log.line(f"Shipping {command.archive} as ./environment")
        with in_use(command.cached):  # no cache trim removes the env while the app runs from it
            return run_commands(replace(ctx, env=command.env), [command.argv])
