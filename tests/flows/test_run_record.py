"""What a run leaves behind, pinned: the job rows, the logs and the ``.jobs`` files of a six-job chain and of a
fan-out, compared with a recorded copy apart from what differs between two runs (times, pids, paths, ids).

The runner's hot path is reworked for speed from time to time (how jobs are handed between its threads, when
their files are prepared, how rows are batched); none of that may change what a run records. A change that
means to change the record updates ``tests/fixtures/run_record.json`` with the copy this test writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flows.harness import Outcome, run_flow, write_project
from sudoless.config import Settings
from sudoless.store import Store
from sudoless.store.status import Status

RECORDED = Path(__file__).parent.parent / "fixtures" / "run_record.json"
#: Azkaban's log stamp, ``dd-MM-yyyy HH:mm:ss``
_STAMP = re.compile(r"^\d\d-\d\d-\d{4} \d\d:\d\d:\d\d ", re.MULTILINE)
#: properties whose values are the run's own: its ids, its start, its project's name and dates
_OWN = re.compile(r"^azkaban\.flow\.(execid|projectid|projectname|projectlastchangeddate|uuid|start\..*)$")

CHAIN = {
    "a.job": "type=command\ncommand=true\n",
    "b.job": "type=command\ncommand=sh -c 'sleep 0.3; echo slept; echo to-stderr >&2'\ndependencies=a\n",
    "c.job": "type=command\ncommand=echo one\ncommand.1=echo two\ndependencies=b\n",
    "d.job": "type=command\ncommand=sh out.sh\ndependencies=c\n",
    "e.job": "type=command\ncommand=echo got ${k}\ndependencies=d\n",
    "f.job": "type=noop\ndependencies=e\n",
    "out.sh": 'printf \'{"k": "v", "n": 3}\' > "$JOB_OUTPUT_PROP_FILE"\n',
}
FAN_OUT = {
    "root.job": "type=command\ncommand=true\n",
    **{f"m{i}.job": f"type=command\ncommand=echo middle {i}\ndependencies=root\n" for i in range(1, 6)},
    "end.job": "type=command\ncommand=true\ndependencies=" + ",".join(f"m{i}" for i in range(1, 6)) + "\n",
}


def record(outcome: Outcome, settings: Settings) -> dict[str, Any]:
    """The run's rows, logs and files, with what differs between two runs replaced by a name."""
    workdir = str(outcome.workdir)

    def text(value: str) -> str:
        value = value.replace(workdir, "<workdir>").replace(str(settings.home), "<home>")
        value = value.replace(f"execution {outcome.exec_id} ", "execution <id> ")
        return _STAMP.sub("<time> ", value)

    rows = []
    for run in outcome.store.job_runs.of(outcome.exec_id):
        rows.append(
            {
                "job": run.nested_id,
                "attempt": run.attempt,
                "type": run.type,
                "status": run.status.value,
                "started": run.start_time > 0,
                "ended": run.end_time > 0,
                "in order": 0 < run.start_time <= run.end_time,
                "parents": run.parents,
                "condition": run.condition,
                "pid": run.pid is not None and run.pid > 0,
                "host": run.host is not None,
                "output_props": run.output_props,
            }
        )
    flow_log = re.sub(r"in project \S+ ", "in project <project> ", text(outcome.log("")))
    flow_log = re.sub(r"parallel \d+\)", "parallel <n>)", flow_log)
    files: dict[str, Any] = {}
    for path in sorted((outcome.workdir / ".jobs").iterdir()):
        content = path.read_text()
        if path.suffix == ".props":
            props = dict(line.split("=", 1) for line in content.splitlines())
            files[path.name] = {k: "<own>" if _OWN.match(k) else text(v) for k, v in sorted(props.items())}
        else:
            files[path.name] = text(content)
    return {
        "status": outcome.status.value,
        "rows": rows,
        "flow log": flow_log,
        "job logs": {job: text(outcome.log(job)) for job in sorted(outcome.jobs)},
        "files": files,
    }


@pytest.mark.parametrize("parallel", [2, 10])
def test_a_chain_and_a_fan_out_record_what_they_always_recorded(
    store: Store, settings: Settings, tmp_path: Path, parallel: int
) -> None:
    chain = run_flow(store, settings, write_project(tmp_path / "chain", CHAIN), "f", parallel=parallel)
    fan_out = run_flow(store, settings, write_project(tmp_path / "fan", FAN_OUT), "end", parallel=parallel)
    assert chain.status == fan_out.status == Status.SUCCEEDED
    for outcome in (chain, fan_out):  # what a runner starting the execution again would take from its rows
        runs = outcome.store.job_runs.of(outcome.exec_id)
        expected = [(run.nested_id, run.attempt, run.status) for run in runs]
        assert outcome.store.job_runs.attempt_statuses(outcome.exec_id) == expected
    seen = {"chain": record(chain, settings), "fan-out": record(fan_out, settings)}
    recorded = json.loads(RECORDED.read_text())
    if seen != recorded:
        copy = tmp_path / "run_record.json"
        copy.write_text(json.dumps(seen, indent=1, sort_keys=True) + "\n")
        assert seen == recorded, f"the run's record changed; this run's is {copy}"
