"""Disk hygiene for Spark: the archive cache's size cap (least recently used first, never an entry in use),
``sudoless clean``, ``spark cluster stop`` removing the workers' work folders, and ``pack -o x.zip``."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from spark.support import QUICK_CONF, sudoless_cli
from sudoless.clean import clean
from sudoless.cleanable import tree_bytes
from sudoless.config import Settings, load_settings
from sudoless.errors import ConfigError
from sudoless.processes import start_ticks
from sudoless.spark.cache import archives_dir, entries, in_use, mark_used, trim, unpacked_dir
from sudoless.spark.cluster import cluster_dir, start_cluster, stop_cluster, work_dir
from sudoless.spark.pack import pack_env
from sudoless.spark.submit import SubmitSpec, build_command
from support.services import unavailable

TINY_APP = """
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("sudoless-clean-test").getOrCreate()
print("SUM", spark.sparkContext.parallelize(range(10), 1).sum(), flush=True)
spark.stop()
"""


def _tar(path: Path, size: int) -> Path:
    """A small real tar archive of one ``size``-byte file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = path.with_suffix(".payload")
    payload.write_bytes(os.urandom(size))
    with tarfile.open(path, "w:gz") as tar:
        tar.add(payload, arcname="data")
    payload.unlink()
    return path


def _pid_of_finished() -> int:
    """The pid of a process that has ended (and been reaped), so that no process has it."""
    process = subprocess.Popen(["true"])  # noqa: S607
    process.wait()
    return process.pid


def test_trim_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    folder = archives_dir(tmp_path)
    first, second, third = (_tar(folder / f"env-{name}.tar.gz", 20_000) for name in ("a", "b", "c"))
    for age, path in enumerate((first, second, third)):
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    size = first.stat().st_size
    mark_used(first)  # used now: the newest, so the second is the oldest
    assert [entry.path for entry in entries(tmp_path)] == [second, third, first]
    removed = trim(tmp_path, 2 * size + 100)
    assert [entry.path for entry in removed] == [second]
    assert first.is_file() and third.is_file() and not second.exists()


def test_trim_never_removes_kept_or_held_entries(tmp_path: Path) -> None:
    archive = _tar(archives_dir(tmp_path) / "env-a.tar.gz", 5_000)
    unpacked = unpacked_dir(tmp_path) / "0123abcd"
    (unpacked / "bin").mkdir(parents=True)
    (unpacked / "bin" / "python").write_bytes(b"x" * 50_000)
    dead = unpacked_dir(tmp_path) / f"feed.{_pid_of_finished()}.partial"  # its unpacking process died
    live = unpacked_dir(tmp_path) / f"beef.{os.getpid()}.partial"  # this process is still unpacking it
    for scratch in (dead, live):
        scratch.mkdir()
        (scratch / "half").write_bytes(b"h" * 10)
    with in_use([unpacked]):
        assert trim(tmp_path, 0, keep=[archive]) == []  # over the cap, but both are in use
        report = clean(Settings(home=tmp_path))
        assert {(item.kind, item.path.name, item.removed) for item in report.items} == {
            ("spark-archive", archive.name, True),
            ("spark-unpacked", unpacked.name, False),
            ("spark-scratch", dead.name, True),
        }
    assert not archive.exists() and unpacked.is_dir() and not dead.exists() and live.is_dir()
    live.rename(unpacked_dir(tmp_path).parent / "elsewhere")
    assert [entry.path for entry in trim(tmp_path, 0)] == [unpacked] and not unpacked.exists()
    assert not list(unpacked_dir(tmp_path).iterdir()), "no scratch folder is left behind"


def test_the_cap_is_a_setting() -> None:
    assert load_settings({"SUDOLESS_HOME": "/nonexistent", "SUDOLESS_SPARK_CACHE_MB": "300"}).spark_cache_mb == 300
    assert Settings(home=Path("/nonexistent")).spark_cache_mb == 2048
    with pytest.raises(ConfigError, match="spark_cache_mb"):
        load_settings({"SUDOLESS_HOME": "/nonexistent", "SUDOLESS_SPARK_CACHE_MB": "lots"})


def test_packed_and_unpacked_archives_share_the_cap(marker_venv: Path, tmp_path: Path) -> None:
    """Real archives of ``pack_env``: a second packed venv evicts the first from a full cache, and unpacking
    for a local master evicts the older copies, keeping the one the app runs from."""
    home = tmp_path / "home"
    settings = Settings(home=home, spark_cache_mb=0)  # every entry but the one in use is over the cap
    first = pack_env(marker_venv, cache_home=home, cache_cap_bytes=0)
    second = pack_env(marker_venv, exclude=["*.dist-info/RECORD"], cache_home=home, cache_cap_bytes=0)
    assert first.path != second.path and second.path.is_file() and not first.path.exists()

    app = tmp_path / "app.py"
    app.write_text(TINY_APP)
    copies = []
    for name, exclude in (("a", []), ("b", ["*.dist-info/INSTALLER"])):
        archive = pack_env(marker_venv, tmp_path / f"{name}.tar.gz", exclude=exclude).path
        command = build_command(SubmitSpec(app=str(app), master="local[1]", env_archive=archive), settings)
        assert command.cached and command.cached[0].parent == unpacked_dir(home)
        copies.append(command.cached[0])
        assert f"spark.pyspark.python={copies[-1]}/bin/python" in command.argv
    assert copies[0] != copies[1] and not copies[0].exists() and (copies[1] / "bin" / "python").exists()
    assert [entry.path for entry in entries(home)] == [copies[1]]  # the cached archive went too: older


def test_clean_offers_a_stopped_clusters_folders_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    app_folder = work_dir(settings) / "worker-1" / "app-20260101000000-0000" / "0"
    app_folder.mkdir(parents=True)
    (app_folder / "stderr").write_bytes(b"e" * 3000)
    (cluster_dir(settings) / "logs").mkdir()
    (cluster_dir(settings) / "logs" / "master.log").write_bytes(b"m" * 700)
    # a cluster whose recorded daemon is alive (this very process) is running: nothing of it is offered
    (cluster_dir(settings) / "state.json").write_text(
        json.dumps(
            {
                "master_url": "spark://127.0.0.1:1",
                "web_url": "http://127.0.0.1:1",
                "workers": 1,
                "cores": 1,
                "memory": "1g",
                "daemons": [{"role": "master", "pid": os.getpid(), "ticks": start_ticks(os.getpid()), "log": ""}],
            }
        )
    )
    running = sudoless_cli("clean", "--json", home=tmp_path)
    assert running.returncode == 0, running.stderr
    assert json.loads(running.stdout)["items"] == [] and app_folder.is_dir()

    (cluster_dir(settings) / "state.json").unlink()
    dry = sudoless_cli("clean", "--dry-run", home=tmp_path)
    assert dry.returncode == 0 and "would free 3.7 KB" in dry.stdout and app_folder.is_dir()
    done = json.loads(sudoless_cli("clean", "--json", home=tmp_path).stdout)
    assert {item["kind"]: item["bytes"] for item in done["items"]} == {"spark-work": 3000, "spark-logs": 700}
    assert done["freed_bytes"] == 3700 and not work_dir(settings).exists()
    assert sudoless_cli("clean", home=tmp_path).stdout.strip() == "nothing to clean"


def test_pack_to_a_zip_is_one_clear_line(marker_venv: Path, tmp_path: Path) -> None:
    done = sudoless_cli("pack", str(marker_venv), "-o", str(tmp_path / "x.zip"), home=tmp_path / "home")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"sudoless: -o {tmp_path / 'x.zip'}: the output must end in .tar.gz or .tgz (the archives Spark's "
        "--archives unpacks), e.g. -o env.tar.gz"
    ]
    assert list(tmp_path.iterdir()) == [], "nothing written, not even the cache"


@pytest.mark.slow
def test_stop_removes_the_work_folders_and_clean_the_rest(marker_venv: Path, tmp_path: Path) -> None:
    """One real one-worker cluster runs one app shipped with its venv; clean keeps its folders while it runs;
    ``stop --keep-work`` keeps them, ``stop`` removes them and says how much that freed; clean takes the rest."""
    home = tmp_path / "home"
    settings = Settings(home=home)
    try:
        state = start_cluster(settings, workers=1, cores=1, memory="1g")
    except ConfigError as exc:  # no pyspark, or no Java >= 17
        unavailable(f"cannot start a Spark cluster: {exc}")
    try:
        app = tmp_path / "app.py"
        app.write_text(TINY_APP)
        conf = [item for key, value in QUICK_CONF.items() for item in ("--conf", f"{key}={value}")]
        ran = sudoless_cli(
            "spark", "submit", str(app), "--master", state.master_url, "--venv", str(marker_venv), *conf, home=home
        )
        assert ran.returncode == 0 and "SUM 45" in ran.stdout, ran.stdout[-2000:] + ran.stderr[-2000:]
        assert list(work_dir(settings).glob("worker-1/app-*/0/environment/bin/python"))

        offered = json.loads(sudoless_cli("clean", "--dry-run", "--json", home=home).stdout)
        assert {item["kind"] for item in offered["items"]} == {"spark-archive"}, "nothing of the running cluster"

        kept = sudoless_cli("spark", "cluster", "stop", "--keep-work", home=home)
        assert kept.returncode == 0 and "stopped worker-1, master" in kept.stdout and "kept" in kept.stdout
        size = tree_bytes(work_dir(settings))
        assert size > 1_000_000, "the worker's app folder holds the unpacked environment"
    finally:
        stop_cluster(settings, keep_work=True)

    stopped = json.loads(sudoless_cli("spark", "cluster", "stop", "--json", home=home).stdout)
    assert stopped["stopped"] == [] and stopped["freed_bytes"] == size and not list(work_dir(settings).iterdir())
    cleaned = json.loads(sudoless_cli("clean", "--json", home=home).stdout)
    assert {item["kind"] for item in cleaned["items"]} == {"spark-archive", "spark-logs"}
    assert all(item["removed"] for item in cleaned["items"]) and not list(archives_dir(home).glob("*.tar.gz"))
