"""fit options on Spark: per-tensor clipnorm (the workers clip as fit does), and what Spark refuses for now."""

from __future__ import annotations

import numpy as np
import pytest

from sudoless import nn
from sudoless.nn import data
from sudoless.nn.spark import fit_spark


def _model() -> nn.Sequential:
    model = nn.Sequential([nn.Dense(32), nn.Tanh(), nn.Dense(10)], seed=0)
    # a small limit, so that every step clips and a global clip would give other weights
    return model.compile(nn.SGD(0.5, clipnorm=0.05), "softmax_cross_entropy")


@pytest.mark.parametrize("engine", ["sync", "barrier"])
def test_per_tensor_clipping_on_spark_equals_single_process_training(spark: object, engine: str) -> None:
    ds = data.digits(validation_fraction=0.1, test_fraction=0.2, seed=0)
    x, y = ds.x_train[:256], ds.y_train[:256]
    local = _model()
    local.fit(x, y, epochs=2, batch_size=64, verbose=0, seed=7)
    globally = nn.Sequential([nn.Dense(32), nn.Tanh(), nn.Dense(10)], seed=0)
    globally.compile(nn.SGD(0.5, global_clipnorm=0.05), "softmax_cross_entropy")
    globally.fit(x, y, epochs=2, batch_size=64, verbose=0, seed=7)
    assert not np.allclose(local.packed()[0], globally.packed()[0], rtol=1e-3, atol=1e-4)
    model = _model()
    fit_spark(model, x, y, epochs=2, batch_size=64, verbose=0, seed=7, engine=engine, partitions=2, spark=spark)
    np.testing.assert_allclose(model.packed()[0], local.packed()[0], rtol=1e-4, atol=2e-5)


def test_metrics_that_need_the_whole_epoch_are_refused_on_spark(spark: object) -> None:
    from sudoless.errors import InputError

    ds = data.digits(validation_fraction=0.1, test_fraction=0.2, seed=0)
    for metric in ("f1", "auc", {"name": "top_k_categorical_accuracy", "k": 3}):
        model = nn.Sequential([nn.Dense(10)], seed=0).compile("sgd", "softmax_cross_entropy", [metric])
        with pytest.raises(InputError, match="not computed on Spark yet"):
            fit_spark(model, ds.x_train[:64], ds.y_train[:64], epochs=1, verbose=0, engine="sync", spark=spark)


def test_reduce_on_plateau_works_with_the_sync_engine_and_is_refused_by_the_others(spark: object) -> None:
    from sudoless.errors import InputError

    ds = data.digits(validation_fraction=0.1, test_fraction=0.2, seed=0)
    x, y = ds.x_train[:128], ds.y_train[:128]
    model = nn.Sequential([nn.Dense(10)], seed=0).compile(nn.SGD(0.1), "softmax_cross_entropy")
    plateau = nn.ReduceLROnPlateau("loss", factor=0.5, patience=0, min_delta=10)
    history = fit_spark(model, x, y, epochs=3, verbose=0, engine="sync", callbacks=[plateau], spark=spark)
    assert history["lr"] == [0.1, 0.1, 0.05]
    for engine in ("barrier", "average"):
        fresh = nn.Sequential([nn.Dense(10)], seed=0).compile(nn.SGD(0.1), "softmax_cross_entropy")
        with pytest.raises(InputError, match="needs engine sync"):
            fit_spark(fresh, x, y, epochs=1, verbose=0, engine=engine, callbacks=[plateau], spark=spark)
