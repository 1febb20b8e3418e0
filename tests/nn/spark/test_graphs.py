"""Functional graphs on Spark: a model with a shared layer trains as in one process; several outputs are refused."""

from __future__ import annotations

import numpy as np
import pytest

from sudoless import nn
from sudoless.errors import InputError
from sudoless.nn import data
from sudoless.nn.spark import fit_spark


def tied(seed: int = 0) -> nn.Model:
    """One Dense applied twice in a row: its gradient is the sum over both calls, on every worker."""
    inputs = nn.Input((64,))
    square = nn.Dense(64, name="square")
    hidden = nn.Tanh()(square(nn.Tanh()(square(inputs))))
    model = nn.Model(inputs, nn.Dense(10)(hidden), seed=seed)
    model.compile(nn.SGD(0.1, momentum=0.9), "softmax_cross_entropy", ["accuracy"])
    return model


def test_shared_layer_model_on_spark_equals_single_process_training(spark: object) -> None:
    ds = data.digits(seed=0)
    x, y = ds.x_train[:256], ds.y_train[:256]
    local = tied()
    local.fit(x, y, epochs=2, batch_size=64, verbose=0, seed=7)
    model = tied()
    history = fit_spark(
        model, x, y, epochs=2, batch_size=64, verbose=0, seed=7, engine="sync", partitions=2, spark=spark
    )
    assert model.count_params() == 64 * 64 + 64 + 64 * 10 + 10
    np.testing.assert_allclose(model.flat_params, local.flat_params, rtol=1e-4, atol=2e-5)
    assert history["loss"][1] < history["loss"][0]


def test_several_outputs_are_refused_with_one_line(spark: object) -> None:
    inputs = nn.Input((4,))
    hidden = nn.Dense(4)(inputs)
    model = nn.Model(inputs, [nn.Dense(2, name="a")(hidden), nn.Dense(1, name="b")(hidden)])
    model.compile("sgd", ["softmax_cross_entropy", "mse"])
    with pytest.raises(InputError, match=r"^fit_spark trains models with one output; this one has 2 \(a, b\)"):
        fit_spark(model, np.zeros((8, 4)), [np.zeros(8), np.zeros((8, 1))], verbose=0, spark=spark)
