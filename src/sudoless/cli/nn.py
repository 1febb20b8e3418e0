"""``sudoless nn train|eval|sample``: train NumPy networks from YAML configs and use the results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sudoless.cli import cli, emit_json, json_option


@cli.group()
def nn() -> None:
    """Neural networks on NumPy: train from a YAML config, evaluate a run, sample text from a character model."""


def threads_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--threads",
        type=click.IntRange(1),
        default=None,
        help="BLAS threads (default: the config's threads:, else 1, or OPENBLAS_NUM_THREADS if set). "
        "On shared machines idle BLAS threads spin and can make small models many times "
        "slower.",
    )(func)


def _limit_threads(threads: int | None) -> None:
    """Set BLAS thread counts before NumPy loads, so no extra thread ever starts.

    ``sudoless.nn.threads.set_threads`` applies the final count (this option, else the config's ``threads:``)
    to the loaded library once the run starts; importing it here would load NumPy first.
    """
    from sudoless.config import BLAS_THREAD_VARIABLES, environment_value, export

    for var in BLAS_THREAD_VARIABLES:
        if threads is not None:
            export(var, str(threads))
        else:
            export(var, environment_value(BLAS_THREAD_VARIABLES[0], "1"), replace=False)


def _default_root() -> Path:
    from sudoless.config import load_settings

    return load_settings().home / "nn" / "runs"


def spark_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that make ``train`` a Spark run; each overrides the config's ``spark:`` section."""
    options = [
        click.option(
            "--master",
            default=None,
            help="Spark master: local[*], spark://HOST:PORT, yarn, k8s://... "
            "(makes this a Spark run; default: the config's spark.master, else train here).",
        ),
        click.option("--num-executors", type=click.IntRange(1), default=None, help="Executors to ask for."),
        click.option("--executor-cores", type=click.IntRange(1), default=None, help="Cores per executor."),
        click.option("--executor-memory", default=None, metavar="SIZE", help="Memory per executor, e.g. 4g."),
        click.option(
            "--archive",
            type=click.Path(exists=True, dir_okay=False),
            default=None,
            help="Environment archive from `sudoless pack` for the executors' Python.",
        ),
        click.option(
            "--engine",
            type=click.Choice(["sync", "average", "barrier"]),
            default=None,
            help="sync: a Spark job per step; average: local SGD; barrier: TCP all-reduce per step.",
        ),
        click.option(
            "--partitions",
            type=click.IntRange(1),
            default=None,
            help="Data partitions (default: executors x cores, else the cluster's parallelism).",
        ),
        click.option("--sync-every", type=click.IntRange(1), default=None, help="average engine: steps per round."),
        click.option("--resume", is_flag=True, default=None, help="Continue from the run's latest checkpoint."),
        click.option(
            "--deploy-mode",
            type=click.Choice(["client", "cluster"]),
            default=None,
            help="Run through spark-submit with the driver here (client) or in the cluster (cluster).",
        ),
        click.option("--driver-memory", default=None, metavar="SIZE", help="Driver memory, e.g. 4g (spark-submit)."),
        click.option("--driver-cores", type=click.IntRange(1), default=None, help="Driver cores (spark-submit)."),
        click.option(
            "--dry-run",
            is_flag=True,
            default=False,
            help="Run nothing; say what the same command would do: with --deploy-mode or --driver-* the "
            "spark-submit command, else the Spark session it would start in this process (master, conf).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@nn.command()
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory (default: the config's 'output', else SUDOLESS_HOME/nn/runs/NAME).",
)
@click.option("--epochs", type=click.IntRange(1), default=None, help="Override the config's epoch count.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@threads_option
@spark_options
@json_option
def train(
    config_file: Path,
    output: Path | None,
    epochs: int | None,
    quiet: bool,
    threads: int | None,
    as_json: bool,
    **spark: Any,
) -> None:
    """Train the model CONFIG.yaml describes; print the final metrics and save the run directory.

    With --master (or a spark: section in the config) the training runs data-parallel on Spark, with this
    process as the driver; --deploy-mode or --driver-* hand the whole run to spark-submit instead. --dry-run
    shows which of the two would happen: the spark-submit command, or the in-process session's master and conf.
    """
    _limit_threads(threads)
    from sudoless.nn.runs import load_config, train_run

    config = load_config(config_file)
    verbose = 0 if (quiet or as_json) else 1
    if spark.get("resume") is True:
        spark["checkpoint"] = True
    from sudoless.nn.spark.run import spark_training, train_on_spark

    placement = {key: spark.pop(key) for key in ("deploy_mode", "driver_memory", "driver_cores", "dry_run")}
    if placement["dry_run"] and not any(placement[key] for key in ("deploy_mode", "driver_memory", "driver_cores")):
        _show_in_process(config, spark, as_json)
        return
    on_spark = spark_training(config, spark)
    if any(placement.values()):
        submitted = _train_submitted(config_file, config, spark, placement, output, epochs, threads, quiet, as_json)
        if submitted is None:
            return
        result = submitted
    elif on_spark is not None:
        result = train_on_spark(
            config,
            on_spark,
            output=output,
            epochs=epochs,
            verbose=verbose,
            default_root=_default_root(),
            threads=threads,
        )
    else:
        result = train_run(
            config, output=output, epochs=epochs, verbose=verbose, default_root=_default_root(), threads=threads
        )
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(
        f"{result.name}: {result.epochs} epoch(s), {result.parameters:,} parameters, "
        f"{result.seconds:.1f}s; saved in {result.output}"
    )
    for key, value in result.metrics.items():
        click.echo(f"  {key:<20} {'-' if value is None else format(value, '.4f')}")
    if result.sample:
        click.echo("\n" + result.sample)


def _show_in_process(config: dict[str, Any], spark: dict[str, Any], as_json: bool) -> None:
    """``--dry-run`` without deploy options: the run would not use spark-submit, so say so, and show the
    session it would start here."""
    from sudoless.nn.spark.submission import plan_in_process

    plan = plan_in_process(config, spark)
    if as_json:
        emit_json(plan.to_json())
        return
    click.echo(
        f"in-process: this process would be the Spark driver (no spark-submit): master {plan.master}, "
        f"application {plan.app_name}, engine {plan.engine}"
    )
    for key, value in sorted(plan.conf.items()):
        click.echo(f"  {key}={value}")
    click.echo("(--deploy-mode client|cluster, --driver-memory or --driver-cores would run it through spark-submit)")


def _train_submitted(
    config_file: Path,
    config: dict[str, Any],
    spark: dict[str, Any],
    placement: dict[str, Any],
    output: Path | None,
    epochs: int | None,
    threads: int | None,
    quiet: bool,
    as_json: bool,
) -> Any:
    """The run as one spark-submit command (``--deploy-mode``, ``--driver-*``); its RunResult in client mode,
    None when there is none to print here (``--dry-run`` printed the command; cluster mode)."""
    import shlex

    from sudoless.config import load_settings
    from sudoless.errors import CheckFailed
    from sudoless.nn.spark.submission import DriverPlacement, submit_run

    where = DriverPlacement(placement["deploy_mode"] or "client", placement["driver_memory"], placement["driver_cores"])
    done = submit_run(
        config_file, config, spark, where, load_settings(), output, epochs, threads, quiet, placement["dry_run"]
    )
    if placement["dry_run"]:
        if as_json:
            emit_json({"mode": "spark-submit", "argv": done.command.argv})
        else:
            click.echo(shlex.join(done.command.argv))
        return None
    if done.code != 0:  # the driver has printed why; its own code, as spark-submit passes it on
        raise CheckFailed(exit_code=done.code)
    if done.result is None and as_json:  # cluster mode: the run's own report is in the driver's log
        emit_json({"argv": done.command.argv, "exit_code": done.code})
    return done.result


@nn.command("eval")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@threads_option
@json_option
def evaluate(run_dir: Path, split: str, threads: int | None, as_json: bool) -> None:
    """Score a trained run's model on its data set's SPLIT."""
    _limit_threads(threads)
    from sudoless.nn.runs import evaluate_run

    metrics = evaluate_run(run_dir, split)
    if as_json:
        emit_json({"run": str(run_dir), "split": split, "metrics": metrics})
        return
    for key, value in metrics.items():
        click.echo(f"{split}_{key:<16} {'-' if value is None else format(value, '.4f')}")


@nn.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--length", "-n", type=click.IntRange(1), default=500, show_default=True, help="Characters to add.")
@click.option("--prime", "-p", default="\n", help="Text to start from (default: a new line).")
@click.option("--temperature", "-t", type=float, default=0.8, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@threads_option
@json_option
def sample(
    run_dir: Path, length: int, prime: str, temperature: float, seed: int, threads: int | None, as_json: bool
) -> None:
    """Generate text from a character-level model."""
    _limit_threads(threads)
    from sudoless.nn.runs import sample_run

    text = sample_run(run_dir, length=length, prime=prime.replace("\\n", "\n"), temperature=temperature, seed=seed)
    if as_json:
        emit_json({"run": str(run_dir), "prime": prime, "temperature": temperature, "seed": seed, "text": text})
        return
    click.echo(text)


@nn.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--onnx",
    "onnx_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Write the run's model to this ONNX file (float32; needs the extra [onnx]).",
)
@click.option("--opset", type=int, default=None, help="ONNX opset (default 17, or 20 for a model with GELU).")
@json_option
def export(run_dir: Path, onnx_path: Path, opset: int | None, as_json: bool) -> None:
    """Export a trained run's model to ONNX, for onnxruntime and other frameworks."""
    _limit_threads(None)
    from sudoless.nn.onnx import export_onnx
    from sudoless.nn.runs import load_run

    model, _ = load_run(run_dir)
    written = export_onnx(model, onnx_path, opset=opset)
    if as_json:
        emit_json({"run": str(run_dir), "onnx": str(written), "parameters": model.count_params()})
        return
    click.echo(f"{run_dir}: {model.count_params():,} parameters written to {written}")
