"""An Azkaban database on the MariaDB service, written as Azkaban's DAO code writes it: each uploaded zip in
numbered chunks with the MD5 of the whole in ``project_versions``, permissions as a bitmask keyed by the
project id as text, events with their numeric types, and schedules as a gzip-encoded trigger JSON."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from support.files import FIXTURES
from support.services import create_database, drop_database

TABLES = FIXTURES / "azkaban_db" / "tables.sql"
GZIP = 2
#: ProjectLogEvent.EventType codes
CREATED, DELETED, UPLOADED = 1, 2, 6
T0 = 1_600_000_000_000


@dataclass
class AzkabanDb:
    url: str
    engine: sa.Engine
    chunk_size: int = 1024

    def run(self, sql: str, **params: Any) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(sa.text(sql), params)

    def add_project(self, name: str, user: str, description: str = "", when: int = T0) -> int:
        result = self.run(
            "INSERT INTO projects (name, active, modified_time, create_time, version, "
            "last_modified_by, description, enc_type) VALUES (:n, 1, :t, :t, NULL, :u, :d, 2)",
            n=name,
            t=when,
            u=user,
            d=description,
        )
        project_id = int(result.lastrowid)
        self.event(project_id, CREATED, user, when, "Project created.")
        # Azkaban grants the creator ADMIN when it creates the project
        self.grant(project_id, user, False, 0x8000000, when)
        return project_id

    def upload(self, project_id: int, data: bytes, user: str, when: int, file_name: str = "project.zip") -> int:
        version = int(
            self.run(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM project_versions WHERE project_id = :p", p=project_id
            ).scalar()
        )
        chunks = [data[i : i + self.chunk_size] for i in range(0, len(data), self.chunk_size)]
        self.run(
            "INSERT INTO project_versions (project_id, version, upload_time, uploader, file_type, file_name, "
            "md5, num_chunks) VALUES (:p, :v, :t, :u, 'zip', :f, :m, :c)",
            p=project_id,
            v=version,
            t=when,
            u=user,
            f=file_name,
            m=hashlib.md5(data).digest(),
            c=len(chunks),
        )
        for index, chunk in enumerate(chunks):
            self.run(
                "INSERT INTO project_files (project_id, version, chunk, size, file) VALUES (:p, :v, :i, :s, :b)",
                p=project_id,
                v=version,
                i=index,
                s=len(chunk),
                b=chunk,
            )
        self.run(
            "UPDATE projects SET version = :v, modified_time = :t, last_modified_by = :u WHERE id = :p",
            v=version,
            t=when,
            u=user,
            p=project_id,
        )
        self.event(project_id, UPLOADED, user, when, f"Uploaded project files zip {file_name}")
        return version

    def set_proxy_users(self, project_id: int, users: list[str]) -> None:
        """Proxy users as ProjectLoader.updateProjectSettings keeps them: the project object as gzip JSON."""
        row = self.run("SELECT name, description FROM projects WHERE id = :p", p=project_id).one()
        settings = {"id": project_id, "name": row.name, "description": row.description, "proxyUsers": users}
        self.run(
            "UPDATE projects SET enc_type = 2, settings_blob = :b WHERE id = :p",
            b=gzip.compress(json.dumps(settings).encode()),
            p=project_id,
        )

    def delete_project(self, project_id: int, user: str, when: int) -> None:
        self.run(
            "UPDATE projects SET active = 0, modified_time = :t, last_modified_by = :u WHERE id = :p",
            t=when,
            u=user,
            p=project_id,
        )
        self.event(project_id, DELETED, user, when, "Project deleted.")

    def event(self, project_id: int, kind: int, user: str, when: int, message: str) -> None:
        self.run(
            "INSERT INTO project_events VALUES (:p, :k, :t, :u, :m)", p=project_id, k=kind, t=when, u=user, m=message
        )

    def grant(self, project_id: int, name: str, is_group: bool, mask: int, when: int = T0) -> None:
        self.run(
            "REPLACE INTO project_permissions VALUES (:p, :t, :n, :m, :g)",
            p=str(project_id),
            t=when,
            n=name,
            m=mask,
            g=is_group,
        )

    def schedule(
        self,
        project_id: int,
        project: str,
        flow: str,
        cron: str,
        timezone: str,
        user: str,
        paused: bool = False,
        options: dict[str, Any] | None = None,
        sla: list[Any] | None = None,
        encoding: int = GZIP,
    ) -> int:
        """A schedule as Azkaban's TriggerBasedScheduleLoader stores it: a trigger whose condition checks
        the cron and whose action executes the flow."""
        checker = {
            "type": "BasicTimeChecker",
            "id": "BasicTimeChecker_1",
            "firstCheckTime": str(T0),
            "timezone": timezone,
            "isRecurring": "true",
            "skipPastChecks": "true",
            "period": "null",
            "cronExpression": cron,
        }
        trigger = {
            "triggerId": 0,
            "lastModifyTime": T0,
            "submitTime": T0,
            "submitUser": user,
            "source": "SimpleTimeTrigger",
            "status": "PAUSED" if paused else "READY",
            "resetOnTrigger": "false",
            "resetOnExpire": "false",
            "info": {},
            "context": {},
            "triggerCondition": {
                "expression": "BasicTimeChecker_1.eval()",
                "nextCheckTime": str(T0),
                "checkers": [{"type": "BasicTimeChecker", "checkerJson": checker}],
            },
            "expireCondition": {"expression": "EndTimeChecker_1.eval()", "nextCheckTime": "0", "checkers": []},
            "actions": [
                {
                    "type": "ExecuteFlowAction",
                    "actionJson": {
                        "type": "ExecuteFlowAction",
                        "actionId": "executeFlowAction",
                        "projectId": str(project_id),
                        "projectName": project,
                        "flowName": flow,
                        "submitUser": user,
                        "executionOptions": options or {},
                        "slaOptions": sla or [],
                    },
                }
            ],
        }
        text = json.dumps(trigger).encode()
        data = gzip.compress(text) if encoding == GZIP else text
        result = self.run(
            "INSERT INTO triggers (trigger_source, modify_time, enc_type, data) "
            "VALUES ('SimpleTimeTrigger', :t, :e, :d)",
            t=T0,
            e=encoding,
            d=data,
        )
        return int(result.lastrowid)

    def execution(
        self,
        project_id: int,
        version: int,
        flow: str,
        status: int,
        user: str,
        submitted: int,
        nodes: list[dict[str, Any]],
        logs: dict[tuple[str, int], bytes] | None = None,
        outputs: dict[str, dict[str, str]] | None = None,
        options: dict[str, Any] | None = None,
        log_chunk: int = 100,
    ) -> int:
        """An execution as ExecutionFlowDao and ExecutionLogsDao store it: the flow data as gzip JSON (each
        node with its attempts), a row per job in execution_jobs (output properties as gzip JSON), and each
        log in chunks of ``log_chunk`` bytes, each chunk gzip on its own, keyed by its byte offsets. An
        execution still preparing or running (status below 50) has no end time yet, as in Azkaban."""
        started, ended = submitted + 1000, submitted + 60_000
        updated = ended
        if status < STATUS_CODES["SUCCEEDED"]:
            started, ended, updated = (-1 if status < STATUS_CODES["RUNNING"] else started), -1, submitted + 2000
        flow_data = {
            "flowId": flow,
            "projectId": project_id,
            "version": version,
            "submitUser": user,
            "submitTime": submitted,
            "startTime": started,
            "endTime": ended,
            "updateTime": updated,
            "status": STATUS_NAMES[status],
            "executionOptions": options or {},
            "nodes": nodes,
        }
        result = self.run(
            "INSERT INTO execution_flows (project_id, version, flow_id, status, submit_user, submit_time, "
            "update_time, start_time, end_time, enc_type, flow_data, executor_id, execution_source) "
            "VALUES (:p, :v, :f, :s, :u, :st, :up, :b, :e, 2, :d, 1, 'adhoc')",
            p=project_id,
            v=version,
            f=flow,
            s=status,
            u=user,
            st=submitted,
            up=updated,
            e=ended,
            b=started,
            d=gzip.compress(json.dumps(flow_data).encode()),
        )
        exec_id = int(result.lastrowid)
        for node in nodes:
            output = (outputs or {}).get(node["id"])
            self.run(
                "INSERT INTO execution_jobs (exec_id, project_id, version, flow_id, job_id, attempt, "
                "start_time, end_time, status, output_params) VALUES (:x, :p, :v, :f, :j, :a, :b, :e, :s, :o)",
                x=exec_id,
                p=project_id,
                v=version,
                f=flow,
                j=node["id"],
                a=node.get("attempt", 0),
                b=node.get("startTime"),
                e=node.get("endTime"),
                s=STATUS_CODES[node["status"]],
                o=gzip.compress(json.dumps(output).encode()) if output else None,
            )
        self.add_logs(exec_id, logs or {}, updated, log_chunk)
        return exec_id

    def add_logs(self, exec_id: int, logs: dict[tuple[str, int], bytes], when: int, log_chunk: int = 100) -> None:
        """Append log text as ExecutionLogsDao does: chunks keyed by their offsets after what is stored."""
        for (name, attempt), text in logs.items():
            offset = int(
                self.run(
                    "SELECT COALESCE(MAX(end_byte), 0) FROM execution_logs WHERE exec_id = :x AND name = :n "
                    "AND attempt = :a",
                    x=exec_id,
                    n=name,
                    a=attempt,
                ).scalar()
            )
            for start in range(0, len(text), log_chunk):
                piece = text[start : start + log_chunk]
                self.run(
                    "INSERT INTO execution_logs VALUES (:x, :n, :a, 2, :b, :e, :l, :t)",
                    x=exec_id,
                    n=name,
                    a=attempt,
                    b=offset + start,
                    e=offset + start + len(piece),
                    l=gzip.compress(piece),
                    t=when,
                )

    def finish(self, exec_id: int, status: int, nodes: list[dict[str, Any]], ended: int) -> None:
        """An execution that was running ends: its row and flow data updated as ExecutionFlowDao does."""
        flow_data = json.loads(
            gzip.decompress(self.run("SELECT flow_data FROM execution_flows WHERE exec_id = :x", x=exec_id).scalar())
        )
        flow_data.update(status=STATUS_NAMES[status], endTime=ended, updateTime=ended, nodes=nodes)
        self.run(
            "UPDATE execution_flows SET status = :s, end_time = :e, update_time = :e, flow_data = :d "
            "WHERE exec_id = :x",
            s=status,
            e=ended,
            d=gzip.compress(json.dumps(flow_data).encode()),
            x=exec_id,
        )


#: Azkaban's Status codes (the execution_flows and execution_jobs status column) and their names (flow data).
STATUS_CODES = {
    "READY": 10,
    "PREPARING": 20,
    "RUNNING": 30,
    "SUCCEEDED": 50,
    "KILLED": 60,
    "FAILED": 70,
    "SKIPPED": 90,
    "CANCELLED": 125,
}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}


@contextmanager
def azkaban_database() -> Iterator[AzkabanDb]:
    """A fresh Azkaban database (its own name) with the tables of tests/fixtures/azkaban_db, dropped after."""
    url, admin, name = create_database("mariadb")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in TABLES.read_text().split(";"):
                body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
                if body:
                    conn.exec_driver_sql(body)
        yield AzkabanDb(url.replace("mysql+pymysql://", "mysql://", 1), engine)
    finally:
        engine.dispose()
        drop_database(admin, name, "mariadb")
