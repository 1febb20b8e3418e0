"""The ``nn`` job type: train a sudoless.nn model from a YAML config as one step of a flow, here or on Spark.

The training runs as ``sudoless nn train`` in a child process of its own: a SparkContext lives as long as its
process and there can be one per process, and a child is what the runner can cancel and time out cleanly
(its whole process group, JVM included). The output goes to the job's log.

Properties (``config`` is required):

=========================  ================================================================================
``config``                 the run's YAML file, relative to the job's working directory
``output``                 run directory (default ``nn-runs/<job id>`` in the working directory)
``epochs``                 override the config's epoch count
``threads``                BLAS threads (default 1)
``spark.master``           train on Spark: ``local[*]``, ``spark://host:port``, ``yarn``, ``k8s://...``
``spark.num.executors``    executors; ``spark.executor.cores``, ``spark.executor.memory`` likewise
``spark.archive``          environment archive from ``sudoless pack`` for the executors
``spark.engine``           sync, average or barrier; ``spark.partitions``, ``spark.sync.every``
``resume``                 true: continue from the run's latest checkpoint
=========================  ================================================================================

Output properties for dependants: ``output`` (the run directory), ``epochs``, ``parameters``, and every final
metric (``loss``, ``val_accuracy``, ``test_accuracy`` ...).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sudoless.errors import InputError
from sudoless.flows.jobtypes import JobContext, JobResult, register
from sudoless.flows.jobtypes.builtin import run_commands

FLAGS = {
    "epochs": "--epochs",
    "threads": "--threads",
    "spark.master": "--master",
    "spark.num.executors": "--num-executors",
    "spark.executor.cores": "--executor-cores",
    "spark.executor.memory": "--executor-memory",
    "spark.archive": "--archive",
    "spark.engine": "--engine",
    "spark.partitions": "--partitions",
    "spark.sync.every": "--sync-every",
}

LAUNCH = "import sys; from sudoless.cli import main; sys.argv[0] = 'sudoless'; main()"


def command(ctx: JobContext) -> tuple[list[str], Path]:
    """The ``sudoless nn train`` command line for the job's properties, and the run directory it writes."""
    config = ctx.props.get("config", "").strip()
    if not config:
        raise InputError("an nn job needs a 'config' property: the run's YAML file")
    output = ctx.workdir / (ctx.props.get("output", "").strip() or f"nn-runs/{ctx.job_id}")
    argv = [sys.executable, "-c", LAUNCH, "nn", "train", str(ctx.workdir / config), "--output", str(output), "--quiet"]
    for prop, flag in FLAGS.items():
        value = ctx.props.get(prop, "").strip()
        if value:
            argv += [flag, value]
    if ctx.props.get("resume", "").strip().lower() == "true":
        argv.append("--resume")
    return argv, output


@register("nn")
class NeuralNetworkJob:
    """Runs ``sudoless nn train`` and reports the run's final metrics as output properties."""

    def run(self, ctx: JobContext) -> JobResult:
        try:
            argv, output = command(ctx)
        except InputError as exc:
            ctx.log.line(str(exc), "ERROR")
            return JobResult(False, message=str(exc))
        outcome = run_commands(ctx, [argv])
        if not outcome.succeeded:
            return outcome
        try:
            result = json.loads((output / "metrics.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            return JobResult(False, message=f"the run wrote no readable metrics.json: {exc}")
        outputs = {"output": str(output), "epochs": str(result["epochs"]), "parameters": str(result["parameters"])}
        outputs.update({k: "" if v is None else f"{v:.6g}" for k, v in result["metrics"].items()})
        ctx.log.line("trained: " + ", ".join(f"{k}={v}" for k, v in outputs.items() if k != "output"))
        return JobResult(True, outputs=outputs)
