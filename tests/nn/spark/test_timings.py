"""Per-step timings of a Spark run: compute, communication and Spark's overhead, in the progress bar's step
logs, in ``nn train --master ... --json`` and in the History; each is non-negative and together they fit in
the wall time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sudoless import nn
from sudoless.cli import run
from sudoless.nn import data
from sudoless.nn.spark import fit_spark

PARTS = ("compute", "communication", "overhead")


class StepLogs(nn.Callback):
    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        self.logs.append(dict(logs))


@pytest.mark.parametrize("engine", ["sync", "barrier"])
def test_step_logs_and_history_split_each_step(spark: object, engine: str) -> None:
    ds = data.digits(seed=0)
    model = nn.Sequential([nn.Dense(16), nn.Tanh(), nn.Dense(10)], seed=0)
    model.compile("adam", "softmax_cross_entropy", ["accuracy"])
    steps = StepLogs()
    history = fit_spark(
        model,
        ds.x_train[:256],
        ds.y_train[:256],
        epochs=2,
        batch_size=64,
        verbose=0,
        callbacks=[steps],
        engine=engine,
        partitions=2,
        spark=spark,
    )
    assert len(steps.logs) == 8
    for logs in steps.logs:
        split = [logs["compute_ms"], logs["comm_ms"], logs["spark_ms"]]
        assert all(value >= 0 for value in split), logs
        assert sum(split) <= logs["step_ms"] * (1 + 1e-9) + 1e-9
    if engine == "barrier":
        assert any(logs["comm_ms"] > 0 for logs in steps.logs)  # the ring all-reduce is measured
    timings = history.timings
    assert all(timings[f"{part}_seconds"] >= 0 for part in PARTS)
    assert sum(timings[f"{part}_seconds"] for part in PARTS) <= timings["total_seconds"] + 0.003
    assert len(history.steps.wall) == 8 and all(w >= 0 for w in history.steps.wall)
    assert "compute_ms" not in history.history  # epoch logs stay fit's


def test_nn_train_json_reports_the_timings(spark: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "timed",
                "seed": 0,
                "data": {"source": "digits", "validation_fraction": 0.1, "test_fraction": 0.2},
                "model": [{"Dense": {"units": 16}}, "ReLU", {"Dense": {"units": 10}}],
                "loss": "softmax_cross_entropy",
                "training": {"epochs": 1, "batch_size": 256},
            }
        )
    )
    capsys.readouterr()
    code = run(
        [
            "nn",
            "train",
            str(config),
            "--master",
            "local[2]",
            "--engine",
            "sync",
            "--output",
            str(tmp_path / "out"),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    timings = report["timings"]
    assert timings["engine"] == "sync" and timings["steps"] >= 1
    assert all(timings[f"{part}_seconds"] >= 0 for part in PARTS)
    assert sum(timings[f"{part}_seconds"] for part in PARTS) <= min(timings["total_seconds"], report["seconds"]) + 0.003
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["timings"] == timings
