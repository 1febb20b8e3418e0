"""``sudoless spark ...``: submit PySpark apps with their environment shipped, and run a local standalone
cluster. The work is in :mod:`sudoless.spark`; this module parses, calls and prints.
"""

from __future__ import annotations

import time

import click

from sudoless.cli import cli, emit_json, json_option
from sudoless.config import load_settings


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
    from sudoless.spark.cluster import ClusterError, start_cluster

    began = time.monotonic()
    try:
        state = start_cluster(load_settings(), workers=workers, cores=cores, memory=memory, timeout=timeout)
    except ClusterError as exc:
        if exc.log_tail:
            click.echo("\n".join(f"  | {line}" for line in exc.log_tail.splitlines()), err=True)
        raise
    seconds = time.monotonic() - began
    if as_json:
        emit_json({**state.to_json(), "seconds": round(seconds, 3)})
        return
    click.echo(
        f"Spark master {state.master_url} (web UI {state.web_url}) with {workers} worker(s) of {cores} "
        f"core(s) and {memory}, ready in {seconds:.1f} s"
    )


@cluster.command("stop")
@json_option
def cluster_stop(as_json: bool) -> None:
    """Stop the workers (and their executors) and the master."""
    from sudoless.spark.cluster import stop_cluster

    stopped = stop_cluster(load_settings())
    if as_json:
        emit_json({"stopped": stopped})
        return
    click.echo(f"stopped {', '.join(stopped)}" if stopped else "no Spark cluster was running")


@cluster.command("status")
@json_option
def cluster_status(as_json: bool) -> None:
    """Whether the cluster runs, and its workers as the master reports them. Exit 1 when it is not running."""
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
    raise SystemExit(0 if status.running else 1)
