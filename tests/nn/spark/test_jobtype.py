"""The ``nn`` flow job type: a config trained in a child process, locally and on Spark in local mode."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from sudoless.flows.jobtypes import JobContext, job_type

CONFIG = {
    "name": "xor-job",
    "seed": 0,
    "data": {"source": "xor"},
    "model": [{"Dense": {"units": 8}}, "Tanh", {"Dense": {"units": 2}}],
    "metrics": ["accuracy"],
    "optimizer": {"name": "adam", "learning_rate": 0.05},
    "training": {"epochs": 40, "batch_size": 4},
}


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.data = bytearray()

    def line(self, message: str, level: str = "INFO") -> None:
        self.lines.append((level, message))

    def write(self, data: bytes) -> None:
        self.data += data

    def flush_if_due(self) -> None: ...


def context(tmp_path: Path, props: dict[str, str]) -> JobContext:
    return JobContext(
        job_id="train",
        attempt=1,
        props=props,
        workdir=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log=Log(),
        cancel=threading.Event(),
        output_file=tmp_path / "out.json",
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("master", ["", "local[2]"])
def test_nn_job_trains_and_reports_metrics(tmp_path: Path, master: str) -> None:
    (tmp_path / "xor.yaml").write_text(yaml.safe_dump(CONFIG))
    props = {"config": "xor.yaml", "epochs": "60"}
    if master:
        # XOR is one batch: one Spark job per epoch with the sync engine.
        props.update({"spark.master": master, "spark.engine": "sync", "spark.partitions": "2"})
    ctx = context(tmp_path, props)
    result = job_type("nn").run(ctx)
    assert result.succeeded, (result.message, bytes(ctx.log.data)[-2000:])  # type: ignore[attr-defined]
    assert Path(result.outputs["output"]) == tmp_path / "nn-runs" / "train"
    assert (tmp_path / "nn-runs" / "train" / "weights.npz").exists()
    assert int(result.outputs["epochs"]) == int(props["epochs"])
    assert float(result.outputs["loss"]) < 0.69  # below chance (ln 2) on XOR


def test_nn_job_without_a_config_fails_with_the_reason(tmp_path: Path) -> None:
    result = job_type("nn").run(context(tmp_path, {}))
    assert not result.succeeded and "config" in result.message
    (tmp_path / "bad.yaml").write_text("name: x\n")
    failed = job_type("nn").run(context(tmp_path, {"config": "bad.yaml"}))
    assert not failed.succeeded and "exit code 2" in failed.message
