"""Executes one flow: walks the DAG, runs ready jobs in parallel, applies Azkaban's rules.

One :class:`FlowRunner` owns one execution. Jobs run in worker threads (each job's processes in their
own process group). The state machine is guarded by one lock (``FlowRunner.state_lock``): the runner's
loop holds it except while it waits, and reacts to due retries, to the timers of its writes and to control
requests (cancel, pause, resume, retry failed) that any process may post through the store. A job's end is
decided by the thread that ran the job, under the same lock, which then starts the first job that end made
ready itself: on a chain of short jobs, one job's end and the next one's start pass through no other thread
(a hand-off to the loop and back cost each job two wake-ups on the chain's critical path).

Rules, as Azkaban applies them (docs/azkaban.md, "Conditions" and "Statuses and failure actions"):

* A node is examined when all its parents have finished. A killed flow, or a failed one under
  FINISH_CURRENTLY_RUNNING, CANCELS it; a disabled node is SKIPPED; a false condition CANCELS it
  (the default condition is ``all_success``, so a failed or cancelled parent cancels its children).
* A job failure (after its retries) fails the flow only when the job has no children or one of them
  uses ``all_success``; a condition such as ``one_failed`` absorbs it. Under CANCEL_ALL the failure
  kills every running job and the flow ends KILLED.
* The flow ends FAILED after a counted failure, KILLED after a cancel or when an end node was
  CANCELLED by a condition, SUCCEEDED otherwise.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sudoless.config import Settings, process_environment
from sudoless.flows.attempt import Attempt, attempt_stem, default_cwd, run_attempt
from sudoless.flows.formats.conditions import Condition, Macro, parse_condition
from sudoless.flows.formats.precedence import flow_builtins, job_builtins, job_props, node_layers, overlay
from sudoless.flows.formats.substitution import resolve_props
from sudoless.flows.formats.validate import descendants
from sudoless.flows.joblog import LogWriter, log_line
from sudoless.flows.jobthreads import JobThreads
from sudoless.flows.jobtypes import JobResult
from sudoless.flows.model import FailureAction, Flow, Node, Project
from sudoless.flows.notify import events as notify
from sudoless.flows.notify.callbacks import has_callbacks
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.pipeline import Pipeline
from sudoless.flows.quota import DirQuota
from sudoless.flows.sandbox import JobSandbox
from sudoless.store import Store
from sudoless.store.light.executions import ExecutionRecord
from sudoless.store.status import FINISHED, Status

CONTROL_POLL_SECONDS = 0.5
#: A job's RUNNING row waits this long before it is written, so that a job that ends sooner costs one
#: commit instead of two. A crash inside the window leaves that job READY in the store: crash recovery
#: then cancels it rather than killing it, and cannot kill its process group (no pid yet).
RUNNING_WRITE_DELAY = 0.05
#: What the runner changed waits at most this long to be written, so that jobs ending close together (a chain or
#: a fan-out of short jobs) share one commit instead of one each. The runner decides from its own memory, never
#: from these rows, so a dependant may start before its parent's SUCCEEDED is written; the rows are written in
#: the order they changed, in one transaction, so the store never shows a job started before its parent ended.
#: Anything another reader acts on is written first: the execution's own status, a first-failure notification,
#: a wake-up's acknowledgement, the end of the run. A crash inside the window loses what was not written yet:
#: recovery then kills or cancels those jobs (as for a RUNNING row held back) and a restart runs them again.
WRITE_DELAY = 0.05


@dataclass
class RunNode:
    nested_id: str
    node: Node
    container: str
    parents: list[str]
    children: list[str] = field(default_factory=list)
    inner: list[str] = field(default_factory=list)
    condition: Condition | None = None
    status: Status = Status.READY
    attempt: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    input: dict[str, str] = field(default_factory=dict)
    #: for an embedded flow: the input its own nodes inherit (its input plus its layers 3 to 5)
    scope: dict[str, str] = field(default_factory=dict)
    #: the properties the current attempt ran with (retries and backoff are read from them)
    resolved: dict[str, str] = field(default_factory=dict)
    counted_failure: bool = False
    #: parents not finished yet; a node is examined only when this reaches zero
    open_parents: int = 0

    @property
    def macro(self) -> Macro:
        return self.condition.macro if self.condition else Macro.ALL_SUCCESS


@dataclass
class _Started:
    nested_id: str
    pid: int | None
    first: bool
    when: int
    #: monotonic time of the start: the held-back RUNNING row's RUNNING_WRITE_DELAY runs from it
    at: float


@dataclass
class _Wake:
    """A request to poll control requests now rather than at the next tick (:meth:`FlowRunner.wake`)."""

    #: set once the loop has polled, then decided what runs and written that to the store
    done: threading.Event


class _Nudge:
    """Put on the loop's queue by a job thread that changed what the loop waits for (something due sooner than
    the loop's wake-up, or no job running any more): the loop takes another pass."""


_NUDGE = _Nudge()


@dataclass
class _Raise:
    """A runner error met by a job thread while it decided an end: raised in the loop, which stops the run as
    it does for its own errors (the jobs killed, the rows written)."""

    error: BaseException


@dataclass
class _Done:
    nested_id: str
    result: JobResult
    #: the job log's unwritten tail (offset, bytes), stored with the final status in one transaction
    log_tail: tuple[int, bytes]
    #: the job's first start report when the loop had not collected it yet (:meth:`FlowRunner._collect_starts`):
    #: taken before the end, in the same wake-up of the loop
    started: _Started | None = None


class FlowRunner:
    """Runs execution ``record`` of ``project`` (unpacked at ``workdir``) to the end and returns its status."""

    def __init__(
        self, store: Store, settings: Settings, record: ExecutionRecord, project: Project, workdir: Path
    ) -> None:
        self.store = store
        self.settings = settings
        self.record = record
        self.exec_id = record.id
        self.project = project
        self.workdir = workdir
        self.flow = project.flow(record.flow_id)
        self.options = ExecutionOptions.from_json(record.options)
        self.action = self.options.effective_failure_action(self.flow)
        self.parallel = max(1, self.options.parallel)
        self.nodes: dict[str, RunNode] = {}
        self.siblings: dict[str, list[str]] = {}
        self.flow_log = LogWriter(store, self.exec_id, "", 0, settings.log_chunk_bytes, shared=True)
        self.events: queue.SimpleQueue[_Done | _Started | _Wake | _Nudge | _Raise] = queue.SimpleQueue()
        #: held by whoever changes the state machine: the loop, except while it waits, or a job thread deciding
        #: its job's end (:meth:`_end_here`). Never taken while holding ``start_lock``.
        self.state_lock = threading.Lock()
        #: monotonic time the waiting loop will wake up by itself (0 while it runs or has been nudged): a job
        #: thread that makes anything due before it nudges the loop (:meth:`_nudge_loop`)
        self.loop_wake_at = 0.0
        #: set to True by a job thread deciding its end: :meth:`_start_job` then leaves the first job it starts
        #: (the node and its cancel event) here for that thread to run, instead of on another job thread
        self.start_here: bool | tuple[RunNode, threading.Event] | None = None
        #: when the loop polls control requests next (monotonic)
        self.next_poll = 0.0
        #: wake-ups taken in this pass of the loop, acknowledged once it has scheduled and flushed
        self.woken: list[threading.Event] = []
        self.poll_now = False
        self.stopped = False
        #: what the loop and the job threads deciding ends changed, written in one transaction by :meth:`_flush`
        #: under the state lock (so in the order made); the loop writes on its timer, a job thread only what a
        #: reader acts on at once (an execution's status), so a job's end and its successor's start never wait
        #: for the database
        self.changes: list[tuple[str, int, dict[str, object]]] = []
        #: the values of ``changes`` by row (nested id, attempt): a row changed twice before a write (a job's
        #: held-back RUNNING row and its end) is one UPDATE with both, not two
        self.change_rows: dict[tuple[str, int], dict[str, object]] = {}
        #: monotonic time of the oldest change not written yet (WRITE_DELAY), None when all are written
        self.changes_since: float | None = None
        self.log_chunks: list[tuple[str, int, int, bytes]] = []
        #: RUNNING rows held back for RUNNING_WRITE_DELAY: nested id -> (attempt, values, monotonic time)
        self.started_rows: dict[str, tuple[int, dict[str, object], float]] = {}
        #: a job's first start report is left here for the loop to collect, not put on ``events``: a job that
        #: ends within RUNNING_WRITE_DELAY hands its start and its end over in one wake-up of the loop instead
        #: of two (a chain of short jobs pays each wake-up on its critical path). Nested id -> report.
        self.start_reports: dict[str, _Started] = {}
        #: jobs whose first start report the loop collects itself, with the monotonic time it does so (their
        #: start + RUNNING_WRITE_DELAY at the latest, when their RUNNING row is due anyway); a job no longer
        #: listed posts its reports on ``events``. Changed under ``start_lock`` once its job thread runs.
        self.quiet_starts: dict[str, float] = {}
        self.start_lock = threading.Lock()
        self.running: dict[str, threading.Event] = {}
        self.waiting: list[str] = []
        #: nodes held back by a pipelined previous execution, re-examined at each control poll
        self.pipeline_blocked: set[str] = set()
        self.pipeline = Pipeline(store, self.options.pipeline_execution, self.options.pipeline_level)
        #: nodes waiting out their ``retry.backoff``: nested id -> monotonic time of the next attempt
        self.retry_due: dict[str, float] = {}
        self.pending: set[str] = set()
        self.status = Status.RUNNING
        self.failing = False
        self.killing = False
        self.paused = False
        self.start_ms = -1
        self.host = socket.gethostname()
        #: the executor's environment, read once: jobs get a copy plus their ``env.*`` properties
        self.base_env = process_environment()
        #: what each job process of this execution may touch: its directory, not the rest of the home
        self.sandbox = JobSandbox.for_execution(
            settings, workdir, store.project_settings.sandbox_grants(record.project_id)
        )
        self.root_input: dict[str, str] | None = None
        #: Azkaban's azkaban.flow.uuid: a random UUID naming this run of the flow
        self.uuid = str(uuid.uuid4())
        self._expand(self.flow, "", "")
        self._load_state()
        self._count_open_parents()
        #: what the jobs may write into ``workdir``, measured after each job and on a timer
        self.quota = DirQuota(self.exec_id, workdir, settings.execution_dir_max_mb)
        #: why the execution failed on its own account (its directory over quota), once that happened
        self.quota_reason: str | None = None
        #: the log of each running job, so that a reason of the runner's can reach it
        self.job_logs: dict[str, LogWriter] = {}
        (workdir / ".jobs").mkdir(exist_ok=True)
        #: where the attempts' files go (a string: joined for every job, where pathlib costs)
        self.jobs_dir = str(workdir / ".jobs")
        #: job threads live as long as the execution: starting a thread per job costs more than a job
        self.pool = JobThreads(self.parallel, f"exec-{self.exec_id}")

    # -- building the node tree ------------------------------------------------------------------------

    def _expand(self, flow: Flow, prefix: str, container: str) -> None:
        names = []
        for name, node in flow.nodes.items():
            nested = prefix + name
            names.append(nested)
            condition = None
            if node.condition:
                condition = parse_condition(node.condition, name, flow.nodes.keys(), descendants(flow, name))
            self.nodes[nested] = RunNode(
                nested, node, container, [prefix + d for d in node.dependencies], condition=condition
            )
            if node.subflow is not None:
                self._expand(self.project.flows[node.subflow], nested + ":", nested)
                self.nodes[nested].inner = [nested + ":" + n for n in self.project.flows[node.subflow].nodes]
        for nested in names:
            for parent in self.nodes[nested].parents:
                self.nodes[parent].children.append(nested)
        self.siblings[container] = names

    def _load_state(self) -> None:
        """Take statuses and attempts from the store: a fresh execution has READY and DISABLED rows."""
        for nested_id, attempt, status in self.store.job_runs.attempt_statuses(self.exec_id):
            node = self.nodes.get(nested_id)
            if node is not None and attempt >= node.attempt:
                node.attempt, node.status = attempt, status
        if self.options.reuse_outputs_from is not None:
            # A restart disables what already succeeded; its dependants still need what it output.
            for run in self.store.job_runs.of(self.options.reuse_outputs_from):
                node = self.nodes.get(run.nested_id)
                if node is not None and node.status == Status.DISABLED and run.output_props:
                    node.outputs = run.output_props

    def _count_open_parents(self) -> None:
        """Set each node's count of unfinished parents from the statuses (at start, and after a retry)."""
        self.counted = {n for n, node in self.nodes.items() if node.status in FINISHED}
        for node in self.nodes.values():
            node.open_parents = sum(1 for p in node.parents if p not in self.counted)

    # -- the loop --------------------------------------------------------------------------------------

    def run(self) -> Status:
        with self.state_lock:  # released only while the loop waits (_wait)
            return self._run()

    def _run(self) -> Status:
        self.start_ms = self.store.clock()
        self._set_execution(status=Status.RUNNING, start_time=self.start_ms)
        self.flow_log.line(
            f"Running execution {self.exec_id} of flow {self.flow.name} in project "
            f"{self.project.name} (failure action {self.action.value}, parallel {self.parallel})"
        )
        if self.options.start_emails or self.options.webhooks:
            notify.flow_started(self.store, self.settings, self.exec_id)
        self.pending.update(self.siblings[""])
        try:
            while True:
                self._schedule()
                self._flush()
                self._acknowledge_wakeups()
                if not self.running and not self.waiting and not self.retry_due and self._all_finished():
                    break
                for event in self._wait():
                    self._on_event(event)
                self._collect_starts()
                self._due_retries()
                if self.running:
                    self._check_quota()
                if self.poll_now or time.monotonic() >= self.next_poll:
                    self.poll_now = False
                    self._poll_control()
                    self.flow_log.flush_if_due()
                    self.next_poll = time.monotonic() + CONTROL_POLL_SECONDS
        except BaseException:
            self._kill_running()
            raise
        finally:
            self.pool.shutdown()
            self.sandbox.close()
            self._flush(force=True, held=True)
            # nobody waits forever on a runner that has stopped: wake() sees the flag after its put, this
            # sees any wake-up put before it; a job thread that ends a job after this leaves it (_end_here)
            self.stopped = True
            self._drain_wakeups()
        return self._finish()

    def _wait(self) -> list[_Done | _Started | _Wake | _Nudge | _Raise]:
        """Wait, without the state lock, until an event comes or the next thing is due; the events that came.

        Job threads decide their jobs' ends meanwhile (:meth:`_end_here`), and nudge the loop when they make
        something due before the time it planned to wake up."""
        now = time.monotonic()
        timeout = self._next_wakeup(now)
        self.loop_wake_at = now + timeout
        events = []
        self.state_lock.release()
        try:
            try:
                events.append(self.events.get(timeout=timeout))
                while True:
                    events.append(self.events.get_nowait())
            except queue.Empty:
                pass
        finally:
            self.state_lock.acquire()
            self.loop_wake_at = 0.0
        return events

    def wake(self) -> threading.Event:
        """Make the loop poll control requests (cancel, pause, resume, retry) now instead of at its next tick
        (every CONTROL_POLL_SECONDS). The event returned is set once the loop has done so, then decided what
        runs and written the statuses it changed (a job's RUNNING row may still wait out RUNNING_WRITE_DELAY),
        or once the run has ended: a caller in this process (a test) then sees the outcome of its request
        without waiting out a tick. Safe from any thread."""
        done = threading.Event()
        self.events.put(_Wake(done))
        if self.stopped:
            done.set()
        return done

    def _drain_wakeups(self) -> None:
        self._acknowledge_wakeups()
        try:
            while True:
                event = self.events.get_nowait()
                if isinstance(event, _Wake):
                    event.done.set()
        except queue.Empty:
            pass

    def _acknowledge_wakeups(self) -> None:
        for done in self.woken:
            done.set()
        self.woken.clear()

    def _flush(self, force: bool = False, held: bool = False) -> None:
        """Write the changes once the oldest has waited WRITE_DELAY (at once when ``force``, or when a wake-up
        waits for them), with the RUNNING rows held back for RUNNING_WRITE_DELAY (all of them when ``held``)."""
        now = time.monotonic()
        due = now - RUNNING_WRITE_DELAY
        for nested, (attempt, values, when) in list(self.started_rows.items()):
            if held or when <= due:
                self._queue(nested, attempt, values, when)
                del self.started_rows[nested]
        if not self.changes and not self.log_chunks:
            return
        if force or self.woken or self.changes_since is None or now >= self.changes_since + WRITE_DELAY:
            changes, logs = self.changes, self.log_chunks
            self.changes, self.log_chunks, self.changes_since = [], [], None
            self.change_rows = {}
            self.store.job_runs.update_many(self.exec_id, changes, logs)

    def _queue(self, nested: str, attempt: int, values: dict[str, object], when: float | None = None) -> None:
        """Add one row's change to the next write; ``when`` it was made (now by default) starts WRITE_DELAY.

        A row already in that write takes the new values into its own: the write is one transaction, so no
        reader could have seen the state between the two, and the row ends as the changes in order make it."""
        row = self.change_rows.get((nested, attempt))
        if row is None:
            self.change_rows[(nested, attempt)] = row = dict(values)
            self.changes.append((nested, attempt, row))
        else:
            row.update(values)
        when = time.monotonic() if when is None else when
        if self.changes_since is None or when < self.changes_since:
            self.changes_since = when

    def _set_execution(self, **values: object) -> None:
        """Update the execution's row, after the job rows that led to it (a reader may act on its status)."""
        self._flush(force=True)
        self.store.executions.update(self.exec_id, **values)

    def _on_event(self, event: _Done | _Started | _Wake | _Nudge | _Raise) -> None:
        if isinstance(event, _Nudge):
            return
        if isinstance(event, _Raise):
            raise event.error
        if isinstance(event, _Wake):
            self.poll_now = True
            self.woken.append(event.done)
            return
        if isinstance(event, _Done):
            if event.started is not None:
                self._on_event(event.started)
            self._on_done(event)
            return
        values: dict[str, object] = {"pid": event.pid, "host": self.host}
        node = self.nodes[event.nested_id]
        if event.first:
            values["start_time"] = event.when
            if node.status == Status.RUNNING:  # not once a kill has begun: KILLING stays
                values["status"] = Status.RUNNING
            self._job_callbacks(node, "started")
        held = self.started_rows.get(node.nested_id)
        if held is not None:
            values = {**held[1], **values}
        self.started_rows[node.nested_id] = (node.attempt, values, held[2] if held else event.at)

    def _collect_starts(self) -> None:
        """Take the first start report of each job whose RUNNING row is due (RUNNING_WRITE_DELAY after the job
        was handed to its thread); from then on that job posts its reports on ``events``."""
        if not self.quiet_starts:
            return
        now = time.monotonic()
        for nested, due in list(self.quiet_starts.items()):
            if due <= now:
                with self.start_lock:  # its job thread may have ended it since the list was taken
                    self.quiet_starts.pop(nested, None)
                    report = self.start_reports.pop(nested, None)
                if report is not None:
                    self._on_event(report)

    def _next_due(self) -> float:
        """The monotonic time of the loop's next work: a control poll, a retry, a held RUNNING row, a start
        report to collect, a write."""
        held = [when + RUNNING_WRITE_DELAY for _, _, when in self.started_rows.values()]
        held.extend(self.quiet_starts.values())
        if self.changes_since is not None:
            held.append(self.changes_since + WRITE_DELAY)
        return min([self.next_poll, *self.retry_due.values(), *held])

    def _next_wakeup(self, now: float) -> float:
        return max(0.0, min(self._next_due() - now, CONTROL_POLL_SECONDS))

    def _all_finished(self) -> bool:
        return all(self.nodes[n].status in FINISHED for n in self.siblings[""])

    # -- deciding what runs ----------------------------------------------------------------------------

    def _container_running(self, node: RunNode) -> bool:
        return node.container == "" or self.nodes[node.container].status == Status.RUNNING

    def _schedule(self) -> None:
        if self.paused:
            return
        while self.pending:
            batch = sorted(self.pending)
            self.pending.clear()
            for nested in batch:
                self._examine(self.nodes[nested])
        while self.waiting and len(self.running) < self.parallel and not self.paused:
            self._start_job(self.nodes[self.waiting.pop(0)])

    def _examine(self, node: RunNode) -> None:
        if node.status not in (Status.READY, Status.DISABLED) or node.nested_id in self.retry_due:
            return
        if not self._container_running(node):
            return
        if node.open_parents:
            return
        if self.killing or (self.failing and self.action == FailureAction.FINISH_CURRENTLY_RUNNING):
            self._end_branch(node, Status.CANCELLED)
            return
        if node.status == Status.DISABLED:
            self._end_branch(node, Status.SKIPPED)
            return
        if not self._condition_holds(node):
            self._end_branch(node, Status.CANCELLED)
            return
        end_nodes = [n for n in self.siblings[""] if not self.nodes[n].children] if self.pipeline.active else []
        if node.node.subflow is None and not self.pipeline.allows(node.nested_id, node.children, end_nodes):
            self.pipeline_blocked.add(node.nested_id)
            return
        node.input = self._flow_input(node)
        if node.node.subflow is not None:
            node.scope = self._node_props(node)
            self._set(node, Status.RUNNING, start_time=self.store.clock())
            self.pending.update(node.inner)
        elif len(self.running) < self.parallel:
            self._start_job(node)
        else:
            self._set(node, Status.QUEUED)
            self.waiting.append(node.nested_id)

    def _condition_holds(self, node: RunNode) -> bool:
        statuses = {p: self.nodes[p].status for p in node.parents}
        if node.condition is None:
            return Macro.ALL_SUCCESS.satisfied(statuses.values())
        outputs = {self.nodes[s].node.name: self.nodes[s].outputs for s in self.siblings[node.container]}
        return node.condition.evaluate(statuses, outputs)

    def _flow_input(self, node: RunNode) -> dict[str, str]:
        """Layer 2 for ``node``: its container's input, or the root flow's built-ins and config."""
        if node.container:
            return self.nodes[node.container].scope
        if self.root_input is None:
            runtime_root = self.options.runtime.get("ROOT", {})
            owner = self.store.projects.get(project_id=self.record.project_id, active_only=False)
            builtins = flow_builtins(
                flow=self.flow.name,
                exec_id=self.exec_id,
                project_id=self.record.project_id,
                project=self.project.name,
                version=self.record.version,
                submit_user=self.record.submit_user,
                source=self.record.source,
                start_ms=self.start_ms,
                uuid=self.uuid,
                last_changed_by=owner.modified_by if owner else "",
                last_changed_ms=owner.modified_time if owner else -1,
                zone=self.settings.zone,
            )
            self.root_input = overlay(builtins, self.flow.props, runtime_root)
        return self.root_input

    def _node_props(self, node: RunNode) -> dict[str, str]:
        parent_outputs = [self.nodes[p].outputs for p in node.parents]
        runtime = self.options.runtime.get(node.nested_id, {})
        if node.node.subflow is not None:
            return overlay(node.input, node_layers(parent_outputs, node.node.props, runtime))
        eager = []
        if self.settings.runtime_props_eager:
            eager.append(self.options.runtime.get("ROOT", {}))
            parts = node.nested_id.split(":")
            eager += [self.options.runtime.get(":".join(parts[:i]), {}) for i in range(1, len(parts))]
        props = job_props(node.node.shared, node.input, parent_outputs, node.node.props, runtime, eager)
        files = f"{self.jobs_dir}/{attempt_stem(node.nested_id, node.attempt)}"
        props.update(
            job_builtins(
                node.nested_id,
                node.attempt,
                [self.nodes[p].node.name for p in node.parents],
                [self.nodes[c].node.name for c in node.children],
                files,
            )
        )
        # Azkaban's defaults when neither the project nor a runtime property sets them: ${working.dir} is
        # the folder the job runs in, and the user to proxy is the submitter (information here: every job
        # runs as the server's own account).
        props.setdefault("working.dir", str(default_cwd(self.workdir, self.project.flow_version, node.node.source)))
        props.setdefault("user.to.proxy", self.record.submit_user)
        return props

    # -- running jobs ----------------------------------------------------------------------------------

    def _start_job(self, node: RunNode) -> None:
        cancel = threading.Event()
        self.running[node.nested_id] = cancel
        node.status = Status.RUNNING
        self.quiet_starts[node.nested_id] = time.monotonic() + RUNNING_WRITE_DELAY
        if self.start_here is True:  # a job thread deciding an end runs the first job it made ready itself
            self.start_here = (node, cancel)
        else:
            self.pool.submit(lambda: self._job_thread(node, cancel))

    def _job_thread(self, node: RunNode, cancel: threading.Event) -> None:
        """Run ``node``'s attempt, decide its end, and run on here the job that end started, if any."""
        following: tuple[RunNode, threading.Event] | None = (node, cancel)
        while following is not None:
            following = self._end_here(*self._attempt(*following))

    def _attempt(self, node: RunNode, cancel: threading.Event) -> tuple[_Done, bool]:
        """Run one attempt of ``node``; its end, and whether a report of it went on ``events`` (then its end
        must follow it there)."""
        log = LogWriter(
            self.store,
            self.exec_id,
            node.nested_id,
            node.attempt,
            self.settings.log_chunk_bytes,
            copy=f"{self.jobs_dir}/{attempt_stem(node.nested_id, node.attempt)}.log",
        )
        self.job_logs[node.nested_id] = log
        wrote_running = False
        posted = False

        def started(pid: int | None) -> None:
            nonlocal wrote_running, posted
            report = _Started(node.nested_id, pid, not wrote_running, self.store.clock(), time.monotonic())
            wrote_running = True
            with self.start_lock:
                # left for the loop unless it stopped waiting for it, or the job's "started" callbacks are due
                if report.first and node.nested_id in self.quiet_starts and not has_callbacks(node.resolved):
                    self.start_reports[node.nested_id] = report
                    return
                first = self.start_reports.pop(node.nested_id, None)
                posted = True
            if first is not None:  # a later process of the job: the first report goes before it
                self.events.put(first)
            self.events.put(report)

        def resolve() -> dict[str, str]:
            # kept on the node at once: the runner reads it for the job's "started" callbacks
            node.resolved = resolve_props(self._node_props(node))
            return node.resolved

        attempt = Attempt(
            self.exec_id,
            node.nested_id,
            node.node.name,
            node.node.type,
            node.attempt,
            node.node.source,
            self.workdir,
            self.project.flow_version,
        )
        result, node.resolved = run_attempt(attempt, resolve, self.base_env, log, cancel, started, self.sandbox)
        if not wrote_running:
            started(None)
        with self.start_lock:
            self.quiet_starts.pop(node.nested_id, None)
            first = self.start_reports.pop(node.nested_id, None)
            # read under the lock: a report posted by the spawning thread has set it before it let go
            was_posted = posted
        return _Done(node.nested_id, result, log.take(), first), was_posted

    def _end_here(self, done: _Done, posted: bool) -> tuple[RunNode, threading.Event] | None:
        """Decide ``done`` in this job thread, as the loop would (the same code, under the state lock), and
        return the job it made ready first, which this thread runs next; the others go to other job threads.
        An end whose job posted a report on ``events`` goes there after it, in order, for the loop."""
        if posted:
            self.events.put(done)
            return None
        with self.state_lock:
            if self.stopped:  # the run has ended (a runner error): nobody decides anything any more
                return None
            self.start_here = True
            try:
                self._on_event(done)
                self._schedule()
            except BaseException as exc:  # the loop raises it: a runner bug stops the run, never hangs it
                self.events.put(_Raise(exc))
                return None
            finally:
                here, self.start_here = self.start_here, None
            self._nudge_loop()
        return here if isinstance(here, tuple) else None

    def _nudge_loop(self) -> None:
        """Wake the waiting loop when a job thread's decision needs it before it wakes by itself: something due
        sooner (a write, a retry, a start report to collect), or no job running (the run may have ended, or
        waits for a resume). Under the state lock."""
        if self.loop_wake_at and (not self.running or self._next_due() < self.loop_wake_at):
            self.loop_wake_at = 0.0
            self.events.put(_NUDGE)

    def _on_done(self, done: _Done) -> None:
        node = self.nodes[done.nested_id]
        self.running.pop(done.nested_id, None)
        self.job_logs.pop(done.nested_id, None)
        result = done.result
        was_over = self.quota_reason is not None
        if not was_over:
            self._check_quota(job_ended=True)
        over_by_this_job = not was_over and self.quota_reason is not None
        values: dict[str, object] = {"end_time": self.store.clock()}
        retry = False
        if result.succeeded and not over_by_this_job:
            node.outputs = result.outputs
            status = Status.SUCCEEDED
            values["output_props"] = result.outputs
        elif self.quota_reason is not None:
            status = Status.FAILED  # killed by the runner for the directory's quota: a failure, not a cancel
        elif result.killed or self.killing:
            status = Status.KILLED
        elif node.resolved.get("job.succeed.on.failure", "").lower() == "true":
            status = Status.FAILED_SUCCEEDED
        else:
            status = Status.FAILED
            retry = node.attempt < _int(node.resolved.get("retries", node.node.props.get("retries")))
        offset, data = done.log_tail
        if over_by_this_job:
            data += log_line(node.nested_id, f"failed: {self.quota_reason}", "ERROR")
        if data:
            self.log_chunks.append((node.nested_id, node.attempt, offset, data))
        self._set(node, status, **values)
        self._job_callbacks(node, status.value)
        if retry:
            backoff = _int(node.resolved.get("retry.backoff", node.node.props.get("retry.backoff"))) / 1000
            node.attempt += 1
            self.retry_due[node.nested_id] = time.monotonic() + backoff
            self._set(node, Status.READY)
            self.flow_log.line(f"Job {node.nested_id} failed; retry {node.attempt} in {backoff:g} s")
            return
        if status == Status.FAILED and self.quota_reason is None:
            self._count_failure(node)
        self._finished(node)

    def _check_quota(self, job_ended: bool = False) -> None:
        """Measure the directory when due; over its quota, kill what runs and fail the execution."""
        if self.quota_reason is not None:
            return
        reason = self.quota.exceeded(job_ended)
        if reason is None:
            return
        self.quota_reason = reason
        self.flow_log.line(f"{reason}; killing the running jobs, the execution fails", "ERROR")
        for nested in self.running:
            log = self.job_logs.get(nested)
            if log is not None:
                log.line(f"killed: {reason}", "ERROR")
        self.failing = True
        self._start_killing()
        self.status = Status.FAILED_FINISHING
        self._set_execution(status=Status.FAILED_FINISHING)

    def _due_retries(self) -> None:
        now = time.monotonic()
        for nested, due in list(self.retry_due.items()):
            node = self.nodes[nested]
            if due <= now:
                del self.retry_due[nested]
                if self.killing:
                    self._end_branch(node, Status.CANCELLED)
                elif len(self.running) < self.parallel and not self.paused:
                    self._start_job(node)
                else:
                    self._set(node, Status.QUEUED)
                    self.waiting.append(nested)

    # -- failures, ends of branches, containers ---------------------------------------------------------

    def _count_failure(self, node: RunNode) -> None:
        absorbed = node.children and all(self.nodes[c].macro != Macro.ALL_SUCCESS for c in node.children)
        if absorbed:
            return
        node.counted_failure = True
        container = node.container
        while container:
            self.nodes[container].counted_failure = True
            container = self.nodes[container].container
        if not self.failing:
            self.failing = True
            self.flow_log.line(f"Job {node.nested_id} failed; flow is failing ({self.action.value})", "ERROR")
            if self.action == FailureAction.CANCEL_ALL:
                self._start_killing()
            elif not self.paused:
                self.status = Status.FAILED_FINISHING
                self._set_execution(status=Status.FAILED_FINISHING)
                if self.options.notify_failure_first or self.options.webhooks:
                    self._flush(force=True)  # the message lists the failed job: its row must be written first
                    notify.flow_first_failure(self.store, self.settings, self.exec_id)

    def _end_branch(self, node: RunNode, status: Status) -> None:
        """End a node that will not run; a subflow's nodes all end with it."""
        stack = [node.nested_id]
        while stack:
            current = self.nodes[stack.pop()]
            if current.status in FINISHED:
                continue
            current.status = status
            self.retry_due.pop(current.nested_id, None)
            self._queue(current.nested_id, current.attempt, {"status": status})
            stack.extend(current.inner)
        self._finished(node)

    def _finished(self, node: RunNode) -> None:
        if node.nested_id not in self.counted:
            self.counted.add(node.nested_id)
            for child in node.children:
                self.nodes[child].open_parents -= 1
        self.pending.update(node.children)
        if node.container:
            container = self.nodes[node.container]
            if container.status == Status.RUNNING and all(self.nodes[n].status in FINISHED for n in container.inner):
                self._finish_container(container)

    def _finish_container(self, container: RunNode) -> None:
        inner = [self.nodes[n] for n in container.inner]
        ends = [n for n in inner if not n.children]
        if container.counted_failure:
            status = Status.FAILED
        elif any(n.status == Status.KILLED for n in inner) or any(n.status == Status.CANCELLED for n in ends):
            status = Status.KILLED
        else:
            status = Status.SUCCEEDED
        container.outputs = overlay(*(n.outputs for n in ends))
        self._set(container, status, end_time=self.store.clock(), output_props=container.outputs)
        self._finished(container)

    def _job_callbacks(self, node: RunNode, status: str) -> None:
        """Queue the job's ``job.notification.*`` callbacks for ``status`` (:mod:`sudoless.flows.notify`)."""
        if node.node.subflow is not None or not has_callbacks(node.resolved):
            return
        for line in notify.job_event(
            self.store,
            self.settings,
            self.exec_id,
            self.project.name,
            self.flow.name,
            node.nested_id,
            status,
            node.resolved,
        ):
            self.flow_log.line(f"Job {node.nested_id}: {line}")

    def _set(self, node: RunNode, status: Status, **values: object) -> None:
        node.status = status
        # a RUNNING row still held back goes first, so that the later status (its end, KILLING) wins
        held = self.started_rows.pop(node.nested_id, None)
        if held is not None:
            self._queue(node.nested_id, held[0], held[1], held[2])
        self._queue(node.nested_id, node.attempt, {"status": status, **values})

    # -- control requests ------------------------------------------------------------------------------

    def _poll_control(self) -> None:
        request = self.store.executions.take_control(self.exec_id)
        if request:
            self.apply(request)
        if self.pipeline_blocked:
            self.pipeline.refresh()
            self.pending.update(self.pipeline_blocked)
            self.pipeline_blocked.clear()

    def apply(self, request: str) -> None:
        """Act on ``cancel``, ``pause``, ``resume`` or ``retry_failed``."""
        self.flow_log.line(f"Request: {request}")
        if request == "cancel" and not self.killing:
            self._start_killing()
        elif request == "pause" and not self.killing:
            self.paused = True
            self._set_execution(status=Status.PAUSED)
        elif request == "resume" and self.paused:
            self.paused = False
            self.status = Status.FAILED_FINISHING if self.failing else Status.RUNNING
            self._set_execution(status=self.status)
        elif request == "retry_failed" and self.failing and not self.killing:
            self._retry_failed()

    def _start_killing(self) -> None:
        self.killing = True
        self.status = Status.KILLING
        self._set_execution(status=Status.KILLING)
        for nested, cancel in self.running.items():
            self._set(self.nodes[nested], Status.KILLING)
            cancel.set()
        for nested in self.waiting:
            self._end_branch(self.nodes[nested], Status.CANCELLED)
        self.waiting.clear()
        for nested in list(self.retry_due):
            self._end_branch(self.nodes[nested], Status.CANCELLED)
        self.pending.update(n for n, node in self.nodes.items() if node.status in (Status.READY, Status.DISABLED))
        self.paused = False

    def _kill_running(self) -> None:
        for cancel in self.running.values():
            cancel.set()

    def _retry_failed(self) -> None:
        """Azkaban's retryFailedJobs: failed, killed and cancelled nodes run again in this execution."""
        self.failing = False
        for node in self.nodes.values():
            node.counted_failure = False
            if node.status in (Status.FAILED, Status.KILLED, Status.CANCELLED):
                if node.node.subflow is None and node.status != Status.CANCELLED:
                    node.attempt += 1
                self._set(node, Status.READY)
        self._count_open_parents()
        self.pending.update(n for n, node in self.nodes.items() if node.status == Status.READY)
        self.status = Status.RUNNING
        self._set_execution(status=Status.RUNNING)

    # -- the end ---------------------------------------------------------------------------------------

    def _finish(self) -> Status:
        ends = [self.nodes[n] for n in self.siblings[""] if not self.nodes[n].children]
        if self.quota_reason is None:
            self.quota_reason = self.quota.exceeded(final=True)
            if self.quota_reason is not None:
                self.flow_log.line(f"{self.quota_reason}; the execution fails", "ERROR")
        if self.quota_reason is not None:
            status = Status.FAILED
        elif self.killing:
            status = Status.KILLED
        elif self.failing:
            status = Status.FAILED
        elif any(n.status in (Status.CANCELLED, Status.KILLED) for n in ends):
            status = Status.KILLED
        else:
            status = Status.SUCCEEDED
        self.flow_log.line(f"Flow {self.flow.name} finished: {status.value}")
        self.flow_log.flush()
        self._set_execution(status=status, end_time=self.store.clock())
        if self.options.failure_emails or self.options.success_emails or self.options.webhooks:
            notify.flow_finished(self.store, self.settings, self.exec_id)
        return status


def _int(text: str | None) -> int:
    try:
        return int(str(text).strip()) if text not in (None, "") else 0
    except ValueError:
        return 0
