"""Request and response bodies of the JSON API, as Pydantic models, so the OpenAPI document is exact.

Times are epoch milliseconds, ``-1`` when unset (the store's convention, which Azkaban's API shares).
Statuses and failure actions are the engine's own enums (:class:`sudoless.store.status.Status`,
:class:`~sudoless.flows.model.FailureAction`), whose values are Azkaban's wire strings. Limits on strings
mirror the database columns, so a value that validates here can be stored on every back end.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sudoless.flows.model import FailureAction
from sudoless.store.status import Status

__all__ = [
    "PATH_NAME",
    "Attempt",
    "ConcurrentOption",
    "ControlAction",
    "ControlResult",
    "CronPreview",
    "ExecuteRequest",
    "ExecutionDetail",
    "ExecutionPage",
    "ExecutionSummary",
    "FireTime",
    "FlowGraph",
    "FlowInfo",
    "FlowLockRequest",
    "Grant",
    "GraphNode",
    "JobState",
    "LogFormat",
    "LogPage",
    "LoginRequest",
    "PasswordRequest",
    "PermissionName",
    "ProjectCreate",
    "ProjectInfo",
    "RunOptions",
    "RunOptionsView",
    "ScheduleCreate",
    "ScheduleInfo",
    "SlaAction",
    "SlaInfo",
    "SlaKind",
    "SlaRequest",
    "SlaRuleModel",
    "SlaRuleView",
    "Submitted",
    "Token",
    "TokenCreate",
    "TokenCreated",
    "TokenInfo",
    "UploadResult",
    "UserCreate",
    "UserGrant",
    "UserInfo",
    "VersionInfo",
]

#: Names in paths: no "/" and no control character (no project, flow, job or user name has one), and not
#: only dots, which clients resolve as "." and ".." path segments.
PATH_NAME = r"^[^/\x00-\x1f\x7f]*[^/.\x00-\x1f\x7f][^/\x00-\x1f\x7f]*$"
Name = Annotated[str, Field(min_length=1, max_length=255)]
Email = Annotated[str, Field(max_length=255)]
#: Property names and values: the job file's, so any text, but bounded.
PropName = Annotated[str, Field(min_length=1, max_length=1024)]
PropValue = Annotated[str, Field(max_length=65_536)]
Millis = Annotated[int, Field(description="epoch milliseconds; -1 when not set")]


class Strict(BaseModel):
    """Request bodies refuse unknown fields: a misspelt option must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


# -- enums ----------------------------------------------------------------------------------------------------


class PermissionName(StrEnum):
    """Project permissions (Azkaban's names); ADMIN implies the others."""

    READ = "READ"
    WRITE = "WRITE"
    EXECUTE = "EXECUTE"
    SCHEDULE = "SCHEDULE"
    ADMIN = "ADMIN"


class ConcurrentOption(StrEnum):
    """What a submission does while the flow already runs: refuse (``skip``), run in parallel
    (``ignore``), or run behind it (``pipeline``, with ``pipeline_level``)."""

    skip = "skip"
    ignore = "ignore"
    pipeline = "pipeline"


class SlaKind(StrEnum):
    SUCCESS = "SUCCESS"
    FINISH = "FINISH"


class SlaAction(StrEnum):
    EMAIL = "EMAIL"
    KILL = "KILL"
    WEBHOOK = "WEBHOOK"


class ControlAction(StrEnum):
    cancel = "cancel"
    pause = "pause"
    resume = "resume"
    retry_failed = "retry-failed"


class LogFormat(StrEnum):
    json = "json"
    text = "text"


# -- sessions and users ---------------------------------------------------------------------------------------


class LoginRequest(Strict):
    username: Name
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class Token(BaseModel):
    token: str = Field(description="send as 'Authorization: Bearer <token>'")
    expires: Millis = Field(description="when the token expires unless used (each use extends it)")
    user: str


class UserInfo(BaseModel):
    name: str
    roles: list[str]
    groups: list[str]
    proxy_users: list[str]
    email: str
    admin: bool = Field(description="holds global ADMIN")
    permissions: list[str] = Field(description="global permissions from roles, own and through groups")
    source: str = Field(default="local", description="local, or the sign-in back-end that made the account (ldap, pam)")
    last_login: Millis = -1


class ScopeName(StrEnum):
    """What an API token may carry on a project."""

    READ = "READ"
    EXECUTE = "EXECUTE"
    SCHEDULE = "SCHEDULE"


class TokenCreate(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")]
    scopes: Annotated[
        dict[Name, Annotated[list[ScopeName], Field(min_length=1, max_length=3)]],
        Field(min_length=1, max_length=256, description="project name ('*' for every project) to permissions"),
    ]
    days: Annotated[float, Field(gt=0, le=366, description="days until the token expires")] = 90


class TokenInfo(BaseModel):
    name: str
    user: str
    scopes: dict[str, list[str]]
    created: Millis
    expires: Millis
    last_used: Millis


class TokenCreated(TokenInfo):
    token: str = Field(description="the token: shown once, only its digest is stored")


class UserCreate(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,63}$")]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    roles: Annotated[list[Name], Field(max_length=32)] = ["user"]
    groups: Annotated[list[Name], Field(max_length=64)] = []
    proxy_users: Annotated[list[Name], Field(max_length=64)] = []
    email: Email = ""


class PasswordRequest(Strict):
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class Grant(BaseModel):
    """A grant on a project to a user or a group."""

    name: str
    group: bool
    permissions: list[str]


class UserGrant(BaseModel):
    project: str
    permissions: list[str]


class GrantRequest(Strict):
    permissions: Annotated[list[PermissionName], Field(min_length=1, max_length=5)]


# -- projects and flows ---------------------------------------------------------------------------------------


class ProjectCreate(Strict):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z_0-9|-]*$", max_length=255)]
    description: Annotated[str, Field(min_length=1, max_length=16_000)]


class ProjectInfo(BaseModel):
    id: int
    name: str
    description: str
    version: int = Field(description="the current version; 0 before the first upload")
    created_time: Millis
    created_by: str
    modified_time: Millis
    modified_by: str


class VersionInfo(BaseModel):
    version: int
    upload_time: Millis
    uploader: str
    file_name: str
    md5: str
    size: int
    flow_version: str = Field(description="'1.0' (.job files) or '2.0' (.project and .flow files)")


class UploadResult(BaseModel):
    project: str
    project_id: int
    version: int
    flows: list[str] = Field(description="the top-level flows of the new version")
    warnings: list[str] = Field(
        default=[],
        description="what loaded but deserves a look (a project without flows); Azkaban's upload answers it as warn",
    )


class FlowInfo(BaseModel):
    id: str
    locked: bool
    lock_message: str | None = None


class GraphNode(BaseModel):
    id: str
    type: str
    depends_on: list[str]
    condition: str | None = None
    subflow: str | None = Field(default=None, description="for embedded-flow nodes: the flow the node runs")
    nodes: list[GraphNode] | None = Field(default=None, description="for embedded-flow nodes: that flow's nodes")


class FlowGraph(BaseModel):
    project: str
    flow: str
    locked: bool
    lock_message: str | None = None
    properties: dict[str, str] = Field(description="the flow's own configuration (Flow 2.0 config)")
    nodes: list[GraphNode]


class FlowLockRequest(Strict):
    locked: bool
    message: Annotated[str | None, Field(max_length=16_000)] = None


# -- running ----------------------------------------------------------------------------------------------------


class SlaRuleModel(Strict):
    """``job`` ("" = the whole flow, else a nested job id) must succeed or finish within ``duration_ms`` of
    the execution's start; otherwise the actions happen."""

    job: Annotated[str, Field(max_length=500)] = ""
    kind: SlaKind
    duration_ms: Annotated[int, Field(ge=0, le=10 * 365 * 86_400_000)]
    actions: Annotated[list[SlaAction], Field(min_length=1, max_length=3)]


class SlaRuleView(BaseModel):
    """A stored SLA rule (no request limits: the AJAX API may have stored it)."""

    job: str
    kind: SlaKind
    duration_ms: int
    actions: list[SlaAction]


class RunOptions(Strict):
    """How to run a flow: Azkaban's execution options."""

    failure_action: FailureAction | None = Field(
        default=None, description="default: the flow's failure.action config, else FINISH_CURRENTLY_RUNNING"
    )
    disabled: Annotated[list[Annotated[str, Field(min_length=1, max_length=500)]], Field(max_length=10_000)] = Field(
        default=[], description="nested ids of jobs (or embedded flows) to skip, as 'job' or 'sub:job'"
    )
    runtime_properties: dict[Annotated[str, Field(min_length=1, max_length=500)], dict[PropName, PropValue]] = Field(
        default={}, description="properties by node path: 'ROOT' for the whole flow, else a nested job id"
    )
    concurrent_option: ConcurrentOption = ConcurrentOption.skip
    pipeline_level: Annotated[int | None, Field(ge=1, le=3)] = Field(
        default=None, description="with concurrent_option 'pipeline': 1 waits per job, 2 for its children, 3 for all"
    )
    notify_failure_first: bool = False
    notify_failure_last: bool = False
    failure_emails: Annotated[list[Email], Field(max_length=100)] = []
    success_emails: Annotated[list[Email], Field(max_length=100)] = []
    sla: Annotated[list[SlaRuleModel], Field(max_length=100)] = Field(default=[], description="this run's SLA rules")
    sla_emails: Annotated[list[Email], Field(max_length=100)] = []
    sla_webhook: Annotated[str | None, Field(max_length=2000, pattern=r"^https?://")] = Field(
        default=None,
        description="an http(s) URL the SLA misses are POSTed to; its host must be on the admin's "
        "webhook_hosts list (empty by default), else the request is refused with 400",
    )


class RunOptionsView(BaseModel):
    """The options an execution or a schedule has, as stored (the AJAX API stores them too, unbounded)."""

    failure_action: FailureAction | None = None
    disabled: list[str]
    runtime_properties: dict[str, dict[str, str]]
    concurrent_option: ConcurrentOption
    pipeline_level: int | None = None
    notify_failure_first: bool
    notify_failure_last: bool = False
    failure_emails: list[str]
    success_emails: list[str]
    sla: list[SlaRuleView]
    sla_emails: list[str]
    sla_webhook: str | None = None


class ExecuteRequest(RunOptions):
    project: Name
    flow: Annotated[str, Field(min_length=1, max_length=512)]


class Submitted(BaseModel):
    exec_id: int
    project: str
    flow: str
    message: str


class ExecutionSummary(BaseModel):
    id: int
    project: str
    project_id: int
    flow: str
    version: int
    status: Status
    submit_user: str
    submit_time: Millis
    start_time: Millis
    end_time: Millis
    update_time: Millis
    source: str = Field(description="adhoc, schedule or restart")
    restarted_from: int | None = None
    elsewhere: bool = Field(
        default=False,
        description="imported from Azkaban while it was still preparing or running there: shown as it stood, "
        "never run here; an import after it ended brings its final state",
    )


class ExecutionPage(BaseModel):
    total: int = Field(description="executions matching the filters")
    offset: int
    limit: int
    items: list[ExecutionSummary]


class Attempt(BaseModel):
    attempt: int
    status: Status
    start_time: Millis
    end_time: Millis
    update_time: Millis


class JobState(BaseModel):
    """One node of the execution (latest attempt), with every attempt."""

    id: str = Field(description="nested id: 'job', or 'subflow:job' inside embedded flows")
    type: str
    status: Status
    attempt: int
    start_time: Millis
    end_time: Millis
    update_time: Millis
    depends_on: list[str]
    condition: str | None = None
    attempts: list[Attempt]


class ExecutionDetail(ExecutionSummary):
    options: RunOptionsView
    jobs: list[JobState]


class ControlResult(BaseModel):
    id: int
    action: ControlAction
    status: Status = Field(description="the status when the request was posted; the runner acts within a second")


class LogPage(BaseModel):
    """A byte range of a log. Read on with ``offset + length`` until ``length`` is 0 and ``complete``."""

    data: str = Field(description="the bytes as UTF-8 text, trimmed to whole characters")
    offset: int
    length: int = Field(description="bytes returned")
    size: int = Field(description="the log's size so far, in bytes")
    complete: bool = Field(description="the job (or execution) is over: the log will not grow")


# -- schedules ------------------------------------------------------------------------------------------------


class FireTime(BaseModel):
    at: Millis
    local: str = Field(description="ISO 8601 in the schedule's time zone")


class CronPreview(BaseModel):
    expression: str
    timezone: str
    upcoming: list[FireTime]


class SlaInfo(BaseModel):
    rules: list[SlaRuleView]
    emails: list[str]
    webhook: str | None = None


class ScheduleCreate(Strict):
    project: Name
    flow: Annotated[str, Field(min_length=1, max_length=512)]
    cron: Annotated[
        str, Field(min_length=1, max_length=255, description="Quartz: sec min hour day month weekday [year]")
    ]
    timezone: Annotated[
        str | None, Field(min_length=1, max_length=64, description="IANA zone; default the server's")
    ] = None
    end_time: Annotated[
        int,
        Field(ge=-1, description="epoch ms after which the schedule no longer fires (Azkaban's endSchedTime); -1 none"),
    ] = -1
    back_execute_once: Annotated[
        bool, Field(description="slots missed while no scheduler ran: run once for the latest (true) or skip them")
    ] = True
    options: RunOptions = Field(default_factory=RunOptions)


class ScheduleInfo(BaseModel):
    id: int
    project: str
    project_id: int
    flow: str
    cron: str
    timezone: str
    enabled: bool
    submit_user: str
    submit_time: Millis
    next_fire: Millis
    last_fire: Millis
    end_time: Millis = -1
    back_execute_once: bool = True
    upcoming: list[FireTime] = Field(description="the next fire times (up to 5)")
    options: RunOptionsView
    sla: SlaInfo | None = None


class SlaRequest(Strict):
    rules: Annotated[list[SlaRuleModel], Field(max_length=100)]
    emails: Annotated[list[Email], Field(max_length=100)] = []
    webhook: Annotated[
        str | None,
        Field(
            max_length=2000,
            pattern=r"^https?://",
            description=(
                "an http(s) URL the SLA misses are POSTed to; its host must be on the admin's webhook_hosts list"
            ),
        ),
    ] = None
