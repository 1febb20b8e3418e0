"""Property-based fuzzing of both APIs against the running server: no crash, no stack trace in any answer.

* The JSON API: schemathesis generates requests from ``/api/v1/openapi.json`` for every operation, valid
  (``positive``) and invalid (``negative``) ones, first with random path parameters, then with the ids of
  real objects (a project with runs and a schedule), so that generated bodies reach the library. Answers
  to valid requests must also conform to the document (status, content type, body schema).
* The AJAX API: a Hypothesis strategy posts malformed forms to every route of the servlets' route table:
  each route's own parameters plus random ones, with values that are real ids, huge or negative numbers,
  non-numbers, unicode, very long text, broken JSON (``disabled``), broken cron and period expressions;
  and multipart uploads of random bytes.

The oracle: no 5xx and no Python traceback (``Traceback`` or ``File "``) in any body, with one exception
that is Azkaban's protocol, not a crash: the AJAX API answers HTTP 500 where Azkaban does (reference §1.4:
Jetty's error page for a missing or non-numeric parameter, which the ``azkaban`` client relies on for
logs; ``Installation Failed`` / validator errors for a rejected upload). Those answers have a fixed shape
that an unhandled exception cannot produce (Starlette answers ``Internal Server Error``), and the oracle
accepts exactly those shapes.

Budgets are small (a few examples per operation and route) so the file runs in well under a minute per
database; Hypothesis's example database is off so runs do not depend on each other.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from server.live import HELLO, LiveServer, make_zip, unique
from sudoless.server.app import SERVLETS
from sudoless.server.dispatch import Route, Servlet

TRACE_MARKERS = ("Traceback", 'File "')
JETTY_500 = re.compile(
    r'<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=ISO-8859-1"/>\n'
    r"<title>Error 500 .*</title>\n</head>\n<body><h2>HTTP ERROR 500</h2>\n",
    re.DOTALL,
)
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
UPLOAD_500 = ("Installation Failed.", "Validator Directory Flow reports errors:")
FUZZ_SETTINGS = settings(
    max_examples=5,
    deadline=None,
    database=None,
    derandomize=True,
    print_blob=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
#: Random examples per operation or route. SQLite gets the most; on MariaDB and PostgreSQL, where the bugs to
#: find are values the database refuses, the deterministic worst values (EVERYWHERE) matter more.
EXAMPLES = {"sqlite": 6, "mariadb": 2, "postgresql": 2}


@dataclass
class World:
    """Real objects for the fuzzers to aim at, and an admin session for both APIs."""

    project: str
    project_id: int
    exec_id: int
    schedule_id: int
    token: str
    sid: str
    victim: str
    examples: int


@pytest.fixture
def world(live: LiveServer) -> Iterator[World]:
    admin = live.as_admin()
    name = unique("fuzz")
    admin.create_project(name)
    assert admin.upload(name, make_zip({**HELLO, "nap.job": "type=command\ncommand=sleep 1\n"})).status_code == 200
    exec_id = admin.execute(name, "end")
    admin.wait(exec_id)
    schedule_id = admin.ajax(
        "/schedule", "scheduleCronFlow", projectName=name, flow="end", cronExpression="0 0 3 ? * *"
    )["scheduleId"]
    token = httpx.post(f"{live.url}/api/v1/login", json={"username": live.admin, "password": live.password}).json()
    victim, _ = live.add_user("victim")
    kind = live.store.dialect if live.store.dialect in EXAMPLES else "mariadb"
    yield World(
        name,
        admin.ajax("/manager", "getProjectId", project=name)["projectId"],
        exec_id,
        schedule_id,
        token["token"],
        admin.sid,
        victim.name,
        EXAMPLES[kind],
    )
    # Fuzzed schedules could fire every second for the rest of the run: remove every schedule they made.
    for schedule in live.server.scheduler.list():
        if schedule.project_name.startswith("fuzz") or schedule.submit_user == live.admin:
            live.server.scheduler.remove(schedule.id)


def assert_sound(method: str, path: str, status: int, body: str, ajax: bool = False) -> None:
    """The oracle of the module docstring."""
    where = f"{method} {path} -> {status}: {body[:300]!r}"
    assert not any(marker in body for marker in TRACE_MARKERS), where
    if status < 500:
        return
    assert ajax and status == 500, where
    if JETTY_500.match(body):
        return
    error = json.loads(body).get("error", "") if body.startswith("{") else ""
    assert error.startswith(UPLOAD_500), where


# -- the JSON API -----------------------------------------------------------------------------------------------


def fuzz_operation(
    strategy: st.SearchStrategy[Any], base: str, auth: dict[str, str], project: str | None, examples: int, conform: bool
) -> int:
    """Run one operation's generated cases; ``project`` replaces a body's project name when aiming; with
    ``conform``, answers must match the document too (valid requests: an invalid one may not even reach the
    API, such as a path with a newline, which the server's router does not match under ``/api/v1``)."""
    count = 0

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal count
        if project is not None and isinstance(case.body, dict) and "project" in case.body:
            case.body["project"] = project
        response = case.call(base_url=base, headers=auth)
        count += 1
        assert_sound(
            case.method, case.formatted_path, response.status_code, response.content.decode("utf-8", "replace")
        )
        if conform:  # the document is exact: a documented status, content type and body schema
            case.validate_response(response, checks=CONFORMANCE)

    run()
    return count


def test_json_api_fuzz(live: LiveServer, world: World) -> None:
    base = f"{live.url}/api/v1"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    auth = {"Authorization": f"Bearer {world.token}"}
    real = {
        "project": world.project,
        "flow": "end",
        "exec_id": world.exec_id,
        "schedule_id": world.schedule_id,
        "name": world.victim,
        "job": "start",
        "version": 1,
    }
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last, so that they do not remove the real objects the other operations aim at.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    count = 0
    for operation in operations:
        if operation.path == "/logout":
            continue  # it would end the fuzzer's own session
        wanted = {p.name for p in operation.path_parameters}
        for aimed in (False, True):
            if aimed and not wanted:
                continue
            fixed = {key: value for key, value in real.items() if key in wanted} if aimed else None
            # Negative cases need something to make invalid besides the fixed path (else Hypothesis spends
            # seconds finding none): a free path parameter, a query parameter or a body.
            negatable = (not aimed and bool(wanted)) or bool(list(operation.query)) or bool(list(operation.body))
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negatable else (GenerationMode.POSITIVE,):
                strategy = operation.as_strategy(generation_mode=mode, headers=auth, path_parameters=fixed)
                count += fuzz_operation(
                    strategy,
                    base,
                    auth,
                    world.project if aimed else None,
                    world.examples,
                    conform=mode == GenerationMode.POSITIVE,
                )
    assert count > 100


# -- the AJAX API -----------------------------------------------------------------------------------------------

#: Numbers where parsers and databases break: sign, width (Java int, SQL BIGINT), notation, other scripts.
NUMBERS = st.one_of(
    st.sampled_from(
        [
            "-1",
            "0",
            "2147483648",
            "-2147483649",
            "9223372036854775808",
            str(2**70),
            "-" + str(2**70),
            "99999999999999999999999",
            "",
            " ",
            "1e3",
            "0x10",
            "1_000",
            "١٢",
            "+7",
            "-0",
            "NaN",
            "12abc",
            "1.5",
        ]
    ),
    st.integers(-(2**70), 2**70).map(str),
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
    lambda s: not any(marker in s for marker in TRACE_MARKERS)
)
#: Past the columns' widths: VARCHAR(255), and MySQL's TEXT (64 KB; "𝄞" is 4 bytes in UTF-8).
HUGE = st.sampled_from(["x" * 300, "é" * 5000, "𝄞" * 17_000])
JSONISH = st.sampled_from(
    [
        '["start"',
        '{"id": 1}',
        "[1, 2]",
        '[{"id": "end", "children": 5}]',
        "null",
        "[[[]]]",
        '["nosuch"]',
        '[{"children": []}]',
        '["start", {"id": "end"}]',
    ]
)
CRONS = st.sampled_from(
    [
        "* * * * *",
        "0 0 3 ? * *",
        "61 0 0 * * ?",
        "0 0 0 31 2 ?",
        "0 0 0 L-40 * ?",
        "0 0 0 ? * 9#9",
        "a b c d e f",
        "0/0 * * * * ?",
        "0 0 0 ? * MON-SUN/0",
        "0 0 0 1 1 ? 1969",
        "0 0 0 ? * * " + ",".join(str(y) for y in range(2030, 2110)),
    ]
)
PERIODS = st.sampled_from(["1d", "0d", "-1h", "7m", "30x", "", "null", "1M", "12y", "999999999999s", "d"])
TIMES = st.sampled_from(
    ["10,00,am,UTC", "99,99,pm,UTC", "1,2", ",,,", "13,30,pm,Mars/Base", "-5,-5,am,UTC", "10,00,am,America/New_York"]
)
DATES = st.sampled_from(["12/31/2030", "02/30/2030", "13/45/2030", "", "1/1/1", "01/01/99999", "x/y/z"])
SLA = st.sampled_from(
    [
        ",SUCCESS,1:30,true,false",
        "start,FINISH,0:10,true,true",
        "a,b",
        ",SUCCESS,99:99,x,y",
        "ghost,FINISH,1:00,true,false",
        ",FINISH,-1:00,true,true",
        ",,,,",
        ",FINISH,99999:00,true,false",
    ]
)
BOOLS = st.sampled_from(["true", "false", "TRUE", "yes", "", "1"])


def values(world: World) -> dict[str, st.SearchStrategy[Any]]:
    """What each parameter name gets: its plausible values, and junk."""
    ids = st.sampled_from([str(world.exec_id), str(world.schedule_id), str(world.project_id), "1", "987654321"])
    anything = st.one_of(TEXT, NUMBERS, HUGE, st.just("nul\x00byte"))
    names = st.one_of(st.sampled_from([world.project, "end", "start", "nap", "nosuch"]), anything)
    return {
        "project": names,
        "projectName": names,
        "flow": names,
        "flowId": names,
        "flowName": names,
        "jobName": names,
        "jobId": names,
        "jobid": names,
        "node": names,
        "name": names,
        "group": BOOLS,
        "execid": st.one_of(ids, NUMBERS),
        "scheduleId": st.one_of(ids, NUMBERS),
        "projectId": st.one_of(ids, NUMBERS),
        "version": NUMBERS,
        "offset": NUMBERS,
        "length": NUMBERS,
        "start": NUMBERS,
        "size": NUMBERS,
        "skip": NUMBERS,
        "attempt": NUMBERS,
        "lastUpdateTime": NUMBERS,
        "pipelineLevel": NUMBERS,
        "cronExpression": st.one_of(CRONS, anything),
        "timezone": st.one_of(st.sampled_from(["UTC", "Nope/X"]), TEXT),
        "disabled": st.one_of(JSONISH, anything),
        "concurrentOption": st.sampled_from(["skip", "ignore", "pipeline", "x", ""]),
        "failureAction": st.sampled_from(["finishCurrent", "cancelImmediately", "finishPossible", "x"]),
        "scheduleTime": TIMES,
        "scheduleDate": DATES,
        "period": PERIODS,
        "is_recurring": st.sampled_from(["on", ""]),
        "description": st.one_of(TEXT, HUGE),
        "isLocked": BOOLS,
        "flowLockErrorMessage": st.one_of(TEXT, HUGE),
        "slaEmails": st.one_of(TEXT, HUGE),
        "user": names,
        "all": TEXT,
        "searchterm": TEXT,
        "id": st.one_of(st.sampled_from(["nosuch", "00000000-0000-0000-0000-000000000000"]), anything),
        "triggerinstid": st.one_of(st.just("nosuch"), anything),
        "successEmails": TEXT,
        "failureEmails": TEXT,
        "notifyFailureFirst": BOOLS,
        "failureEmailsOverride": BOOLS,
        "successEmailsOverride": BOOLS,
        "failureActionOverride": BOOLS,
        "flowOverride[greeting]": anything,
        "runtimeProperty[ROOT][x]": anything,
        "runtimeProperty[start][y]": HUGE,
        "slaSettings[0]": SLA,
        "settings[0]": SLA,
        "settings[x]": SLA,
        "jobOverride[type]": names,
        "jobOverride[command]": anything,
        "permissions[admin]": BOOLS,
        "permissions[read]": BOOLS,
        "permissions[write]": BOOLS,
        "permissions[execute]": BOOLS,
        "permissions[schedule]": BOOLS,
        "username": TEXT,
        "password": TEXT,
        "delete": TEXT,
        "purge": TEXT,
        "download": TEXT,
        "ajax": TEXT,
        "page": NUMBERS,
        "days": NUMBERS,
        "search": BOOLS,
        "advfilter": BOOLS,
        "projcontain": names,
        "flowcontain": names,
        "usercontain": names,
        "status": st.one_of(NUMBERS, TEXT),
        "begin": st.one_of(DATES, TEXT),
        "end": st.one_of(DATES, TEXT),
    }


def route_params(route: Route) -> dict[str, str]:
    """The parameters that select ``route`` within its servlet."""
    kind, _, name = route.key.partition(":")
    if kind in ("ajax", "action"):
        return {kind: name}
    if route.key in ("delete", "purge", "download"):
        return {route.key: "true"}
    return {}


#: The parameters each servlet's routes read; a request draws most of them, mostly plausible, sometimes junk.
CORE = {
    "/manager": [
        "project",
        "flow",
        "flowName",
        "jobName",
        "node",
        "name",
        "group",
        "description",
        "start",
        "length",
        "size",
        "skip",
        "isLocked",
        "version",
        "permissions[admin]",
        "permissions[read]",
        "jobOverride[command]",
    ],
    "/executor": [
        "project",
        "flow",
        "execid",
        "jobId",
        "jobid",
        "offset",
        "length",
        "lastUpdateTime",
        "attempt",
        "disabled",
        "concurrentOption",
        "pipelineLevel",
        "flowOverride[greeting]",
        "slaSettings[0]",
    ],
    "/schedule": [
        "projectName",
        "projectId",
        "flow",
        "flowId",
        "scheduleId",
        "cronExpression",
        "timezone",
        "scheduleTime",
        "scheduleDate",
        "is_recurring",
        "period",
        "settings[0]",
        "slaEmails",
    ],
    "/index": ["user"],
    "/": [],
    "/status": [],
    "/flowtrigger": ["projectId", "flowId"],
    "/flowtriggerinstance": ["project", "flow", "id", "triggerinstid", "execid", "start", "length"],
    "/history": [
        "page",
        "size",
        "search",
        "searchterm",
        "advfilter",
        "projcontain",
        "flowcontain",
        "usercontain",
        "status",
        "begin",
        "end",
        "days",
    ],
}


def plausible(world: World) -> dict[str, str]:
    return {
        "project": world.project,
        "projectName": world.project,
        "flow": "end",
        "flowId": "end",
        "flowName": "end",
        "jobName": "start",
        "jobId": "start",
        "jobid": "start",
        "node": "start",
        "name": world.victim,
        "group": "false",
        "description": "described",
        "start": "0",
        "length": "100",
        "size": "10",
        "skip": "0",
        "isLocked": "false",
        "version": "1",
        "permissions[admin]": "false",
        "permissions[read]": "true",
        "jobOverride[command]": "echo overridden",
        "execid": str(world.exec_id),
        "offset": "0",
        "lastUpdateTime": "-1",
        "attempt": "0",
        "disabled": '["start"]',
        "concurrentOption": "ignore",
        "pipelineLevel": "2",
        "flowOverride[greeting]": "fuzz",
        "slaSettings[0]": ",FINISH,1:00,true,false",
        "projectId": str(world.project_id),
        "scheduleId": str(world.schedule_id),
        "cronExpression": "0 0 4 ? * *",
        "timezone": "Europe/Paris",
        "scheduleTime": "10,00,am,UTC",
        "scheduleDate": "12/31/2030",
        "is_recurring": "on",
        "period": "1d",
        "settings[0]": ",SUCCESS,1:30,true,false",
        "slaEmails": "ops@example.org",
        "user": world.victim,
        "id": "nosuch",
        "triggerinstid": "nosuch",
        "page": "1",
        "search": "true",
        "searchterm": "end",
        "advfilter": "false",
        "projcontain": "fuzz",
        "flowcontain": "end",
        "usercontain": "admin",
        "status": "50",
        "begin": "01/01/2026 00:00",
        "end": "12/31/2030 23:59",
        "days": "7",
    }


def requests_for(servlet: Servlet, route: Route, world: World) -> st.SearchStrategy[tuple[str, dict[str, str], bool]]:
    """(method, form, with a session) for one route: its selector, its servlet's parameters (most of them,
    mostly plausible, some junk), a few random other parameters, and once in a while no session."""
    table = values(world)
    good = plausible(world)
    extras = sorted(table)
    methods = sorted(route.methods)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, dict[str, str], bool]:
        form: dict[str, str] = {}
        # Hypothesis favours the first choices of a strategy; the mix of plausible and junk is drawn from a
        # (Hypothesis-seeded) uniform random number instead, so junk is as common as intended.
        rnd = draw(st.randoms(use_true_random=False))
        for key in CORE[servlet.path]:
            choice = rnd.random()
            if choice < 0.55:
                form[key] = good[key]
            elif choice < 0.85:
                form[key] = str(draw(table[key]))
        for key in draw(st.lists(st.sampled_from(extras), max_size=4, unique=True)):
            form.setdefault(key, str(draw(table[key])))
        if route.key == "delete":  # deleting the real project would leave the other routes nothing to aim at
            form["project"] = "nosuch"
        form.update(route_params(route))
        if form.get("username") == world.victim:
            del form["username"]
        return draw(st.sampled_from(methods)), form, draw(st.sampled_from([True, True, True, False]))

    return build()


ROUTES = [
    (servlet, route)
    for servlet in SERVLETS
    for route in servlet.routes.values()
    if route.key not in ("upload", "upload:form")
]


#: Values sent in every parameter at once, in one request per route each: random draws rarely put the worst
#: value in the one parameter that reaches the database.
EVERYWHERE = ["nul\x00byte", str(2**70), "-1"]


def fuzz_route(http: httpx.Client, servlet: Servlet, route: Route, world: World) -> int:
    count = 0
    for value in EVERYWHERE:
        form = {key: value for key in CORE[servlet.path]} | route_params(route) | {"session.id": world.sid}
        if route.key == "delete":
            form["project"] = "nosuch"
        method = "POST" if "POST" in route.methods else "GET"
        response = (
            http.post(servlet.path, data=form)
            if method == "POST"
            else http.get(servlet.path, params={key: v[:200] for key, v in form.items()})
        )
        count += 1
        assert_sound(
            method, f"{servlet.path} {route.key} (all {value[:20]!r})", response.status_code, response.text, ajax=True
        )

    @settings(FUZZ_SETTINGS, max_examples=world.examples)
    @given(request=requests_for(servlet, route, world))
    def run(request: tuple[str, dict[str, str], bool]) -> None:
        nonlocal count
        method, form, with_session = request
        if with_session:
            form["session.id"] = world.sid
        if method == "GET":  # URLs are short: huge values go in bodies
            response = http.get(servlet.path, params={key: value[:200] for key, value in form.items()})
        else:
            response = http.post(servlet.path, data=form)
        count += 1
        assert_sound(method, f"{servlet.path} {route.key}", response.status_code, response.text, ajax=True)

    run()
    return count


def read_back(live: LiveServer, world: World) -> int:
    """Read what the AJAX fuzzer stored through the JSON API, whose answers are typed: executions with odd
    options, schedules with odd SLAs and the project's flows must still render."""
    paths = [
        "/schedules",
        f"/projects/{world.project}/flows",
        f"/projects/{world.project}/flows/end",
        f"/projects/{world.project}/proxy-users",
        f"/projects/{world.project}/versions",
        "/users",
    ]
    with httpx.Client(
        base_url=f"{live.url}/api/v1", timeout=60, headers={"Authorization": f"Bearer {world.token}"}
    ) as http:
        page = http.get("/executions", params={"project": world.project, "limit": 1000})
        assert_sound("GET", "/executions", page.status_code, page.text)
        paths += [f"/executions/{item['id']}" for item in page.json()["items"]]
        paths += [f"/executions/{item['id']}/logs" for item in page.json()["items"]]
        for path in paths:
            response = http.get(path)
            assert_sound("GET", path, response.status_code, response.text)
    return len(paths)


def test_ajax_form_fuzz(live: LiveServer, world: World) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as http:
        count = sum(fuzz_route(http, servlet, route, world) for servlet, route in ROUTES)
    assert count > 200
    assert read_back(live, world) > 6


BAD_ZIPS = [
    make_zip({"a.job": "type=noop\ndependencies=ghost\n"}),
    make_zip({"../x.job": "type=noop\n"}),
    make_zip({"a.job": "dependencies=a\ntype=noop\n"}),
    b"PK\x03\x04" + b"\xff" * 100,
]


@settings(max_examples=12, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    content=st.one_of(st.binary(max_size=2000), st.sampled_from(BAD_ZIPS)),
    filename=st.one_of(
        st.sampled_from(["p.zip", "p.ZIP", "p.tar", "", ".zip", "a/../../b.zip"]),
        TEXT.map(lambda s: s + ".zip"),
        HUGE.map(lambda s: s + ".zip"),
    ),
    content_type=st.sampled_from(["application/zip", "application/octet-stream", "text/plain", ""]),
    action=st.sampled_from(["ajax", "action"]),
    project=st.sampled_from(["real", "nosuch", ""]),
)
def fuzz_upload(
    live: LiveServer, world: World, content: bytes, filename: str, content_type: str, action: str, project: str
) -> None:
    fields = {action: "upload", "session.id": world.sid, "project": world.project if project == "real" else project}
    files = {"file": (filename, content, content_type)} if content_type else {"file": (filename, content)}
    response = httpx.post(f"{live.url}/manager", data=fields, files=files, timeout=60)
    assert_sound("POST", "/manager upload", response.status_code, response.text, ajax=True)
    api = httpx.post(
        f"{live.url}/api/v1/projects/{world.project}/versions",
        files=files,
        timeout=60,
        headers={"Authorization": f"Bearer {world.token}"},
    )
    assert_sound("POST", "/api/v1/projects/{project}/versions", api.status_code, api.text)


def test_upload_fuzz(live: LiveServer, world: World) -> None:
    started = time.monotonic()
    fuzz_upload(live, world)
    # The project still has a valid current version: nothing the fuzzer sent replaced it with junk.
    flows = httpx.get(
        f"{live.url}/api/v1/projects/{world.project}/flows", headers={"Authorization": f"Bearer {world.token}"}
    ).json()
    assert "end" in [flow["id"] for flow in flows], flows
    assert time.monotonic() - started < 60
