"""Synchronised BatchNormalization on Spark: a conv + BatchNormalization model trained data-parallel equals
single-process ``fit`` on the same global batches (float64, to ~1e-12), moving statistics included, because
every worker normalises with the global batch's mean and variance."""

from __future__ import annotations

import numpy as np
import pytest

from sudoless import nn
from sudoless.nn import data
from sudoless.nn.spark import fit_spark

BATCH = 50  # 200 rows: 4 steps an epoch; with 3 partitions some worker holds few or no rows of a batch


def digits(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    ds = data.digits(validation_fraction=0.1, test_fraction=0.2, seed=0)
    return ds.x_train[:n].astype(np.float64), ds.y_train[:n]


def conv_bn(seed: int = 0) -> nn.Sequential:
    model = nn.Sequential(
        [
            nn.Reshape((8, 8, 1)),
            nn.Conv2D(4, 3, activation="relu"),
            nn.BatchNormalization(momentum=0.8),
            nn.Flatten(),
            nn.Dense(12),
            nn.BatchNormalization(momentum=0.7),
            nn.Tanh(),
            nn.Dense(10),
        ],
        seed=seed,
        dtype="float64",
    )
    model.compile(nn.SGD(0.1, momentum=0.9), "softmax_cross_entropy", ["accuracy"])
    return model


@pytest.mark.parametrize(("engine", "partitions"), [("sync", 3), ("barrier", 2)])
def test_synchronised_batchnorm_equals_single_process_training(spark: object, engine: str, partitions: int) -> None:
    x, y = digits()
    local = conv_bn()
    expected_history = local.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, seed=7)
    model = conv_bn()
    history = fit_spark(
        model, x, y, epochs=2, batch_size=BATCH, verbose=0, seed=7, engine=engine, partitions=partitions, spark=spark
    )
    np.testing.assert_allclose(model.flat_params, local.flat_params, rtol=0, atol=1e-12)
    state, expected = model.get_state(), local.get_state()
    assert sorted(state) == sorted(expected) and len(state) == 4
    for name, value in expected.items():
        assert not np.allclose(value, 0.0) and not np.allclose(value, 1.0), f"{name} never moved"
        np.testing.assert_allclose(state[name], value, rtol=0, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(history["loss"], expected_history["loss"], rtol=1e-12)
    np.testing.assert_allclose(model.predict(x[:20]), local.predict(x[:20]), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("engine", "rows"), [("sync", 20), ("barrier", 48)])
def test_a_worker_without_rows_of_a_batch_still_takes_part(spark: object, engine: str, rows: int) -> None:
    """Batches of 4 over 2 partitions: some batch lies wholly in one partition, and the other worker must send
    zeros to every exchange (or the ring would hang and the sums be wrong)."""
    x, y = digits(rows)
    order = np.random.default_rng(7).permutation(rows)  # the driver's first epoch, as fit draws it
    assert any(len({int(i) < rows // 2 for i in order[s : s + 4]}) == 1 for s in range(0, rows, 4))
    local = conv_bn()
    local.fit(x, y, epochs=1, batch_size=4, verbose=0, seed=7)
    model = conv_bn()
    fit_spark(model, x, y, epochs=1, batch_size=4, verbose=0, seed=7, engine=engine, partitions=2, spark=spark)
    np.testing.assert_allclose(model.flat_params, local.flat_params, rtol=0, atol=1e-12)
    for name, value in local.get_state().items():
        np.testing.assert_allclose(model.get_state()[name], value, rtol=0, atol=1e-12, err_msg=name)
