"""``sudoless nn train --deploy-mode ... --driver-* --dry-run``: a run handed to spark-submit, and the YARN
configuration check; through the installed script, as users run it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SUDOLESS = Path(sys.executable).with_name("sudoless")
DRIVER = REPO / "src" / "sudoless" / "nn" / "spark" / "driver.py"
EXECUTOR_PYTHON = "./environment/bin/python"


def sudoless(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("HADOOP_CONF_DIR", "YARN_CONF_DIR")}
    merged = {**base, "SUDOLESS_HOME": str(home), "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([str(SUDOLESS), *args], env=merged, capture_output=True, text=True, timeout=timeout, cwd=home)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A folder with the seed command's inputs: a config, an environment archive and a Hadoop conf folder."""
    (tmp_path / "hadoop").mkdir()
    (tmp_path / "env.tar.gz").write_bytes(b"an archive from sudoless pack")
    (tmp_path / "digits.yaml").write_text((REPO / "examples" / "nn" / "xor.yaml").read_text())
    return tmp_path


SEED = [
    "nn",
    "train",
    "digits.yaml",
    "--master",
    "yarn",
    "--deploy-mode",
    "cluster",
    "--driver-cores",
    "2",
    "--driver-memory",
    "4g",
    "--executor-cores",
    "1",
    "--num-executors",
    "128",
    "--executor-memory",
    "4g",
    "--archive",
    "env.tar.gz",
]


def test_the_seed_yarn_command_dry_run_flag_for_flag(seed: Path) -> None:
    done = sudoless(seed, *SEED, "--dry-run", env={"HADOOP_CONF_DIR": str(seed / "hadoop")})
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout)
    assert argv[0].endswith("/bin/spark-submit")
    assert argv[1:] == [
        "--master",
        "yarn",
        "--deploy-mode",
        "cluster",
        "--name",
        "sudoless-nn-xor",
        "--driver-memory",
        "4g",
        "--driver-cores",
        "2",
        "--executor-memory",
        "4g",
        "--executor-cores",
        "1",
        "--num-executors",
        "128",
        "--files",
        str(seed / "digits.yaml"),
        "--archives",
        f"{seed / 'env.tar.gz'}#environment",
        "--conf",
        f"spark.pyspark.python={EXECUTOR_PYTHON}",
        "--conf",
        f"spark.executorEnv.PYSPARK_PYTHON={EXECUTOR_PYTHON}",
        "--conf",
        f"spark.pyspark.driver.python={EXECUTOR_PYTHON}",
        "--conf",
        f"spark.yarn.appMasterEnv.PYSPARK_PYTHON={EXECUTOR_PYTHON}",
        str(DRIVER),
        # the driver trains in-process with the same cluster options, reading the config --files shipped
        "digits.yaml",
        "--master",
        "yarn",
        "--num-executors",
        "128",
        "--executor-cores",
        "1",
        "--executor-memory",
        "4g",
    ]
    as_json = sudoless(seed, *SEED, "--dry-run", "--json", env={"YARN_CONF_DIR": str(seed / "hadoop")})
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {"mode": "spark-submit", "argv": argv}


def test_a_dry_run_without_deploy_options_shows_the_in_process_run(seed: Path) -> None:
    """Without --deploy-mode or --driver-* the real run starts its Spark session in this process, so the dry
    run says that, with the master and conf that session would get, and no spark-submit command."""
    args = ["nn", "train", "digits.yaml", "--master", "yarn", "--num-executors", "4", "--archive", "env.tar.gz"]
    env = {"HADOOP_CONF_DIR": str(seed / "hadoop")}
    done = sudoless(seed, *args, "--dry-run", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("in-process: this process would be the Spark driver (no spark-submit): master yarn")
    assert "  spark.executor.instances=4" in lines and "spark-submit " not in done.stdout
    as_json = sudoless(seed, *args, "--dry-run", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert plan["mode"] == "in-process" and plan["master"] == "yarn" and plan["engine"] == "sync"
    assert plan["app_name"] == "sudoless-nn-xor" and plan["conf"]["spark.executor.instances"] == "4"
    assert plan["conf"]["spark.archives"] == "env.tar.gz#environment"
    assert not (seed / "nn").exists()  # nothing trained
    # checked as the run would be: YARN without its configuration is refused here too
    refused = sudoless(seed, *args, "--dry-run")
    assert refused.returncode == 2 and "needs HADOOP_CONF_DIR" in refused.stderr


def test_client_mode_keeps_the_driver_here(seed: Path) -> None:
    args = [a if a != "cluster" else "client" for a in SEED]
    done = sudoless(
        seed, *args, "-o", "run", "--epochs", "3", "--dry-run", env={"HADOOP_CONF_DIR": str(seed / "hadoop")}
    )
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout)
    assert "--files" not in argv
    confs = [argv[i + 1] for i, item in enumerate(argv) if item == "--conf"]
    assert f"spark.pyspark.driver.python={sys.executable}" in confs
    tail = argv[argv.index(str(DRIVER)) + 1 :]
    assert tail[:5] == [str(seed / "digits.yaml"), "--output", str(seed / "run"), "--epochs", "3"]


@pytest.mark.parametrize("placement", [[], ["--deploy-mode", "cluster", "--dry-run"]], ids=["in-process", "submit"])
def test_yarn_without_hadoop_configuration_is_one_line(seed: Path, placement: list[str]) -> None:
    done = sudoless(seed, "nn", "train", "digits.yaml", "--master", "yarn", *placement)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "sudoless: --master yarn needs HADOOP_CONF_DIR (or YARN_CONF_DIR) set to the folder holding the cluster's "
        "core-site.xml and yarn-site.xml; ask the cluster's admins, or copy it from an edge node"
    ]


def test_a_hadoop_configuration_that_is_not_a_folder_is_one_line(seed: Path) -> None:
    done = sudoless(seed, *SEED, "--dry-run", env={"HADOOP_CONF_DIR": str(seed / "nowhere")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"sudoless: HADOOP_CONF_DIR={seed / 'nowhere'} is not a folder; point it at the folder holding yarn-site.xml"
    ]


def test_deploy_options_need_a_spark_run(seed: Path) -> None:
    done = sudoless(seed, "nn", "train", "digits.yaml", "--driver-memory", "2g")
    assert done.returncode == 2
    assert "need a Spark run: give --master" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_client_mode_run_goes_through_spark_submit(seed: Path) -> None:
    """A real run: spark-submit starts the driver, which trains on local[2] and writes the run folder; the
    run's JSON document reaches stdout whole although Spark merges the driver's stderr into its stdout."""
    done = sudoless(
        seed,
        "nn",
        "train",
        "digits.yaml",
        "--master",
        "local[2]",
        "--deploy-mode",
        "client",
        "--driver-memory",
        "1g",
        "--epochs",
        "20",
        "-o",
        "run",
        "--json",
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["output"] == str(seed / "run") and report["epochs"] == 20
    assert (seed / "run" / "weights.npz").is_file()
    assert "SparkContext" in done.stderr  # Spark's log went to stderr, beside the driver's own
