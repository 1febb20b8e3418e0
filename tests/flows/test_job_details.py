"""A job's details as the UI's panel shows them: properties resolved through the same layers a run uses,
secrets masked (also where a substitution copied them), place in the flow, and the recent attempts."""

from __future__ import annotations

import pytest

from flows.harness import run_flow, write_project
from sudoless.errors import NotFoundError
from sudoless.flows.formats.substitution import resolve_known
from sudoless.flows.job_details import MASK, is_secret, job_details, mask_secrets
from sudoless.store.status import Status

FILES = {
    "common.properties": "db.host=db.example\ndb.password=hunter2-long\n",
    "extract.job": (
        'type=command\nsource.host=${db.host}\ncommand=python3 -c "import json, os; '
        "json.dump({'extract.rows': '3'}, open(os.environ['JOB_OUTPUT_PROP_FILE'], 'w'))\"\n"
    ),
    "load.job": (
        "type=command\ndependencies=extract\nregion=eu\n"
        "command=echo load ${region} with ${db.password} after ${extract.rows}\n"
    ),
    "i1.job": "type=noop\n",
    "inner.job": "type=noop\ndependencies=i1\n",
    "sub.job": "type=flow\nflow.name=inner\ndependencies=extract\n",
    "end.job": "type=noop\ndependencies=load,sub\ncondition=all_done\n",
}


def test_secret_keys_are_recognised_and_masked_everywhere() -> None:
    assert all(is_secret(k) for k in ("db.password", "API_TOKEN", "aws.secret", "ssh.key", "mysql.passwd"))
    assert not any(is_secret(k) for k in ("command", "user", "region", "retries"))
    masked = mask_secrets({"api.token": "abcd1234", "command": "curl -H abcd1234 x", "pin": "1"})
    assert masked == {"api.token": MASK, "command": f"curl -H {MASK} x", "pin": "1"}


def test_resolve_known_keeps_what_only_a_run_can_fill_in() -> None:
    resolved, problems = resolve_known({"a": "1", "b": "${a}+$(1 + 1)", "c": "${a} ${later}", "d": "${d}", "e": "${c}"})
    assert resolved == {"a": "1", "b": "1+2", "c": "1 ${later}", "d": "${d}", "e": "1 ${later}"}
    assert sorted(problems) == ["c", "d", "e"] and "later" in problems["c"] and "Circular" in problems["d"]


def test_job_details_resolve_mask_place_and_history(store, settings, tmp_path) -> None:
    project = write_project(tmp_path / "p", FILES)
    first = run_flow(store, settings, project, "end")
    assert first.jobs["load"] == Status.SUCCEEDED
    record = store.executions.get(first.exec_id)
    details = job_details(
        store,
        settings,
        record.project_id,
        record.project_name,
        record.version,
        "end",
        "load",
        runtime={"ROOT": {"region": "us"}, "load": {"extra": "x"}},
    )
    assert details.type == "command"
    # The job's own value beats ROOT's runtime one (layer 4 over 2); the node's runtime one is layer 5.
    assert details.properties["region"] == "eu" and details.properties["extra"] == "x"
    assert details.properties["db.password"] == MASK
    assert details.command == f"echo load eu with {MASK} after ${{extract.rows}}"
    assert "extract.rows" in details.unresolved["command"]
    assert details.parents == ["extract"] and details.children == ["end"]
    assert [r.exec_id for r in details.recent] == [first.exec_id]
    assert details.recent[0].status == Status.SUCCEEDED

    end = job_details(store, settings, record.project_id, record.project_name, record.version, "end", "end")
    assert end.condition == "all_done" and sorted(end.parents) == ["load", "sub"] and end.children == []
    inner = job_details(store, settings, record.project_id, record.project_name, record.version, "end", "sub:inner")
    assert inner.parents == ["sub:i1"] and inner.type == "noop"
    assert [r.nested_id for r in inner.recent] == ["sub:inner"]
    with pytest.raises(NotFoundError, match="no job nope"):
        job_details(store, settings, record.project_id, record.project_name, record.version, "end", "nope")
