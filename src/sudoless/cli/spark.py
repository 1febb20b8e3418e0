"""``sudoless spark ...``: submit PySpark apps with their environment shipped, and run a local standalone
cluster. The work is in :mod:`sudoless.spark`; this module parses, calls and prints.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from sudoless.cli import cli, emit_json, json_option
from sudoless.errors import CheckFailed


@cli.group()
def spark() -> None:
    """Apache Spark without root: Java, a local cluster, and apps shipped with their Python environment."""


@spark.group()
def cluster() -> None:
    """A local standalone Spark cluster (master and workers on 127.0.0.1) for development and tests."""


@cluster.command("start")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Number of workers.")
@click.option("--cores", type=click.IntRange(1, 1024), default=1, show_default=True, help="Cores per worker.")
@click.option("--memory", default="1g", show_default=True, help="Memory per worker (512m, 2g, ...).")
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=300.0,
    show_default=True,
    help="Seconds to wait for the master and every worker.",
)
@json_option
def cluster_start(workers: int, cores: int, memory: str, timeout: float, as_json: bool) -> None:
    """Start a master and workers; returns when every worker is registered."""
    from sudoless.config import load_settings
    from sudoless.spark.cluster import start_cluster

    began = time.monotonic()
    state = start_cluster(load_settings(), workers=workers, cores=cores, memory=memory, timeout=timeout)
    seconds = time.monotonic() - began
    if as_json:
        emit_json({**state.to_json(), "seconds": round(seconds, 3)})
        return
    click.echo(
        f"Spark master {state.master_url} (web UI {state.web_url}) with {workers} worker(s) of {cores} "
        f"core(s) and {memory}, ready in {seconds:.1f} s"
    )


@cluster.command("stop")
@click.option("--keep-work", is_flag=True, help="Keep the workers' work folders (the apps' files and executor logs).")
@json_option
def cluster_stop(keep_work: bool, as_json: bool) -> None:
    """Stop the workers (and their executors) and the master, and remove the workers' work folders."""
    from sudoless.cleanable import human_size
    from sudoless.config import load_settings
    from sudoless.spark.cluster import stop_cluster, work_dir

    settings = load_settings()
    result = stop_cluster(settings, keep_work=keep_work)
    if as_json:
        emit_json(result.to_json())
        return
    click.echo(f"stopped {', '.join(result.stopped)}" if result.stopped else "no Spark cluster was running")
    if result.removed:
        click.echo(f"removed the workers' work folders in {work_dir(settings)}: {human_size(result.freed_bytes)} freed")
    elif keep_work and work_dir(settings).is_dir():
        click.echo(f"kept the work folders in {work_dir(settings)}; 'sudoless clean' removes them")


@cluster.command("status")
@json_option
def cluster_status(as_json: bool) -> None:
    """Whether the cluster runs, and its workers as the master reports them. Exits 1 when it is not running
    (as ``systemctl is-active`` and ``pg_ctl status`` do), with the status printed all the same."""
    from sudoless.config import load_settings
    from sudoless.spark.cluster import cluster_status as status_of

    status = status_of(load_settings())
    if as_json:
        emit_json(status.to_json())
    elif not status.running:
        click.echo("no Spark cluster is running")
    else:
        click.echo(
            f"master {status.master_url} (web UI {status.web_url}): {status.alive_workers} worker(s) "
            f"alive, {status.cores} core(s)"
        )
        for worker in status.workers:
            click.echo(
                f"  {worker['id']}  {worker['state']}  cores {worker['coresused']}/{worker['cores']}  "
                f"memory {worker['memory']} MB"
            )
    if not status.running:
        raise CheckFailed()


def _conf_pairs(values: tuple[str, ...]) -> dict[str, str]:
    from sudoless.errors import InputError

    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--conf {item!r}: give KEY=VALUE, e.g. --conf spark.executor.memory=2g")
        pairs[key.strip()] = value
    return pairs


@spark.command("submit", context_settings={"ignore_unknown_options": True})
@click.argument("app")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--master", default="local[*]", show_default=True, help="local[*], spark://HOST:PORT, yarn or k8s://...")
@click.option("--deploy-mode", type=click.Choice(["client", "cluster"]), default="client", show_default=True)
@click.option(
    "--env",
    "env_archive",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="An archive from 'sudoless pack' to ship to the executors.",
)
@click.option(
    "--venv",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="A virtual environment to pack (cached by content) and ship.",
)
@click.option("--with-python", is_flag=True, help="With --venv: bundle the interpreter too.")
@click.option("--conf", "conf", multiple=True, metavar="KEY=VALUE", help="A Spark setting; repeatable.")
@click.option("--name", default="", help="Application name.")
@click.option("--class", "main_class", default="", help="Main class of a JVM application.")
@click.option("--driver-memory", default="")
@click.option("--driver-cores", default="")
@click.option("--executor-memory", default="")
@click.option("--executor-cores", default="")
@click.option("--num-executors", default="")
@click.option("--py-files", default="", help="Comma-separated .py/.zip files for the Python path.")
@click.option("--jars", default="", help="Comma-separated jars.")
@click.option("--files", default="", help="Comma-separated files put in each executor's working folder.")
@click.option("--dry-run", is_flag=True, help="Print the spark-submit command instead of running it.")
def submit(
    app: str,
    args: tuple[str, ...],
    master: str,
    deploy_mode: str,
    env_archive: Path | None,
    venv: Path | None,
    with_python: bool,
    conf: tuple[str, ...],
    name: str,
    main_class: str,
    driver_memory: str,
    driver_cores: str,
    executor_memory: str,
    executor_cores: str,
    num_executors: str,
    py_files: str,
    jars: str,
    files: str,
    dry_run: bool,
) -> None:
    """Run APP (a .py file or a jar) with spark-submit, shipping its Python environment; the driver's output
    is streamed and its exit code returned. Options may follow APP; put app options after '--'."""
    import shlex

    from sudoless.config import load_settings
    from sudoless.spark.submit import SubmitSpec, build_command, require_yarn_configuration
    from sudoless.spark.submit import submit as run_app

    require_yarn_configuration(master)
    spec = SubmitSpec(
        app=app,
        args=list(args),
        master=master,
        deploy_mode=deploy_mode,
        env_archive=env_archive,
        venv=venv,
        with_python=with_python,
        conf=_conf_pairs(conf),
        name=name,
        main_class=main_class,
        driver_memory=driver_memory,
        driver_cores=driver_cores,
        executor_memory=executor_memory,
        executor_cores=executor_cores,
        num_executors=num_executors,
        py_files=py_files,
        jars=jars,
        files=files,
    )
    settings = load_settings()
    if dry_run:
        click.echo(shlex.join(build_command(spec, settings).argv))
        return
    code = run_app(spec, settings)
    if code != 0:  # spark-submit has printed why; its own code, as a script calling it would see it
        raise CheckFailed(exit_code=code)
