"""Truncated BPTT on Spark: a small LSTM trained with ``tbptt=k`` by the sync and barrier engines equals
single-process ``fit(tbptt=k)`` on the same global batches (float64, to ~1e-12): every window is an optimiser
step, and the recurrent state goes on from window to window of a batch on each worker."""

from __future__ import annotations

import numpy as np
import pytest

from sudoless import nn
from sudoless.nn import data
from sudoless.nn.spark import fit_spark

WINDOW = 5


def sequences() -> tuple[np.ndarray, np.ndarray]:
    x, y = data.copy_task(120, 3, symbols=4, seed=0)
    return np.tile(x, (1, 2)), np.tile(y, (1, 2))  # 14 time steps: windows of 5, 5 and 4


def lstm(seed: int = 0) -> nn.Sequential:
    model = nn.Sequential(
        [nn.Embedding(6, 8), nn.LSTM(12, return_sequences=True), nn.Dense(6)], seed=seed, dtype="float64"
    )
    model.compile(nn.Adam(1e-2), "softmax_cross_entropy", ["accuracy"])
    return model


@pytest.mark.parametrize(("engine", "partitions"), [("sync", 2), ("barrier", 2)])
def test_truncated_bptt_on_spark_equals_single_process_training(spark: object, engine: str, partitions: int) -> None:
    x, y = sequences()
    assert x.shape[1] == 14
    local = lstm()
    expected = local.fit(x, y, epochs=2, batch_size=40, tbptt=WINDOW, verbose=0, seed=7)
    whole = lstm()
    whole.fit(x, y, epochs=2, batch_size=40, verbose=0, seed=7)
    assert np.max(np.abs(whole.flat_params - local.flat_params)) > 1e-3  # truncation changes the result
    model = lstm()
    history = fit_spark(
        model,
        x,
        y,
        epochs=2,
        batch_size=40,
        tbptt=WINDOW,
        verbose=0,
        seed=7,
        engine=engine,
        partitions=partitions,
        spark=spark,
    )
    assert model.optimizer is not None and model.optimizer.iterations == 2 * 3 * 3  # epochs x batches x windows
    np.testing.assert_allclose(model.flat_params, local.flat_params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-10)
    np.testing.assert_allclose(history["accuracy"], expected["accuracy"], rtol=1e-10)
    assert all(not layer.stateful for layer in model.layers if isinstance(layer, nn.LSTM))
