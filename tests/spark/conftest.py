"""A test venv holding a package that exists nowhere else (``sudoless_marker``), built once per session
from a hand-made wheel without network, and the app that imports it on the executors."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark.support import APP, MARKER_CODE, base_python
from spark.wheels import make_wheel
from support.osuser import run


@pytest.fixture(scope="session")
def marker_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv (from the base interpreter, with pip) with ``sudoless_marker`` and its ``marker`` script."""
    root = tmp_path_factory.mktemp("marker-venv")
    venv = root / "venv"
    run("python -m venv", [base_python(), "-m", "venv", str(venv)], timeout=300)
    wheel = make_wheel(root, "sudoless-marker", "1.0", MARKER_CODE, "marker=sudoless_marker:main")
    run(
        "pip install marker",
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        timeout=300,
    )
    return venv


@pytest.fixture(scope="session")
def marker_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = tmp_path_factory.mktemp("marker-app") / "app.py"
    app.write_text(APP)
    return app
