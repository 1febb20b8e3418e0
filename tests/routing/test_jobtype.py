"""The ``routes`` job type, run the way the flow runner runs a job."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from sudoless.flows.jobtypes import JobContext, job_type


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def line(self, message: str, level: str = "INFO") -> None:
        self.lines.append((level, message))


def context(tmp_path: Path, props: dict[str, str]) -> JobContext:
    return JobContext(
        job_id="plan",
        attempt=1,
        props=props,
        workdir=tmp_path,
        env={},
        log=Log(),  # type: ignore[arg-type]
        cancel=threading.Event(),
        output_file=tmp_path / "out.json",
    )


def test_routes_job_writes_the_plan_and_outputs(tmp_path: Path) -> None:
    rows = ["id,x,y", "depot,0,0"] + [f"s{i},{i % 7 * 10},{i // 7 * 10}" for i in range(1, 22)]
    (tmp_path / "stops.csv").write_text("\n".join(rows) + "\n")
    result = job_type("routes").run(
        context(
            tmp_path,
            {
                "input": "stops.csv",
                "dispatchers": "3",
                "objective": "makespan",
                "min.stops": "1",
                "time.limit": "2",
                "output": "out/plan.geojson",
                "plot": "map.png",
            },
        )
    )
    assert result.succeeded, result.message
    features = json.loads((tmp_path / "out" / "plan.geojson").read_text())["features"]
    assert len([f for f in features if f["geometry"]["type"] == "LineString"]) == 3
    assert result.outputs["routes"] == "3" and float(result.outputs["makespan"]) > 0
    assert (tmp_path / "map.png").exists()


def test_routes_job_failures(tmp_path: Path) -> None:
    missing = job_type("routes").run(context(tmp_path, {}))
    assert not missing.succeeded and missing.message == "no input"
    bad = job_type("routes").run(context(tmp_path, {"input": "nope.csv"}))
    assert not bad.succeeded and "nope.csv: no such file" in bad.message
    (tmp_path / "s.csv").write_text("id,x,y\nd,0,0\na,1,1\n")
    wrong = job_type("routes").run(context(tmp_path, {"input": "s.csv", "dispatchers": "two"}))
    assert not wrong.succeeded and "dispatchers='two'" in wrong.message
