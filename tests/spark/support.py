"""What the Spark tests share: the marker package, the app that imports it on the executors, quick settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MARKER_CODE = 'VALUE = 42\n\n\ndef main():\n    print("marker", VALUE)\n'

#: the app: one task per worker imports the marker package and reports where its python lives.
APP = """
import sys

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("sudoless-marker-test").getOrCreate()


def probe(_):
    import os
    import sys

    import sudoless_marker

    yield (sudoless_marker.VALUE, sys.executable, os.getcwd())


print("DRIVER", sys.executable, flush=True)
rows = spark.sparkContext.parallelize(range(2), 2).mapPartitions(probe).collect()
for value, executable, cwd in rows:
    # One write a line: Spark runs the driver with PYTHONUNBUFFERED, so print's pieces would be separate writes,
    # and the JVM, which relays them to the same pipe as its own log, can put a log line between two of them.
    sys.stdout.write(f"RESULT {value} {executable} {cwd}\\n")
    sys.stdout.flush()
spark.stop()
sys.exit(0 if len(rows) == 2 else 3)
"""

#: settings that keep a test app small on a loaded machine: small executors, no UI, fail on the first error.
QUICK_CONF = {
    "spark.executor.memory": "512m",
    "spark.ui.enabled": "false",
    "spark.task.maxFailures": "1",
    "spark.ui.showConsoleProgress": "false",
}


def base_python() -> str:
    """The interpreter venvs are made from: the one under this test run's venv."""
    return getattr(sys, "_base_executable", sys.executable)


def unpack(archive: Path, into: Path) -> Path:
    """Unpack as Spark does (the archive's content becomes ``into/environment``)."""
    target = into / "environment"
    target.mkdir(parents=True)
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(target)], check=True, timeout=300)
    return target


def sudoless_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``sudoless ARGS`` in a subprocess of this interpreter with its own SUDOLESS_HOME, whatever its exit code."""
    return subprocess.run(
        [sys.executable, "-c", "from sudoless.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "SUDOLESS_HOME": str(home)},
    )
