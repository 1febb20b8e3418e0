"""Flow-level retry: Azkaban's automatic new execution of a flow that ended in a status its user listed.

Azkaban reads these flow parameters (``flowOverride[...]`` of executeFlow, the ``ROOT`` runtime
properties here; sudoless also takes them from the flow's own properties, a Flow 2.0 ``config`` or a
Flow 1.0 ``.properties`` file, when the request does not set them):

``flow.retry.statuses``                 the end statuses that trigger a retry (``FAILED``, ``KILLED``,
                                        ``EXECUTION_STOPPED``), comma-separated
``allow.restart.on.execution.stopped``  ``true`` adds ``EXECUTION_STOPPED`` (the older spelling)
``flow.max.retries``                    how many retries in all (default 1 once a status is listed)
``flow.retry.strategy``                 ``retryAsNew`` (default): the whole flow again;
                                        ``disableSucceededNodes``: only what did not succeed, as a restart

Each retry is a new execution with the same options, linked to the first (``retry_root``), to the one it
retries (``retry_parent``), which in turn names it (``retry_child``): fetchexecflow's ``retries``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sudoless.config import Settings
from sudoless.errors import SudolessError
from sudoless.flows.executions import submit_flow, succeeded_nodes
from sudoless.flows.options import ExecutionOptions
from sudoless.store import Store
from sudoless.store.status import Status

log = logging.getLogger(__name__)

STATUSES_KEY = "flow.retry.statuses"
STOPPED_KEY = "allow.restart.on.execution.stopped"
MAX_KEY = "flow.max.retries"
STRATEGY_KEY = "flow.retry.strategy"
STRATEGIES = ("retryAsNew", "disableSucceededNodes")
#: the end statuses a retry may follow (Azkaban's restartable terminal statuses)
RETRYABLE = frozenset({Status.FAILED, Status.KILLED, Status.EXECUTION_STOPPED})


@dataclass(frozen=True)
class RetryRule:
    statuses: frozenset[str]
    max_retries: int
    strategy: str

    def to_json(self, options: ExecutionOptions, exec_id: int) -> dict[str, object]:
        """fetchexecflow's ``retries`` object for execution ``exec_id``."""
        return {
            "allowedStatuses": ",".join(sorted(self.statuses)),
            "userDefinedMax": self.max_retries,
            "userDefinedCount": options.retry_count,
            "systemDefinedCount": 0,
            "rootExecutionID": options.retry_root if options.retry_root is not None else exec_id,
            "parentExecutionID": options.retry_parent if options.retry_parent is not None else -1,
            "childExecutionID": options.retry_child if options.retry_child is not None else -1,
        }


def retry_rule(options: ExecutionOptions, flow_props: Mapping[str, str]) -> RetryRule | None:
    """The retry rule of an execution, or None when it asks for none. A value that cannot be read counts as
    no retry (a job's failure must not turn into an engine error at the end of the flow)."""
    root = options.runtime.get("ROOT", {})

    def value(key: str) -> str:
        return str(root.get(key, flow_props.get(key, ""))).strip()

    statuses = {s.strip().upper() for s in value(STATUSES_KEY).split(",") if s.strip()}
    if value(STOPPED_KEY).lower() == "true":
        statuses.add(Status.EXECUTION_STOPPED.value)
    if not statuses:
        return None
    try:
        max_retries = int(value(MAX_KEY) or "1")
    except ValueError:
        log.warning("%s=%r is not a number: no flow retry", MAX_KEY, value(MAX_KEY))
        return None
    strategy = value(STRATEGY_KEY) or STRATEGIES[0]
    if strategy not in STRATEGIES:
        log.warning("%s=%r is not one of %s: retrying as new", STRATEGY_KEY, strategy, ", ".join(STRATEGIES))
        strategy = STRATEGIES[0]
    return RetryRule(frozenset(statuses), max_retries, strategy)


def retry_if_asked(
    store: Store, settings: Settings, exec_id: int, status: Status, flow_props: Mapping[str, str] | None = None
) -> int | None:
    """Submit the retry of execution ``exec_id``, which ended ``status``, when its rule asks for one; the new
    execution's id, or None. Called where an execution ends: its runner, or the finalising of an execution
    whose executor died (``EXECUTION_STOPPED``). ``flow_props`` default to the stored flow's."""
    record = store.executions.get(exec_id)
    options = ExecutionOptions.from_json(record.options)
    if flow_props is None:
        stored = store.projects.flow_records(record.project_id, record.version).get(record.flow_id)
        flow_props = (stored.graph.get("props") or {}) if stored else {}
    rule = retry_rule(options, flow_props)
    if rule is None or status not in RETRYABLE or status.value not in rule.statuses:
        return None
    if options.retry_count >= rule.max_retries:
        log.info("execution %d ended %s: its %d flow retries are used up", exec_id, status.value, rule.max_retries)
        return None
    root = options.retry_root if options.retry_root is not None else exec_id
    retry = replace(
        options,
        retry_count=options.retry_count + 1,
        retry_root=root,
        retry_parent=exec_id,
        retry_child=None,
        pipeline_execution=None,
        reuse_outputs_from=None,
    )
    disabled: list[str] = list(options.disabled)
    restarted_from = None
    if rule.strategy == "disableSucceededNodes":
        disabled = sorted({*disabled, *succeeded_nodes(store, exec_id)})
        retry = replace(retry, reuse_outputs_from=exec_id)
        restarted_from = exec_id
    try:
        child = submit_flow(
            store,
            settings,
            record.project_name,
            record.flow_id,
            retry,
            record.submit_user,
            source=record.source,
            disabled=disabled,
            version=record.version,
            restarted_from=restarted_from,
        )
    except SudolessError as exc:  # a locked flow, a run cap, a removed project: the retry cannot happen
        log.warning("execution %d ended %s; its flow retry was not submitted: %s", exec_id, status.value, exc)
        return None
    # The parent names its child; its other keys (an SLA checker's bookkeeping) are kept as they are.
    parent_options = dict(store.executions.get(exec_id).options)
    parent_options["retry_child"] = child
    store.executions.update(exec_id, options=json.dumps(parent_options))
    log.info(
        "execution %d ended %s: flow retry %d of %d is execution %d (%s)",
        exec_id,
        status.value,
        options.retry_count + 1,
        rule.max_retries,
        child,
        rule.strategy,
    )
    return child
