"""The admin page that moves an Azkaban installation here: :func:`sudoless.azkaban_import.import_azkaban` run
in a thread of the server, its progress polled by the page, its report shown when it ends.

One import runs at a time per server process. The Azkaban database password comes in the form's body and
lives only in that thread's memory: it is never put on a command line, written, logged or sent back (the page
and the progress answer show the database's host and name alone). An uploaded ``azkaban-users.xml`` (which
holds plain passwords) and ``azkaban.properties`` are kept in a private temporary folder (0700) while the
import runs, and removed when it ends. Only global admins reach these routes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from starlette.responses import Response

from sudoless.config import Settings
from sudoless.errors import SudolessError
from sudoless.server.dispatch import GET, POST, Call
from sudoless.server.ui.admin import admin_route
from sudoless.server.ui.web import data, redirect, render
from sudoless.store import Store

__all__ = ["ROUTES", "ImportJob"]

log = logging.getLogger(__name__)

PAGE = "/ui/status/azkaban-import"
HISTORY_CHOICES = ("all", "none")


@dataclass
class ImportJob:
    """One import started from the page: who, from where (host and database, no user or password), how far
    it is (``step``, ``done`` of ``total``), and its end: the report as JSON, or the error."""

    started_by: str
    started: int
    origin: str
    dry_run: bool
    step: str = "connecting"
    done: int = 0
    total: int = 0
    finished: int | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, step: str, done: int, total: int) -> None:
        with self.lock:
            self.step, self.done, self.total = step, done, total

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "state": "running" if self.finished is None else ("failed" if self.error else "done"),
                "started_by": self.started_by,
                "started": self.started,
                "origin": self.origin,
                "dry_run": self.dry_run,
                "step": self.step,
                "done": self.done,
                "total": self.total,
                "finished": self.finished,
                "report": self.report,
                "error": self.error,
            }


class ImportJobs:
    """The server's current (or last) import; kept on the application's state."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: ImportJob | None = None


def _jobs(call: Call) -> ImportJobs:
    state = call.request.app.state
    with _STATE_LOCK:
        if not hasattr(state, "azkaban_imports"):
            state.azkaban_imports = ImportJobs()
        jobs: ImportJobs = state.azkaban_imports
    return jobs


_STATE_LOCK = threading.Lock()


def page(call: Call, status: int = 200, error: str | None = None, form: dict[str, str] | None = None) -> Response:
    job = _jobs(call).current
    return render(
        call,
        "azkaban_import.html",
        status=status,
        title="Import from Azkaban",
        job=job.to_json() if job is not None else None,
        elsewhere=call.store.executions.elsewhere(),
        error=error,
        form=form or {"source": "", "projects": "", "history": "all", "on_conflict": "fail", "enable_schedules": ""},
    )


def show(call: Call) -> Response:
    return page(call)


def progress(call: Call) -> Response:
    job = _jobs(call).current
    return data(job.to_json() if job is not None else {"state": "none"})


def start(call: Call) -> Response:
    """Check the form, then run the import (or its dry run) in a thread; the page follows its progress."""
    from sudoless.azkaban_import import ImportOptions
    from sudoless.azkaban_import.source import AzkabanSource, holds_password, origin_of

    params = call.params
    form = {
        "source": (params.get("source") or "").strip(),
        "projects": (params.get("projects") or "").strip(),
        "history": (params.get("history") or "all").strip(),
        "on_conflict": params.get("on_conflict") or "fail",
        "enable_schedules": "1" if params.get("enable_schedules") else "",
    }
    history = form["history"]
    if history not in HISTORY_CHOICES and not history.isdigit():
        return page(call, 400, f"History {history!r}: give a number of days, 'all' or 'none'.", form)
    if not form["source"]:
        return page(call, 400, "Give Azkaban's database as mysql://USER@HOST/DATABASE.", form)
    options = ImportOptions(
        source_url=form["source"],
        password=params.get("password") or None,
        projects=tuple(p.strip() for p in form["projects"].split(",") if p.strip()),
        dry_run=bool(params.get("dry_run")),
        on_conflict=form["on_conflict"],
        enable_schedules=bool(form["enable_schedules"]),
        history=history,
    )
    try:
        AzkabanSource(options.source_url).close()  # the URL's shape (no password in it) before a thread starts
    except SudolessError as exc:
        if holds_password(form["source"]):
            form["source"] = ""  # a URL with a password in it is not shown back
        return page(call, 400, str(exc), form)
    jobs = _jobs(call)
    with jobs.lock:
        running = jobs.current
        if running is not None and running.finished is None:
            return page(call, 409, f"An import started by {running.started_by} is running; wait for its report.", form)
        job = ImportJob(call.user.name, call.store.clock(), origin_of(options.source_url), options.dry_run)
        jobs.current = job
    scratch = Path(tempfile.mkdtemp(prefix="sudoless-azkaban-import-"))  # 0700
    options = replace(
        options,
        users=_keep(call, "users_file", scratch / "azkaban-users.xml"),
        properties=_keep(call, "properties_file", scratch / "azkaban.properties"),
    )
    thread = threading.Thread(
        target=_run, args=(call.store, call.settings, job, options, scratch), name="azkaban-import", daemon=True
    )
    thread.start()
    return redirect(PAGE)


def _keep(call: Call, field_name: str, path: Path) -> Path | None:
    """The uploaded file ``field_name`` copied to ``path`` (0600) for the import's thread; None if none came
    (the request's own copy goes when the request ends)."""
    upload = call.params.file(field_name)
    if upload is None or not upload.filename:
        return None
    upload.file.seek(0)
    with open(path, "xb") as out:
        path.chmod(0o600)
        shutil.copyfileobj(upload.file, out)
    return path


def _run(store: Store, settings: Settings, job: ImportJob, options: Any, scratch: Path) -> None:
    from sudoless.azkaban_import import import_azkaban

    report: dict[str, Any] | None = None
    error: str | None = None
    try:
        report = import_azkaban(store, settings, options, job.progress).to_json()
    except SudolessError as exc:
        error = str(exc)
    except Exception:
        log.exception("the Azkaban import from %s failed", job.origin)
        error = "the import failed unexpectedly; the server's log has the details"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with job.lock:
        job.report, job.error, job.finished = report, error, store.clock()
    log.info("Azkaban import from %s by %s ended: %s", job.origin, job.started_by, error or "done")


ROUTES = [
    (PAGE, admin_route("azkaban-import", show, GET)),
    (PAGE, admin_route("start-azkaban-import", start, POST)),
    ("/ui/data/azkaban-import", admin_route("data:azkaban-import", progress, GET)),
]
