"""The platform demo (examples/platform-demo), run as `./dev demo` runs it, with the real job types, in a home of
its own: the quick flow breaks the cipher, plans a valid dispatch with its map and trains the network; the spark
flow packs an environment and runs a PySpark app on it (about 40 s here)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from sudoless.config import Settings, load_settings
from sudoless.routing import check, read_problem, read_solution
from sudoless.store import Store, open_store
from sudoless.store.status import Status
from support.services import unavailable

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: what letter.txt says (it was enciphered from this with `sudoless encipher --seed 7`)
PLAINTEXT = """\
The night train left the valley at nine, and by the time the lamps were lit in the dining car most of the
passengers had forgotten where they were going. A young doctor read a letter twice and folded it into his
coat. Two sisters argued quietly about a house they had not seen in twenty years. Outside, the river kept
pace with them for a while and then turned away into the dark.
"""


def _load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_platform_demo", EXAMPLES / "run_platform_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Store, Settings]]:
    """A fresh SUDOLESS_HOME, seen by the jobs too, and this venv's commands first on PATH (as `./dev demo`)."""
    monkeypatch.setenv("SUDOLESS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SUDOLESS_DB", raising=False)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    settings = load_settings()
    store = open_store(settings.database_url)
    yield store, settings
    store.close()


def test_quick_flow_breaks_the_cipher_plans_the_dispatch_and_trains(home: tuple[Store, Settings]) -> None:
    store, settings = home
    run = demo.run_quick(store, settings, "demo")
    assert run.status == Status.SUCCEEDED, run.jobs
    assert run.jobs == {name: Status.SUCCEEDED for name in ("decipher", "dispatch", "train", "summary")}

    assert run.outputs["decipher"]["plaintext"] == PLAINTEXT
    assert (run.workdir / "out" / "letter.plain.txt").read_text() == PLAINTEXT

    # The plan, read back from its file and checked against the deliveries independently of the solver.
    problem = read_problem(
        EXAMPLES / "platform-demo" / "deliveries.csv", dispatchers=3, objective="makespan", min_stops=1
    )
    routes = read_solution(run.workdir / "out" / "plan.json", problem)
    report = check(problem, routes)
    assert report.feasible, report.violations
    assert sorted(stop for route in routes for stop in route) == list(range(1, 25))  # each of the 24 deliveries once
    assert len([r for r in routes if r]) == 3 and run.outputs["dispatch"]["routes"] == "3"
    assert float(run.outputs["dispatch"]["makespan"]) == pytest.approx(report.makespan, rel=1e-4)
    png = (run.workdir / "out" / "routes.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000

    metrics = json.loads((run.workdir / "out" / "network" / "metrics.json").read_text())
    assert metrics["metrics"]["accuracy"] == 1.0 and float(run.outputs["train"]["accuracy"]) == 1.0

    summary = store.logs.read(run.exec_id, "summary", 0, 0, 1 << 20).decode()
    assert "cipher broken with confidence 1.000; 3 routes" in summary and "XOR network accuracy 1" in summary
    assert PLAINTEXT.splitlines()[-1] in summary
    lines = demo.summary(run)
    assert lines[0] == f"execution {run.exec_id}: flow workloads SUCCEEDED" and "routes.png" in lines[2]


def test_spark_flow_packs_the_environment_and_runs_the_app_on_it(home: tuple[Store, Settings]) -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        unavailable("pyspark is not installed (pip install 'sudoless[spark]')")
    store, settings = home
    demo.upload_demo(store, settings, "demo")
    run = demo.run_flow(store, settings, "spark", "demo")
    log = store.logs.read(run.exec_id, "wordcount", 0, 0, 1 << 30).decode()
    assert run.status == Status.SUCCEEDED, (run.jobs, log[-3000:])
    assert (run.workdir / "out" / "env.tar.gz").stat().st_size > 100_000
    words = [line.split()[1:] for line in log.splitlines() if line.startswith("WORD ")]
    assert words[:3] == [["the", "28"], ["and", "12"], ["a", "10"]] and len(words) == 8
    assert "RESULT 232 words" in log
    # The executors' Python and the textstats package both come from the packed archive, unpacked in the home.
    unpacked = str(settings.home / "spark" / "unpacked")
    executors = [line.split() for line in log.splitlines() if line.startswith("EXECUTOR ")]
    assert executors and all(row[2].startswith(unpacked) and row[4].startswith(unpacked) for row in executors)
