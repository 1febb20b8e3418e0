"""--with-python for real: an unprivileged OS user who cannot read the interpreter the venv was built with runs
the app on a local standalone cluster (``local-cluster[2,1,1024]``: a master and two workers whose executors
are separate processes in their own work folders), with the driver on the unpacked archive's python too.

Runs only as root (it creates an OS user); CI runs as root. The user gets its own SPARK_HOME (links to the
pyspark jars and scripts, and a ``work/`` folder it can write), because the workers put executor folders there.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from spark.support import QUICK_CONF
from sudoless.config import Settings
from sudoless.spark.cluster import spark_home
from sudoless.spark.pack import pack_env
from sudoless.spark.submit import SubmitSpec, build_command
from support.osuser import User, as_user, created_user, try_as_user
from support.services import unavailable

pytestmark = [pytest.mark.rootless, pytest.mark.slow]

PASSED_ENV = ("JAVA_HOME", "SPARK_SCALA_VERSION", "SPARK_LOCAL_IP", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")


@pytest.fixture
def user() -> Iterator[User]:
    with created_user(prefix="spk") as made:
        yield made


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder root writes and the test user can read (pytest's own temp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="sudoless-spark-user-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_with_python_archive_runs_for_a_user_who_cannot_read_the_build_python(
    user: User, shared_dir: Path, marker_venv: Path, marker_app: Path
) -> None:
    build_python = Path(sys._base_executable if hasattr(sys, "_base_executable") else sys.executable).resolve()
    if try_as_user(user, f"test -r {shlex.quote(str(build_python))}", timeout=60).returncode == 0:
        unavailable(f"the test user can read the build interpreter {build_python}; nothing to prove here")
    if try_as_user(user, f"test -r {shlex.quote(str(spark_home() / 'jars'))}", timeout=60).returncode != 0:
        unavailable(f"the test user cannot read pyspark at {spark_home()}")

    settings = Settings(home=shared_dir / "home")
    portable = pack_env(marker_venv, shared_dir / "portable.tar.gz", with_python=True)
    plain = pack_env(marker_venv, shared_dir / "plain.tar.gz")
    app = shared_dir / "app.py"
    shutil.copyfile(marker_app, app)
    for path in shared_dir.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)

    # The plain archive is what venv-pack gives: it needs the build interpreter, so the user cannot run it.
    refused = try_as_user(
        user,
        f"mkdir -p ~/plain/environment && tar -xzf {plain.path} -C ~/plain/environment && "
        "~/plain/environment/bin/python -c 'import sudoless_marker'",
        timeout=120,
    )
    assert refused.returncode != 0

    driver = user.home / "driver" / "environment" / "bin" / "python"
    overlay = user.home / "spark-home"
    links = " && ".join(
        f"ln -s {shlex.quote(str(spark_home() / name))} ~/spark-home/{name}"
        for name in ("jars", "bin", "python")
        if (spark_home() / name).exists()
    )
    as_user(
        user,
        "unpack the driver's python and make a SPARK_HOME",
        f"mkdir -p ~/driver/environment ~/spark-home/work && tar -xzf {portable.path} -C ~/driver/environment"
        f" && {links}",
        timeout=300,
    )

    spec = SubmitSpec(
        app=str(app),
        master="local-cluster[2,1,1024]",
        env_archive=portable.path,
        driver_python=str(driver),
        conf=QUICK_CONF,
    )
    command = build_command(spec, settings)
    env = {key: command.env[key] for key in PASSED_ENV if key in command.env}
    env["SPARK_HOME"] = str(overlay)
    done = as_user(user, "spark-submit as the user", f"cd ~ && {shlex.join(command.argv)}", timeout=600, env=env)
    rows = [line.split()[1:] for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(rows) == 2 and {row[0] for row in rows} == {"42"}, done.stdout[-3000:] + done.stderr[-3000:]
    for _, executable, cwd in rows:
        assert executable == f"{cwd}/environment/bin/python"
        assert cwd.startswith(os.path.join(overlay, "work", "app-"))  # the worker's app folder
    assert command.argv[command.argv.index("--archives") + 1] == f"{portable.path}#environment"
    assert f"DRIVER {driver}" in done.stdout  # the driver ran on the unpacked archive's python too
