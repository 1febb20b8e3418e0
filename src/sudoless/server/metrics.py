"""``/metrics`` in Prometheus's text format, and ``/healthz`` for a load balancer.

Several server processes may share one database (HTTP workers of one server, servers on several hosts),
and a scrape reaches any one of them. So what a user means as "the installation" is read from the database
at scrape time, with small indexed queries (:mod:`sudoless.store.metrics`), and every process answers
it alike: do not sum those across instances. Only what exists in one process alone is counted there.

From the database: ``sudoless_executions`` (by status), ``sudoless_queue_depth``, ``sudoless_running_jobs``,
``sudoless_executors_alive``, ``sudoless_schedule_lag_seconds`` (per schedule: how far behind its next slot
the scheduler is; 0 while on time), ``sudoless_login_failures_last_hour``, ``sudoless_notifications_failed``
(given up, by channel), ``sudoless_notifications_waiting`` and the duration histograms
``sudoless_flow_duration_seconds`` / ``sudoless_job_duration_seconds`` (by final status, of everything that
finished; each process tallies them once, then only the executions that ended since its last scrape).
From this process: ``sudoless_scheduler_up`` and ``sudoless_notification_failures_total`` (each failed
attempt of this server's notification sender, through :func:`count_notification_failure`).

Access: an admin's session (``Authorization: Bearer <session id>`` or the web UI's cookie), an API token an
admin made with READ on every project (``*:READ``, for a Prometheus's ``credentials_file``), or a client
address in the ``metrics_allow`` setting (addresses or networks).
Anyone else gets 403: on a shared machine the names of projects and flows are not everybody's business.
``/healthz`` needs no login and says nothing beyond its status code.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sudoless.accounts import Permission
from sudoless.errors import ConfigError
from sudoless.server import sessions
from sudoless.store import Store

if TYPE_CHECKING:
    from sudoless.flows.scheduler import Scheduler
    from sudoless.server.dispatch import Services

__all__ = ["DURATION_BUCKETS", "count_notification_failure", "healthz", "metrics", "render"]

log = logging.getLogger(__name__)

#: The text format every Prometheus reads (prometheus_client's output is the same for names like ours).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: seconds: a job of a second to a nightly run of several hours.
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0)
_HOUR_MS = 3_600_000

_NOTIFICATIONS = CollectorRegistry(auto_describe=True)
_NOTIFICATION_FAILURES = Counter(
    "sudoless_notification_failures",
    "Notifications (e-mail, webhook) that failed to send, counting each failed attempt, in this process.",
    ["channel"],
    registry=_NOTIFICATIONS,
)


for _channel in ("email", "webhook"):  # the usual series exist at 0 before the first failure
    _NOTIFICATION_FAILURES.labels(channel=_channel)


def count_notification_failure(channel: str = "email") -> None:
    """Count one failed attempt to send a notification over ``channel`` (``email``, ``webhook``...)."""
    _NOTIFICATION_FAILURES.labels(channel=channel).inc()


class _Durations:
    """Cumulative duration histograms of finished executions and their jobs, kept per process from the
    database: the first scrape reads every execution, later ones the new ids and those still unfinished."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.flows: dict[str, list[float]] = {}  # status -> [count per bucket..., +Inf count, sum]
        self.jobs: dict[str, list[float]] = {}
        self.next_id = 0  # every execution numbered below was read
        self.unfinished: list[int] = []  # ... and these of them had not finished then

    def update(self, store: Store) -> None:
        with self.lock:
            rows = store.metrics.executions_from(self.next_id, self.unfinished)
            done = [f for f in rows if f.end_time >= 0]
            self.unfinished = [f.id for f in rows if f.end_time < 0]
            self.next_id = max([self.next_id, *(f.id + 1 for f in rows)])
            counted = [f for f in done if f.start_time >= 0]  # cancelled before it started: no duration
            for flow in counted:
                _observe(self.flows, flow.status, flow.end_time - flow.start_time)
            for job in store.metrics.finished_jobs([f.id for f in counted]):
                _observe(self.jobs, job.status, job.end_time - job.start_time)

    def families(self) -> Iterator[Metric]:
        with self.lock:
            for name, what, tally in (
                ("sudoless_flow_duration_seconds", "executions", self.flows),
                ("sudoless_job_duration_seconds", "job attempts", self.jobs),
            ):
                family = HistogramMetricFamily(
                    name,
                    f"Run time of finished {what} (start to end), by final status; from the database.",
                    labels=["status"],
                )
                for status, counts in sorted(tally.items()):
                    cumulative, buckets = 0.0, []
                    for bound, count in zip((*map(str, DURATION_BUCKETS), "+Inf"), counts[:-1], strict=True):
                        cumulative += count
                        buckets.append((bound, cumulative))
                    family.add_metric([status], buckets, counts[-1])
                yield family


def _observe(tally: dict[str, list[float]], status: str, millis: int) -> None:
    counts = tally.setdefault(status, [0.0] * (len(DURATION_BUCKETS) + 2))
    seconds = max(0, millis) / 1000
    index = next((i for i, bound in enumerate(DURATION_BUCKETS) if seconds <= bound), len(DURATION_BUCKETS))
    counts[index] += 1
    counts[-1] += seconds


class _Installation(Collector):
    """What the database says at scrape time, plus this process's scheduler."""

    def __init__(self, store: Store, scheduler: Scheduler, executor_timeout_ms: int) -> None:
        self.store = store
        self.scheduler = scheduler
        self.executor_timeout_ms = executor_timeout_ms
        self.durations = _Durations()

    def collect(self) -> Iterable[Metric]:
        store, now = self.store, self.store.clock()
        by_status = GaugeMetricFamily(
            "sudoless_executions", "Executions in the database, by status.", labels=["status"]
        )
        for status, count in sorted(store.metrics.executions_by_status().items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily(
            "sudoless_queue_depth",
            "Executions submitted and not yet claimed by an executor.",
            value=store.executions.queued_count(),  # the admin page's queue figure too
        )
        yield GaugeMetricFamily(
            "sudoless_running_jobs",
            "Job attempts running now, across all executors.",
            value=store.metrics.running_jobs(),
        )
        yield GaugeMetricFamily(
            "sudoless_executors_alive",
            "Executors whose heartbeat is recent.",
            value=store.metrics.executors_alive(now - self.executor_timeout_ms),
        )
        lag = GaugeMetricFamily(
            "sudoless_schedule_lag_seconds",
            "How long ago each enabled schedule's next slot was due and not yet fired (0 while on time).",
            labels=["project", "flow"],
        )
        for project, flow, slot in sorted(store.metrics.schedule_slots()):
            lag.add_metric([project, flow], max(0, now - slot) / 1000)
        yield lag
        yield GaugeMetricFamily(
            "sudoless_login_failures_last_hour",
            "Failed logins in the last hour, all server processes of the database.",
            value=store.metrics.login_failures_since(now - _HOUR_MS),
        )
        failed = GaugeMetricFamily(
            "sudoless_notifications_failed",
            "Notifications given up on after their last attempt, by channel.",
            labels=["channel"],
        )
        for channel, count in sorted(store.metrics.notifications_failed().items()):
            failed.add_metric([channel], count)
        yield failed
        yield GaugeMetricFamily(
            "sudoless_notifications_waiting",
            "Notifications not sent yet (due, waiting for a retry, or being sent).",
            value=store.metrics.notifications_waiting(),
        )
        yield GaugeMetricFamily(
            "sudoless_scheduler_up",
            "1 while this server's scheduler runs, else 0.",
            value=1 if self.scheduler.alive() else 0,
        )
        self.durations.update(store)
        yield from self.durations.families()


def registry_for(services: Services) -> CollectorRegistry:
    """The registry a server's ``/metrics`` renders: the installation's values and this process's counters."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Installation(services.store, services.scheduler, int(services.settings.executor_timeout * 1000)))
    registry.register(_NOTIFICATION_FAILURES)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition of ``registry``, as Prometheus scrapes it."""
    return generate_latest(registry)


def allowed_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``metrics_allow``: comma-separated addresses or networks (``10.0.0.5``, ``10.1.0.0/16``, ``::1``)."""
    networks = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"metrics_allow: '{item}' is not an address or network (like 10.0.0.5 or "
                "10.1.0.0/16); fix SUDOLESS_METRICS_ALLOW or config.toml"
            ) from None
    return tuple(networks)


def _may_read(
    services: Services, request: Request, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and any(address in net for net in networks):
        return True
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else request.cookies.get(sessions.COOKIE, "")
    user = services.accounts.session_user(token) if token else None
    if user is None:
        return False
    if user.scope is None:
        return user.is_admin
    # An API token (it never carries ADMIN itself): READ on every project, made by an admin.
    return Permission.READ in user.scope.everywhere and services.accounts.get_user(user.name).is_admin


async def metrics(request: Request) -> Response:
    """``GET /metrics`` (see the module docstring for who may read it)."""
    services: Services = request.app.state.services

    def answer() -> Response:
        if not _may_read(services, request, request.app.state.metrics_allow):
            return Response(
                b"metrics need an admin session or an address in metrics_allow\n",
                status_code=403,
                media_type="text/plain",
            )
        return Response(render(request.app.state.metrics), media_type=CONTENT_TYPE)

    return await run_in_threadpool(answer)


async def healthz(request: Request) -> Response:
    """``GET /healthz``: 200 when the database answers and the scheduler is alive, 503 otherwise."""
    services: Services = request.app.state.services

    def healthy() -> bool:
        try:
            services.store.ping()
        except Exception:
            log.warning("healthz: the database does not answer", exc_info=True)
            return False
        return services.scheduler.alive()

    ok = await run_in_threadpool(healthy)
    return Response(
        b"ok\n" if ok else b"unavailable\n",
        status_code=200 if ok else 503,
        media_type="text/plain",
        headers={"Cache-Control": "no-store"},
    )
