"""The Spark engines against single-process training, on real Spark in local mode (the session fixture).

The synchronous and barrier engines must reproduce ``fit`` on the same global batches up to float32
summation order; model averaging must converge; a killed worker, a reload and a resume must not change the
result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sudoless import nn
from sudoless.nn import data
from sudoless.nn.spark import FaultInjection, fit_spark

EPOCHS = 2
BATCH = 64


def digits_subset(n: int = 384) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ds = data.digits(validation_fraction=0.1, test_fraction=0.2, seed=0)
    return ds.x_train[:n], ds.y_train[:n], ds.x_val, ds.y_val


def mlp(seed: int = 0, optimizer: nn.Optimizer | None = None) -> nn.Sequential:
    model = nn.Sequential([nn.Dense(32), nn.Tanh(), nn.Dense(10)], seed=seed)
    model.compile(optimizer or nn.SGD(0.2, momentum=0.9), "softmax_cross_entropy", ["accuracy"])
    return model


def local_weights(x: np.ndarray, y: np.ndarray, epochs: int = EPOCHS, **options: object) -> np.ndarray:
    model = mlp(**options)  # type: ignore[arg-type]
    model.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0, seed=7)
    return np.array(model.flat_params)


@pytest.mark.parametrize("partitions", [2, 4])
def test_sync_equals_single_process_training(spark: object, partitions: int) -> None:
    x, y, _, _ = digits_subset()
    expected = local_weights(x, y)
    model = mlp()
    history = fit_spark(
        model,
        x,
        y,
        epochs=EPOCHS,
        batch_size=BATCH,
        verbose=0,
        seed=7,
        engine="sync",
        partitions=partitions,
        spark=spark,
    )
    assert history.timings["partitions"] == partitions
    assert history.timings["steps"] == EPOCHS * 6
    np.testing.assert_allclose(model.flat_params, expected, rtol=1e-4, atol=2e-5)
    assert len(history["loss"]) == EPOCHS and history["loss"][1] < history["loss"][0]


def test_barrier_engine_equals_single_process_training(spark: object) -> None:
    x, y, _, _ = digits_subset()
    expected = local_weights(x, y, optimizer=nn.Adam(1e-2))
    model = mlp(optimizer=nn.Adam(1e-2))
    history = fit_spark(
        model, x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0, seed=7, engine="barrier", partitions=2, spark=spark
    )
    np.testing.assert_allclose(model.flat_params, expected, rtol=1e-4, atol=2e-5)
    assert history.timings["jobs"] == 1  # one barrier stage for the whole run
    assert history.timings["median_communication_ms"] is not None


def test_model_averaging_converges_on_digits(spark: object) -> None:
    ds = data.digits(validation_fraction=0.2, test_fraction=0.0, seed=0)
    model = mlp(optimizer=nn.Adam(5e-3))
    history = fit_spark(
        model,
        ds.x_train,
        ds.y_train,
        epochs=6,
        batch_size=64,
        verbose=0,
        engine="average",
        sync_every=6,
        partitions=2,
        spark=spark,
        validation_data=(ds.x_val, ds.y_val),
    )
    assert history["val_accuracy"][-1] >= 0.9, history.history
    assert history["loss"][-1] < history["loss"][0] / 3


@pytest.mark.parametrize("engine", ["sync", "barrier"])
def test_a_killed_worker_does_not_change_the_result(spark: object, tmp_path: Path, engine: str) -> None:
    x, y, _, _ = digits_subset()
    expected = local_weights(x, y)
    marker = tmp_path / "killed"
    model = mlp()
    history = fit_spark(
        model,
        x,
        y,
        epochs=EPOCHS,
        batch_size=BATCH,
        verbose=0,
        seed=7,
        engine=engine,
        partitions=2,
        spark=spark,
        fault=FaultInjection(str(marker), step=8, partition=1),
    )
    assert marker.exists(), "the fault was never injected"
    assert history.timings["retries"] >= 1
    np.testing.assert_allclose(model.flat_params, expected, rtol=1e-4, atol=2e-5)


def test_early_stopping_inside_a_barrier_stage_keeps_that_epochs_weights(spark: object) -> None:
    x, y, xv, yv = digits_subset()
    expected = local_weights(x, y, epochs=2)
    model = mlp()

    class StopAfterTwo(nn.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
            if epoch == 1:
                self.model.stop_training = True

    history = fit_spark(
        model,
        x,
        y,
        epochs=4,
        batch_size=BATCH,
        verbose=0,
        seed=7,
        engine="barrier",
        partitions=2,
        spark=spark,
        callbacks=[StopAfterTwo()],
        validation_data=(xv, yv),
    )
    assert len(history["loss"]) == 2 and "val_accuracy" in history.history
    np.testing.assert_allclose(model.flat_params, expected, rtol=1e-4, atol=2e-5)


def test_resume_from_a_checkpoint_continues_the_same_run(spark: object, tmp_path: Path) -> None:
    x, y, _, _ = digits_subset()
    expected = local_weights(x, y, epochs=3)
    first = mlp()
    fit_spark(
        first,
        x,
        y,
        epochs=2,
        batch_size=BATCH,
        verbose=0,
        seed=7,
        engine="barrier",
        partitions=2,
        spark=spark,
        checkpoint_dir=tmp_path / "ckpt",
    )
    assert (tmp_path / "ckpt" / "latest.json").exists()
    resumed = mlp(seed=99)  # different initial weights: everything must come from the checkpoint
    history = fit_spark(
        resumed,
        x,
        y,
        epochs=3,
        batch_size=BATCH,
        verbose=0,
        seed=7,
        engine="barrier",
        partitions=2,
        spark=spark,
        checkpoint_dir=tmp_path / "ckpt",
        resume=True,
    )
    assert len(history["loss"]) == 3 and history.timings["steps"] == 6
    np.testing.assert_allclose(resumed.flat_params, expected, rtol=1e-4, atol=2e-5)
