"""Every data source fit_spark accepts becomes the same ordered partitions, cached in the Python workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sudoless import nn
from sudoless.errors import InputError
from sudoless.nn.spark import fit_spark
from sudoless.nn.spark.data import ShardedData, prepare, release

ROWS, FEATURES = 90, 5


def arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.standard_normal((ROWS, FEATURES)).astype(np.float32), rng.integers(0, 3, ROWS)


def gathered(sharded: ShardedData) -> tuple[np.ndarray, np.ndarray]:
    parts = sorted(sharded.rdd.collect(), key=lambda item: item[0])
    return np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def source(kind: str, spark: Any, tmp_path: Path) -> tuple[Any, Any]:
    x, y = arrays()
    if kind == "numpy":
        return x, y
    rows = [(x[i].tolist(), int(y[i])) for i in range(ROWS)]
    if kind == "rdd":
        return spark.sparkContext.parallelize([(x[i], int(y[i])) for i in range(ROWS)], 3), None
    frame = spark.createDataFrame(rows, "features array<float>, label long")
    if kind == "dataframe":
        return frame, None
    if kind == "parquet":
        frame.coalesce(1).write.parquet(str(tmp_path / "data.parquet"))
        return tmp_path / "data.parquet", None
    folder = tmp_path / kind
    folder.mkdir()
    for i, cut in enumerate(np.array_split(np.arange(ROWS), 3)):
        if kind == "npz":
            np.savez(folder / f"part-{i}.npz", x=x[cut], y=y[cut])
        else:
            np.save(folder / f"x{i}.npy", x[cut])
            np.save(folder / f"y{i}.npy", y[cut])
    return folder, None


@pytest.mark.parametrize("kind", ["numpy", "rdd", "dataframe", "parquet", "npz", "npy"])
def test_sources_become_ordered_partitions(spark: Any, tmp_path: Path, kind: str) -> None:
    data, labels = source(kind, spark, tmp_path)
    partitions = None if kind in ("npz", "npy") else 3
    sharded = prepare(data, labels, spark.sparkContext, partitions)
    try:
        assert sharded.count == ROWS
        assert sharded.partitions == 3
        assert sharded.sample_shape == (FEATURES,)
        x, y = gathered(sharded)
        expected_x, expected_y = arrays()
        np.testing.assert_allclose(x, expected_x, rtol=1e-6)
        assert y.tolist() == expected_y.tolist()
        assert sharded.starts == [0, *np.cumsum(sharded.sizes()).tolist()]
    finally:
        release(sharded, spark.sparkContext)


def test_training_on_a_dataframe_equals_training_on_its_arrays(spark: Any) -> None:
    x, y = arrays()
    frame = spark.createDataFrame(
        [(x[i].tolist(), int(y[i])) for i in range(ROWS)], "features array<float>, label long"
    )

    def model() -> nn.Sequential:
        net = nn.Sequential([nn.Dense(8), nn.ReLU(), nn.Dense(3)], seed=1)
        net.compile(nn.SGD(0.1), "softmax_cross_entropy")
        return net

    local = model()
    local.fit(x, y, epochs=2, batch_size=30, verbose=0, seed=2)
    distributed = model()
    fit_spark(distributed, frame, epochs=2, batch_size=30, verbose=0, seed=2, partitions=2, spark=spark)
    np.testing.assert_allclose(distributed.flat_params, local.flat_params, rtol=1e-4, atol=1e-5)


def test_bad_sources_say_what_to_give(spark: Any, tmp_path: Path) -> None:
    sc = spark.sparkContext
    with pytest.raises(InputError, match="give the labels"):
        prepare(np.zeros((4, 2)), None, sc)
    with pytest.raises(InputError, match="no such data"):
        prepare(tmp_path / "absent", None, sc)
    frame = spark.createDataFrame([([1.0], 0)], "pixels array<float>, label long")
    with pytest.raises(InputError, match="no column"):
        prepare(frame, None, sc)
    with pytest.raises(InputError, match="cannot train on a dict"):
        prepare({"x": 1}, None, sc)
