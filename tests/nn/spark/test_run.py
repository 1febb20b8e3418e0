"""The ``spark:`` section of a run config and the command-line options that override it (no Spark needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sudoless.cli import run
from sudoless.errors import InputError
from sudoless.nn.spark.run import spark_training

BASE = {"name": "d", "data": {"source": "xor"}, "model": ["ReLU"], "_file": "run.yaml"}


def test_no_section_and_no_master_is_a_local_run() -> None:
    assert spark_training(dict(BASE)) is None
    assert spark_training(dict(BASE), {"master": None, "engine": "barrier"}) is None


def test_section_and_overrides_merge() -> None:
    config = {
        **BASE,
        "spark": {
            "master": "yarn",
            "engine": "average",
            "num_executors": 128,
            "executor_cores": 1,
            "executor_memory": "4g",
            "sync_every": 16,
            "conf": {"spark.network.timeout": "300s"},
        },
    }
    training = spark_training(config, {"num_executors": 64, "engine": None})
    assert training is not None
    assert training.engine == "average" and training.sync_every == 16
    conf = training.options.spark_conf()
    assert conf["spark.executor.instances"] == "64" and conf["spark.cores.max"] == "64"
    assert conf["spark.executor.memory"] == "4g" and conf["spark.network.timeout"] == "300s"
    assert conf["spark.dynamicAllocation.enabled"] == "false"


def test_bad_sections_name_the_file_and_key() -> None:
    with pytest.raises(InputError, match="run.yaml: unknown spark key"):
        spark_training({**BASE, "spark": {"masterr": "yarn"}})
    with pytest.raises(InputError, match="spark.engine must be"):
        spark_training({**BASE, "spark": {"engine": "hogwild"}})


def test_cli_rejects_a_bad_spark_section_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        yaml.safe_dump({"name": "x", "data": {"source": "xor"}, "model": ["ReLU"], "spark": {"engine": "hogwild"}})
    )
    # run() is where the CLI turns an error into its exit code and one line (as the installed script does)
    assert run(["nn", "train", str(config), "--json"]) == 2
    err = capsys.readouterr().err
    assert "spark.engine must be" in err and "Traceback" not in err and err.count("\n") == 1
