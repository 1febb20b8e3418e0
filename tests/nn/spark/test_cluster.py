"""The digits MLP on a two-worker local standalone cluster, and LeNet-5 on local-cluster, reach the accuracy
they reach locally.

The driver runs in a subprocess (``sudoless nn train --master spark://...``), because this test process
already holds the local-mode SparkContext. The barrier engine has single-process semantics, and the model
has no dropout, so the two runs train the same weights up to float summation order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sudoless.nn.runs import load_config, train_run

CONFIG = {
    "name": "digits-cluster",
    "seed": 0,
    "data": {"source": "digits", "validation_fraction": 0.1, "test_fraction": 0.2},
    "model": [{"Dense": {"units": 64}}, "ReLU", {"Dense": {"units": 10}}],
    "loss": "softmax_cross_entropy",
    "metrics": ["accuracy"],
    "optimizer": {"name": "adam", "learning_rate": 0.005},
    "training": {"epochs": 6, "batch_size": 64},
}


@pytest.mark.slow
def test_digits_on_a_standalone_cluster_matches_local_training(spark_cluster: str, tmp_path: Path) -> None:
    config_file = tmp_path / "digits.yaml"
    config_file.write_text(yaml.safe_dump(CONFIG))
    local = train_run(load_config(config_file), output=tmp_path / "local", verbose=0)
    env = {**os.environ, "SUDOLESS_HOME": str(tmp_path / "home"), "OPENBLAS_NUM_THREADS": "1"}
    env.pop("PYSPARK_PYTHON", None)
    command = [
        str(Path(sys.executable).with_name("sudoless")),
        "nn",
        "train",
        str(config_file),
        "--master",
        spark_cluster,
        "--engine",
        "barrier",
        "--partitions",
        "2",
        "--executor-cores",
        "1",
        "--executor-memory",
        "512m",
        "--output",
        str(tmp_path / "cluster"),
        "--json",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=420, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    cluster = json.loads(done.stdout)
    assert cluster["epochs"] == CONFIG["training"]["epochs"]
    assert local.metrics["test_accuracy"] >= 0.9
    assert abs(cluster["metrics"]["test_accuracy"] - local.metrics["test_accuracy"]) <= 0.01, (cluster, local)
    assert abs(cluster["metrics"]["loss"] - local.metrics["loss"]) <= 1e-3


@pytest.mark.slow
def test_lenet5_example_on_local_cluster_matches_local_training(tmp_path: Path) -> None:
    """examples/nn/lenet5.yaml with --engine barrier on local-cluster[2,1,1024]: conv layers on executors train
    the same model as one process (three epochs, identical accuracies)."""
    example = Path(__file__).resolve().parents[3] / "examples" / "nn" / "lenet5.yaml"
    local = train_run(load_config(example), output=tmp_path / "local", epochs=3, verbose=0)
    env = {**os.environ, "SUDOLESS_HOME": str(tmp_path / "home"), "OPENBLAS_NUM_THREADS": "1"}
    env.pop("PYSPARK_PYTHON", None)
    command = [
        str(Path(sys.executable).with_name("sudoless")),
        "nn",
        "train",
        str(example),
        "--master",
        "local-cluster[2,1,1024]",
        "--engine",
        "barrier",
        "--epochs",
        "3",
        "--output",
        str(tmp_path / "cluster"),
        "--json",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=420, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    cluster = json.loads(done.stdout)
    assert local.metrics["test_accuracy"] >= 0.85
    assert abs(cluster["metrics"]["test_accuracy"] - local.metrics["test_accuracy"]) <= 0.01, (cluster, local)
    assert abs(cluster["metrics"]["loss"] - local.metrics["loss"]) <= 1e-3


@pytest.mark.slow
def test_synchronised_batchnorm_on_local_cluster_matches_local_training(tmp_path: Path) -> None:
    """A conv + BatchNormalization model with --engine barrier on local-cluster[2,1,1024]: the executors
    normalise with the global batch's statistics, so the run trains the model one process trains (same loss to
    float32 rounding, same accuracy), and the report carries the per-step timings."""
    config = {
        "name": "conv-bn",
        "seed": 0,
        "threads": 1,
        "data": {"source": "digits", "images": True, "validation_fraction": 0.16, "test_fraction": 0.2},
        "model": [
            {"Conv2D": {"filters": 6, "kernel_size": 3, "padding": "same", "use_bias": False}},
            {"BatchNormalization": {"momentum": 0.9}},
            "ReLU",
            {"MaxPooling2D": {"pool_size": 2}},
            "Flatten",
            {"Dense": {"units": 10}},
        ],
        "loss": "softmax_cross_entropy",
        "metrics": ["accuracy"],
        "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9},
        "training": {"epochs": 3, "batch_size": 64},
    }
    config_file = tmp_path / "conv-bn.yaml"
    config_file.write_text(yaml.safe_dump(config))
    local = train_run(load_config(config_file), output=tmp_path / "local", verbose=0)
    env = {**os.environ, "SUDOLESS_HOME": str(tmp_path / "home"), "OPENBLAS_NUM_THREADS": "1"}
    env.pop("PYSPARK_PYTHON", None)
    command = [
        str(Path(sys.executable).with_name("sudoless")),
        "nn",
        "train",
        str(config_file),
        "--master",
        "local-cluster[2,1,1024]",
        "--engine",
        "barrier",
        "--output",
        str(tmp_path / "cluster"),
        "--json",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=420, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    cluster = json.loads(done.stdout)
    assert local.metrics["test_accuracy"] >= 0.85
    assert abs(cluster["metrics"]["test_accuracy"] - local.metrics["test_accuracy"]) <= 0.01, (cluster, local)
    assert abs(cluster["metrics"]["loss"] - local.metrics["loss"]) <= 1e-4
    assert abs(cluster["metrics"]["val_loss"] - local.metrics["val_loss"]) <= 1e-4  # moving statistics agree
    timings = cluster["timings"]
    assert timings["engine"] == "barrier" and timings["communication_seconds"] > 0
    assert timings["compute_seconds"] + timings["communication_seconds"] + timings["overhead_seconds"] <= (
        timings["total_seconds"] + 0.003
    )
