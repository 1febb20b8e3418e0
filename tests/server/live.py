"""A real server for the API tests: uvicorn on 127.0.0.1 with a free port, in a thread of the test process.

It is :class:`sudoless.server.serve.Server`, the object ``sudoless server`` runs, with the embedded
executor and the scheduler; the tests talk to it over HTTP with httpx. The accounts use a clock with an
adjustable offset so that tests can create sessions that are already expired.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from sudoless.accounts import Accounts, User
from sudoless.config import Settings
from sudoless.server.serve import Server
from sudoless.store import Store, now_ms
from sudoless.store.status import TERMINAL_FLOW, Status
from support.eventually import eventually

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


class OffsetClock:
    """Real time plus ``offset`` milliseconds."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self) -> int:
        return now_ms() + self.offset


def unique(base: str) -> str:
    return f"{base}{uuid.uuid4().hex[:8]}"


def example_zip(name: str) -> bytes:
    """One of the Azkaban example projects of tests/fixtures/azkaban, zipped as a user would upload it."""
    from support.files import AZKABAN_PROJECTS

    root = AZKABAN_PROJECTS / name
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    return make_zip(files)


def make_zip(files: Mapping[str, str | bytes], links: Mapping[str, str] | None = None) -> bytes:
    """A zip of ``files`` (name -> content); ``links`` adds symbolic-link entries (name -> target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return buffer.getvalue()


#: A two-job Flow 1.0 project: flow ``end`` = start -> end; ``greeting`` comes from a shared .properties file,
#: so that a flow-level runtime property (``flowOverride[greeting]``) overrides it.
HELLO = {
    "common.properties": "greeting=world\n",
    "start.job": "type=command\ncommand=echo hello ${greeting}\n",
    "end.job": "type=noop\ndependencies=start\n",
}


@dataclass
class Client:
    """An httpx client logged in as one user; ``sid`` goes as the ``session.id`` parameter by default."""

    http: httpx.Client
    sid: str
    user: str

    def get(self, path: str, /, **params: Any) -> httpx.Response:
        return self.http.get(path, params={"session.id": self.sid, **params})

    def post(self, path: str, data: Mapping[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, data={"session.id": self.sid, **(data or {})}, **kwargs)

    def ajax(self, path: str, action: str, /, via: str = "GET", **params: Any) -> dict[str, Any]:
        response = (
            self.get(path, ajax=action, **params) if via == "GET" else self.post(path, {"ajax": action, **params})
        )
        assert response.status_code == 200, response.text
        return json.loads(response.text)

    def create_project(self, name: str, description: str = "test project") -> None:
        response = self.post("/manager", {"action": "create", "name": name, "description": description})
        assert json.loads(response.text)["status"] == "success", response.text

    def upload(
        self,
        project: str,
        content: bytes,
        filename: str = "project.zip",
        content_type: str = "application/zip",
    ) -> httpx.Response:
        return self.http.post(
            "/manager",
            data={"session.id": self.sid, "ajax": "upload", "project": project},
            files={"file": (filename, content, content_type)},
        )

    def execute(self, project: str, flow: str, **options: Any) -> int:
        body = self.ajax("/executor", "executeFlow", project=project, flow=flow, **options)
        assert "execid" in body and body["execid"] > 0, body
        return int(body["execid"])

    def wait(
        self, exec_id: int, timeout: float = 30.0, until: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """Poll ``fetchexecflow`` until the execution is over (or ``until`` holds); return the last answer."""
        return eventually(
            lambda: self.ajax("/executor", "fetchexecflow", execid=exec_id),
            until or (lambda body: Status(body["status"]) in TERMINAL_FLOW),
            timeout=timeout,
            interval=0.1,
            what=f"execution {exec_id} over",
        )


@dataclass
class LiveServer:
    url: str
    settings: Settings
    store: Store
    accounts: Accounts
    clock: OffsetClock
    server: Server
    thread: threading.Thread
    admin: str
    password: str
    clients: list[httpx.Client] = field(default_factory=list)

    def http(self, **kwargs: Any) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    def login(self, user: str, password: str) -> Client:
        http = self.http()
        response = http.post("/", data={"action": "login", "username": user, "password": password})
        body = json.loads(response.text)
        assert "session.id" in body, body
        http.cookies.clear()  # tests choose per request whether the session travels as cookie or parameter
        return Client(http, body["session.id"], user)

    def as_admin(self) -> Client:
        return self.login(self.admin, self.password)

    def add_user(self, base: str, roles: tuple[str, ...] = ("user",), groups: tuple[str, ...] = ()) -> tuple[User, str]:
        password = uuid.uuid4().hex
        user = self.accounts.add_user(unique(base), password, roles=roles, groups=groups)
        return user, password

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()
        self.thread.join(timeout=30)


def start_live(settings: Settings, store: Store, **accounts_options: Any) -> LiveServer:
    """Start a server on a free port over ``store``, with a fresh admin user of its own."""
    clock = OffsetClock()
    accounts_options.setdefault("max_address_failures", 10_000)
    accounts = Accounts(store, settings, clock, hasher=CHEAP, **accounts_options)
    server = Server(
        settings,
        host="127.0.0.1",
        port=0,
        store=store,
        accounts=accounts,
        scheduler_interval=0.2,
        cancel_grace_seconds=5,
        freeze_heap=False,  # this test process's own objects must stay collectable
    )
    server.start()
    admin, password = unique("admin"), uuid.uuid4().hex
    accounts.add_user(admin, password, roles=("admin",))
    thread = threading.Thread(target=server.serve, name="live-server", daemon=True)
    thread.start()
    server.wait_started()
    return LiveServer(server.url, settings, store, accounts, clock, server, thread, admin, password)


def server_settings(home: Path, db_url: str) -> Settings:
    return Settings(
        home=home,
        db_url=db_url,
        parallel=4,
        max_upload_bytes=2 << 20,
        project_max_mb=4,
        executor_timeout=30.0,
        timezone="UTC",
    )
