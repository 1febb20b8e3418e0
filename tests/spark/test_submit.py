"""``sudoless spark submit`` on the session's two-worker standalone cluster: an executor-side import of a
package that only the shipped env holds works with the env and fails without it."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from spark.support import QUICK_CONF

pytestmark = pytest.mark.slow


def submit(
    home: Path, *args: str, quick: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``sudoless spark submit ARGS``; ``env`` replaces the Hadoop configuration variables of this process."""
    base = {k: v for k, v in os.environ.items() if k not in ("HADOOP_CONF_DIR", "YARN_CONF_DIR")}
    conf = [item for key, value in QUICK_CONF.items() for item in ("--conf", f"{key}={value}")] if quick else []
    return subprocess.run(
        [sys.executable, "-c", "from sudoless.cli import main; main()", "spark", "submit", *args, *conf],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**base, **(env or {}), "SUDOLESS_HOME": str(home)},
    )


def results(output: str) -> list[list[str]]:
    return [line.split()[1:] for line in output.splitlines() if line.startswith("RESULT ")]


def test_executors_import_from_the_shipped_venv(
    spark_cluster: str, marker_venv: Path, marker_app: Path, tmp_path: Path
) -> None:
    done = submit(tmp_path, str(marker_app), "--master", spark_cluster, "--venv", str(marker_venv))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = results(done.stdout)
    assert len(rows) == 2 and {row[0] for row in rows} == {"42"}
    for _, executable, cwd in rows:  # each executor runs the unpacked copy in its own work folder
        assert executable == f"{cwd}/environment/bin/python" and "/app-" in cwd
    assert list((tmp_path / "spark" / "archives").glob("env-*.tar.gz")), "the packed venv is cached"


def test_without_the_env_the_executors_cannot_import_it(spark_cluster: str, marker_app: Path, tmp_path: Path) -> None:
    done = submit(tmp_path, str(marker_app), "--master", spark_cluster)
    assert done.returncode != 0
    assert not results(done.stdout)
    assert "No module named 'sudoless_marker'" in done.stdout + done.stderr


def test_usage_errors_exit_2(marker_app: Path, tmp_path: Path) -> None:
    done = submit(tmp_path, str(marker_app), "--master", "spark://127.0.0.1:7077", "--deploy-mode", "cluster")
    assert done.returncode == 2 and "cluster mode" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = submit(tmp_path, str(tmp_path / "missing.py"))
    assert done.returncode == 2 and "no such application file" in done.stderr


def test_the_seed_command_has_a_direct_equivalent(marker_venv: Path, marker_app: Path, tmp_path: Path) -> None:
    done = submit(
        tmp_path,
        str(marker_app),
        "--master",
        "yarn",
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
        "--venv",
        str(marker_venv),
        "--dry-run",
        "--",
        "--app-flag",
        quick=False,
        env={"HADOOP_CONF_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout)
    pairs = dict(zip(argv[1::2], argv[2::2], strict=False))
    assert pairs["--master"] == "yarn" and pairs["--num-executors"] == "128" and pairs["--driver-cores"] == "2"
    assert pairs["--driver-memory"] == "4g" and pairs["--executor-memory"] == "4g"
    archive = argv[argv.index("--archives") + 1]
    assert archive.endswith(".tar.gz#environment") and Path(archive.split("#")[0]).is_file()
    confs = [argv[i + 1] for i, item in enumerate(argv) if item == "--conf"]
    assert "spark.pyspark.python=./environment/bin/python" in confs
    assert f"spark.pyspark.driver.python={marker_venv}/bin/python" in confs
    assert argv[-2:] == [str(marker_app), "--app-flag"]


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["run", "dry-run"])
def test_yarn_without_hadoop_configuration_is_one_line(marker_app: Path, tmp_path: Path, dry_run: list[str]) -> None:
    """Refused before any JVM starts (Spark would fail deep in its start-up with a Java trace), as nn train does."""
    done = submit(tmp_path, str(marker_app), "--master", "yarn", *dry_run, quick=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "sudoless: --master yarn needs HADOOP_CONF_DIR (or YARN_CONF_DIR) set to the folder holding the cluster's "
        "core-site.xml and yarn-site.xml; ask the cluster's admins, or copy it from an edge node"
    ]
    assert done.stdout == "" and not (tmp_path / "spark").exists()  # nothing packed, nothing started
    missing = submit(tmp_path, str(marker_app), "--master", "yarn", quick=False, env={"YARN_CONF_DIR": "/nowhere"})
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        == "sudoless: YARN_CONF_DIR=/nowhere is not a folder; point it at the folder holding yarn-site.xml"
    )


def test_cluster_stop_without_a_cluster(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from sudoless.cli import main; main()", "spark", "cluster", "stop"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SUDOLESS_HOME": str(tmp_path)},
    )
    assert done.returncode == 0 and "no Spark cluster was running" in done.stdout
