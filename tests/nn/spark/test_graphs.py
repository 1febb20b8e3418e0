"""Functional graphs on Spark: a model with a shared layer, and one with several inputs and outputs (a loss
and a weight per output), train as they do in one process."""

from __future__ import annotations

import numpy as np
import pytest

from sudoless import nn
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


def two_in_two_out(seed: int = 0) -> nn.Model:
    """Two inputs (the digit's top and bottom halves), two outputs (its class, and its pixel mean as a regression)
    with a loss and a weight each; BatchNormalization on the shared trunk (after a Dense without bias: a bias
    there has a zero gradient, and Adam would blow the rounding noise in it up to 1e-10)."""
    top, bottom = nn.Input((32,), name="top"), nn.Input((32,), name="bottom")
    trunk = nn.BatchNormalization(momentum=0.8)(nn.Dense(16, use_bias=False)(nn.Concatenate()([top, bottom])))
    hidden = nn.Tanh()(trunk)
    outputs = [nn.Dense(10, name="digit")(hidden), nn.Dense(1, name="ink")(hidden)]
    model = nn.Model([top, bottom], outputs, seed=seed, dtype="float64")
    model.compile(
        nn.Adam(1e-2),
        {"digit": "softmax_cross_entropy", "ink": "mse"},
        {"digit": ["accuracy"]},
        loss_weights={"digit": 1.0, "ink": 0.5},
    )
    return model


@pytest.mark.parametrize(("engine", "partitions"), [("sync", 2), ("barrier", 2)])
def test_several_inputs_and_outputs_on_spark_equal_single_process_training(
    spark: object, engine: str, partitions: int
) -> None:
    ds = data.digits(seed=0)
    x = ds.x_train[:192].astype(np.float64)
    inputs = [x[:, :32], x[:, 32:]]
    targets = {"digit": ds.y_train[:192], "ink": x.mean(axis=1, keepdims=True)}
    local = two_in_two_out()
    expected = local.fit(inputs, targets, epochs=2, batch_size=48, verbose=0, seed=7)
    model = two_in_two_out()
    history = fit_spark(
        model,
        inputs,
        targets,
        epochs=2,
        batch_size=48,
        verbose=0,
        seed=7,
        engine=engine,
        partitions=partitions,
        spark=spark,
    )
    np.testing.assert_allclose(model.flat_params, local.flat_params, rtol=0, atol=1e-12)
    for name, value in local.get_state().items():
        np.testing.assert_allclose(model.get_state()[name], value, rtol=0, atol=1e-12, err_msg=name)
    assert set(history.history) >= {"loss", "digit_loss", "ink_loss", "digit_accuracy"}
    for name in ("loss", "digit_loss", "ink_loss", "digit_accuracy"):
        np.testing.assert_allclose(history[name], expected[name], rtol=1e-10, err_msg=name)
