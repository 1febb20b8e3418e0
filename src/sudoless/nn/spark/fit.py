"""``fit_spark``: ``Network.fit`` with the work spread over a Spark cluster.

Options and callbacks are ``fit``'s (epochs, batch_size, validation_data, callbacks, shuffle, verbose, seed,
initial_epoch); the driver draws each epoch's permutation from the same generator ``fit`` uses, so with the
``sync`` or ``barrier`` engine the run is single-process training on the same global batches. What is added:
the engine, the number of partitions, the Spark session, checkpoints and resuming, and retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sudoless.errors import InputError
from sudoless.extras import install_hint
from sudoless.nn.callbacks import Callback, History, ReduceLROnPlateau
from sudoless.nn.model import Network
from sudoless.nn.spark.averaging import AveragingEngine
from sudoless.nn.spark.barrier import BarrierEngine
from sudoless.nn.spark.checkpoint import TrainingState, restore_checkpoint, save_checkpoint
from sudoless.nn.spark.data import prepare, release
from sudoless.nn.spark.engine import Engine, FaultInjection, SparkFit, Timings, steps_in
from sudoless.nn.spark.replica import ModelSpec
from sudoless.nn.spark.sync import SyncEngine
from sudoless.nn.training import CallbackLoop

log = logging.getLogger("sudoless.nn.spark")

ENGINES: dict[str, type[Any]] = {"sync": SyncEngine, "average": AveragingEngine, "barrier": BarrierEngine}


def make_engine(name: str) -> Engine:
    if name not in ENGINES:
        raise InputError(f"unknown engine '{name}'; use {', '.join(ENGINES)}")
    return ENGINES[name]()


def spark_context(spark: Any = None) -> Any:
    """The SparkContext of ``spark`` (a session or a context), else of the active session, else a local one."""
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError:
        raise install_hint("training on Spark", "spark", "pyspark") from None
    if spark is None:
        sc = SparkContext._active_spark_context
        if sc is None:
            from sudoless.nn.spark.session import start_session

            sc = start_session().sparkContext
    else:
        sc = spark.sparkContext if isinstance(spark, SparkSession) else spark
    return sc


class SparkHistory(History):
    """``fit``'s History plus what the distributed run measured: ``timings`` (a summary) and ``steps`` (per step)."""

    timings: dict[str, Any]
    engine: str
    steps: Timings


def fit_spark(
    model: Network,
    data: Any,
    y: Any = None,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    shuffle: bool = True,
    verbose: int = 1,
    seed: int | None = None,
    initial_epoch: int = 0,
    tbptt: int | None = None,
    engine: str = "sync",
    partitions: int | None = None,
    sync_every: int = 8,
    epochs_per_stage: int | None = None,
    spark: Any = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    retries: int = 3,
    features: str | list[str] = "features",
    label: str = "label",
    fault: FaultInjection | None = None,
) -> SparkHistory:
    """Train ``model`` data-parallel on Spark; returns the History (with ``timings``).

    ``data`` is NumPy features (with ``y``), an RDD of ``(features, label)`` pairs, a DataFrame (columns
    ``features`` and ``label`` by default), or a path to Parquet or to ``.npz``/``x*.npy`` shards. ``engine``:
    ``sync`` (one Spark job per step; single-process semantics), ``average`` (local SGD, averaging every
    ``sync_every`` steps) or ``barrier`` (barrier stages of ``epochs_per_stage`` epochs, default all, with a
    TCP ring all-reduce per step; the same semantics as ``sync``). ``partitions`` defaults to the cluster's
    parallelism (one per task slot). ``checkpoint_dir`` gets a checkpoint after every epoch; with ``resume``
    training continues from the newest. A failed job is retried up to ``retries`` times; the synchronous
    engines give the same model either way.

    Models with shared layers train as they do in ``fit``; BatchNormalization layers are synchronised
    across the workers (:mod:`sudoless.nn.spark.syncbn`), so their statistics are the global batch's.
    A model with several inputs takes ``x`` as a list of arrays, one with several outputs ``y`` as a list or
    a dict by output name (NumPy sources only), with the losses and loss weights given to ``compile``.
    ``tbptt=k`` is ``fit``'s truncated BPTT (one input and one output, ``(batch, time, ...)``): the barrier
    engine carries each worker's recurrent state from window to window; the sync engine, one job per window,
    runs the earlier windows forward again in each job. Dropout draws its masks
    from each worker's own generator, so a model with dropout follows single-process training only in
    distribution, not value for value.
    """
    _, optimizer = model._require_compiled()
    if model.output_names and y is not None:
        y = model.targets(y)  # a list in output order (from a list or a dict by output name)
    if isinstance(data, tuple) and all(isinstance(a, np.ndarray) for a in data):
        data = list(data)
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if resume and checkpoint_dir is None:
        raise InputError("resume needs the checkpoint_dir to resume from")
    runner = make_engine(engine)
    if engine != "sync" and any(isinstance(c, ReduceLROnPlateau) for c in callbacks):
        # the barrier and averaging workers build their optimisers from the rate the run started with
        raise InputError(f"ReduceLROnPlateau on Spark needs engine sync for now; engine {engine} keeps its rate")
    epochs_per_stage = max(1, epochs if epochs_per_stage is None else int(epochs_per_stage))
    sc = spark_context(spark)
    started = time.perf_counter()
    sharded = prepare(data, y, sc, partitions, features, label, into_workers=engine != "barrier")
    try:
        if not model.built:
            model.build(sharded.sample_shape)
        if tbptt is not None:
            if tbptt < 1:
                raise InputError(f"tbptt must be a positive number of time steps, got {tbptt}")
            if engine == "average" or model.output_names or isinstance(sharded.sample_shape, list):
                raise InputError("truncated BPTT on Spark needs the sync or barrier engine, one input and one output")
            if any(True for _ in model.state_slots()):
                raise InputError("truncated BPTT on Spark does not take BatchNormalization; train this model with fit")
        if engine == "average" and any(True for _ in model.state_slots()):
            raise InputError(
                "the average engine trains BatchNormalization's statistics per worker and cannot merge them: "
                "use the sync or barrier engine, which synchronise them"
            )
        seed = model.seed if seed is None else int(seed)
        rng = np.random.default_rng(seed)
        run = SparkFit(
            sc,
            model,
            ModelSpec.of(model),
            sharded,
            batch_size,
            seed,
            retries=retries,
            fault=fault,
            sync_every=sync_every,
            tbptt=tbptt,
        )
        history = SparkHistory()
        restored = restore_checkpoint(checkpoint_dir, model) if resume and checkpoint_dir is not None else None
        if restored is not None:
            initial_epoch = restored.epochs_done
            rng.bit_generator.state = restored.rng_state
            run.global_step = restored.global_step
            history.history = {k: list(v) for k, v in restored.history.items()}
            history.epoch = list(range(len(next(iter(restored.history.values()), []))))
            log.info("resumed from %s after epoch %d", checkpoint_dir, initial_epoch)
        n = sharded.count
        steps = (
            steps_in(n, batch_size)
            if engine != "average"
            else steps_in(steps_in(max(sharded.sizes()), max(1, batch_size // sharded.partitions)), max(1, sync_every))
        )
        live = not isinstance(runner, BarrierEngine)
        loop = CallbackLoop(
            model,
            callbacks,
            epochs=epochs,
            steps=steps,
            verbose=verbose,
            validation_data=validation_data,
            batch_size=batch_size,
            history=history,
        )
        with loop:
            epoch = initial_epoch
            while epoch < epochs and not model.stop_training:
                group = range(epoch, min(epochs, epoch + (epochs_per_stage if live is False else 1)))
                orders, rng_states = [], []
                for _ in group:
                    orders.append(rng.permutation(n) if shuffle else np.arange(n))
                    rng_states.append(rng.bit_generator.state)
                run.epoch = epoch
                if live:
                    loop.begin_epoch(epoch)
                outcomes = runner.run_epochs(run, orders, loop.end_batch)
                for current, outcome, rng_state in zip(group, outcomes, rng_states, strict=True):
                    if outcome.weights is not None:
                        model.packed()[0][...] = outcome.weights
                        optimizer.load_state_arrays(outcome.state or {})
                    if outcome.layer_state:
                        model.set_state(outcome.layer_state)
                    if not live:
                        loop.begin_epoch(current)
                        for step, step_logs in enumerate(outcome.step_logs or []):
                            loop.end_batch(step, step_logs)
                    loop.end_epoch(current, outcome.stats.logs())
                    if checkpoint_dir is not None:
                        state = TrainingState(current + 1, outcome.end_step, rng_state, history.history, engine)
                        save_checkpoint(checkpoint_dir, model, state)
                    epoch = current + 1
                    if model.stop_training:
                        break
    finally:
        release(sharded, sc)
    history.timings = {
        **run.timings.summary(),
        "engine": engine,
        "partitions": sharded.partitions,
        "total_seconds": round(time.perf_counter() - started, 3),
        **run.last_stage,
    }
    history.engine = engine
    history.steps = run.timings
    return history
