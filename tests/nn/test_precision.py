"""Precision and threads: supported dtypes, float32 sigmoid tails, clipped probability cross-entropy, BLAS threads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from nn.test_cli import assert_one_line_error, sudoless, write
from sudoless import nn
from sudoless.errors import InputError
from sudoless.nn.threads import blas_threads, set_threads


@pytest.mark.parametrize("dtype", ["float16", "int32", "complex64"])
def test_compile_refuses_dtypes_other_than_float32_and_float64(dtype: str) -> None:
    model = nn.Sequential([nn.Dense(2)], dtype=dtype)
    with pytest.raises(InputError, match=f"dtype {dtype} is not supported; use float32"):
        model.compile("adam", "mse")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compile_accepts_float32_and_float64(dtype: str) -> None:
    model = nn.Sequential([nn.Dense(2)], dtype=dtype).compile("adam", "mse")
    assert model.predict(np.ones((3, 4))).dtype == np.dtype(dtype)


def test_float16_config_is_one_line_error(tmp_path: Path) -> None:
    config = write(
        tmp_path / "half.yaml",
        {
            "name": "half",
            "dtype": "float16",
            "data": {"source": "xor"},
            "model": [{"Dense": {"units": 2}}],
            "training": {"epochs": 1},
        },
    )
    assert_one_line_error(sudoless(tmp_path, "nn", "train", str(config)), "half.yaml", "dtype float16")


def test_float32_sigmoid_keeps_both_tails() -> None:
    """σ(-20) ≈ 2.06e-9 in float32, not 0; the whole range agrees with float64 to float32 precision."""
    x = np.linspace(-80, 80, 3201).astype(np.float32).astype(np.float64)
    exact = 1 / (1 + np.exp(-x))
    got = nn.Sigmoid().forward(x.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, exact, rtol=1e-6, atol=0)
    assert got[np.searchsorted(x, -20)] == pytest.approx(2.0611536e-9, rel=1e-6)
    with np.errstate(all="raise", under="ignore"):  # exp(-x) overflowing far in the tail is expected
        np.testing.assert_array_equal(nn.Sigmoid().forward(np.array([-1e4, -100, 100, 1e4], np.float32)), [0, 0, 1, 1])
    in_place = x.astype(np.float32)
    assert nn.layers.sigmoid(in_place, out=in_place) is in_place
    np.testing.assert_allclose(in_place, exact, rtol=1e-6)


def test_binary_cross_entropy_on_logits_is_accurate_in_float32_tails() -> None:
    loss = nn.BinaryCrossEntropy()
    loss.forward(np.array([[-20.0, 20.0]], np.float32), np.array([[1.0, 0.0]]))
    grad = loss.backward()
    np.testing.assert_allclose(grad, [[(2.0611536e-9 - 1) / 2, (1 - 2.0611536e-9) / 2]], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_at_a_zero_probability_is_finite(dtype: type) -> None:
    """A probability of exactly 0 on the true class: loss -log(1e-7), gradient zero there (clipped), not -1e12."""
    loss = nn.CrossEntropy()
    probs = np.array([[0.0, 1.0], [0.25, 0.75]], dtype)
    value = loss.forward(probs, np.array([0, 1]))
    assert value == pytest.approx((-np.log(1e-7) - np.log(0.75)) / 2, rel=1e-5)
    grad = loss.backward()
    assert grad.dtype == dtype and np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [[0.0, 0.0], [0.0, -1 / 0.75 / 2]], rtol=1e-6)


def test_set_threads_changes_the_loaded_blas_and_refuses_nonsense() -> None:
    try:
        assert set_threads(2) == 2
        assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == {2}
        assert blas_threads() == 2
    finally:
        set_threads(1)
    assert blas_threads() == 1
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(InputError, match="threads must be a whole number"):
            set_threads(bad)  # type: ignore[arg-type]


def thread_config(tmp_path: Path, **extra: object) -> Path:
    model = [{"Dense": {"units": 4, "activation": "tanh"}}, {"Dense": {"units": 2}}]
    return write(
        tmp_path / "xor.yaml",
        {"name": "xor", "data": {"source": "xor"}, **extra, "model": model, "training": {"epochs": 2, "batch_size": 4}},
    )


@pytest.mark.parametrize(
    ("extra", "args", "expected"),
    [
        ({}, (), 1),
        ({"threads": 2}, (), 2),
        ({"threads": 2}, ("--threads", "3"), 3),
    ],
    ids=["default", "config", "option-wins"],
)
def test_cli_threads_from_config_and_option(tmp_path: Path, extra: dict, args: tuple, expected: int) -> None:
    """What the loaded BLAS reports while training, from a real `sudoless nn train` (environment says 1)."""
    result = sudoless(
        tmp_path, "nn", "train", str(thread_config(tmp_path, **extra)), "-o", str(tmp_path / "run"), "--json", *args
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["threads"] == expected


def test_cli_bad_threads_in_config(tmp_path: Path) -> None:
    result = sudoless(tmp_path, "nn", "train", str(thread_config(tmp_path, threads=0)))
    assert_one_line_error(result, "xor.yaml", "threads", "at least 1")


def test_spark_workers_use_the_drivers_thread_count() -> None:
    """ModelSpec carries the driver's count; a worker building its replica applies it (here in-process)."""
    from sudoless.nn.spark.replica import ModelSpec

    model = nn.Sequential([nn.Dense(2)]).compile("sgd", "mse")
    model.build((3,))
    try:
        set_threads(2)
        spec = ModelSpec.of(model)
        assert spec.threads == 2
        set_threads(1)
        spec.build()
        assert blas_threads() == 2
    finally:
        set_threads(1)
