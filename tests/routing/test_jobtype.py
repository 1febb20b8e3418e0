"""The ``routes`` job type, run the way the flow runner runs a job."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

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


def test_routes_job_plans_a_dispatch_day(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        "id,x,y,demand,window_start,window_end,service,penalty\n"
        "a,10,0,3,08:00,09:00,5,\nb,0,10,3,08:00,10:00,5,\nc,-10,0,3,08:30,10:00,5,\nd,500,500,1,,,,2\n"
    )
    (tmp_path / "vehicles.csv").write_text(
        "id,depot,depot_x,depot_y,capacity,shift_start\nv1,d0,0,0,6,08:00\nv2,d1,1,1,6,08:00\n"
    )
    props = {"orders": "orders.csv", "vehicles": "vehicles.csv", "output": "out/plan.json", "report": "out/plan.html"}
    result = job_type("routes").run(context(tmp_path, props))
    assert result.succeeded, result.message
    assert result.outputs["unserved"] == "1" and result.outputs["vehicles"] == "2"
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert plan["feasible"] and plan["unserved"][0]["id"] == "d"
    assert (tmp_path / "out" / "plan.html").read_text().startswith("<!doctype html>")
    blend = job_type("routes").run(context(tmp_path, {**props, "objective": "blend", "makespan.weight": "0.5"}))
    assert blend.succeeded, blend.message
    planned = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert planned["objective"] == "blend" and planned["makespan_weight"] == 0.5
    assert planned["blend"] == pytest.approx(planned["cost"] + 0.5 * planned["makespan"])
    unknown = job_type("routes").run(context(tmp_path, {**props, "objective": "fastest"}))
    assert not unknown.succeeded and "unknown dispatch objective 'fastest'" in (unknown.message or "")
    mixed = job_type("routes").run(context(tmp_path, {**props, "dispatchers": "2"}))
    assert not mixed.succeeded and "dispatchers applies to an instance" in (mixed.message or "")
    printed = job_type("routes").run(context(tmp_path, {**props, "report": "out/plan.pdf"}))
    assert printed.succeeded and (tmp_path / "out" / "plan.pdf").read_bytes().startswith(b"%PDF-")
    picture = job_type("routes").run(context(tmp_path, {**props, "report": "out/plan.png"}))
    assert not picture.succeeded and "a report is a .html or a .pdf file" in (picture.message or "")
    assert not (tmp_path / "out" / "plan.png").exists()
