"""The AJAX API surface, pinned: every route of every servlet with the permission checked before its
handler runs, and whether it changes state (then a cookie session needs CSRF protection). Adding,
removing or loosening a route must change this table."""

from __future__ import annotations

from sudoless.server.app import SERVLETS
from sudoless.server.dispatch import Route

# "-" = any logged-in user (answers are filtered by READ where they list projects or schedules);
# "@global" = a global role must hold the permission; "*" = the route changes state.
EXPECTED = {
    ("/", "redirect"): "-",
    ("/index", "ajax:fetchallprojects"): "-",
    ("/index", "ajax:fetchuserprojects"): "-",
    ("/index", "page"): "-",
    ("/manager", "ajax:getProjectId"): "READ",
    ("/manager", "ajax:fetchprojectflows"): "READ",
    ("/manager", "ajax:fetchflowgraph"): "READ",
    ("/manager", "ajax:fetchflowjobs"): "READ",
    ("/manager", "ajax:fetchflowdetails"): "READ",
    ("/manager", "ajax:fetchflownodedata"): "READ",
    ("/manager", "ajax:fetchJobInfo"): "READ",
    ("/manager", "ajax:fetchFlowExecutions"): "READ",
    ("/manager", "ajax:fetchLastSuccessfulFlowExecution"): "READ",
    ("/manager", "ajax:fetchProjectLogs"): "READ",
    ("/manager", "ajax:getPermissions"): "READ",
    ("/manager", "ajax:getGroupPermissions"): "READ",
    ("/manager", "ajax:getProxyUsers"): "READ",
    ("/manager", "ajax:checkForWritePermission"): "READ",
    ("/manager", "ajax:isFlowLocked"): "READ",
    ("/manager", "ajax:changeDescription"): "WRITE*",
    ("/manager", "ajax:addPermission"): "ADMIN*",
    ("/manager", "ajax:changePermission"): "ADMIN*",
    ("/manager", "ajax:addProxyUser"): "ADMIN*",
    ("/manager", "ajax:removeProxyUser"): "ADMIN*",
    ("/manager", "ajax:setJobOverrideProperty"): "WRITE*",
    ("/manager", "ajax:setFlowLock"): "ADMIN*",
    # sudoless's own: per-project sandbox grants (setting them also needs the server admin role)
    ("/manager", "ajax:getSandboxGrants"): "READ",
    ("/manager", "ajax:setSandboxGrants"): "ADMIN*",
    ("/manager", "action:create"): "-*",
    ("/manager", "upload"): "WRITE*",
    ("/manager", "upload:form"): "WRITE*",
    ("/manager", "delete"): "ADMIN*",
    ("/manager", "purge"): "ADMIN*",
    ("/manager", "download"): "READ",
    ("/manager", "page:project"): "READ",
    ("/manager", "page:none"): "-",
    ("/executor", "ajax:executeFlow"): "EXECUTE*",
    ("/executor", "ajax:cancelFlow"): "EXECUTE*",
    ("/executor", "ajax:pauseFlow"): "EXECUTE*",
    ("/executor", "ajax:resumeFlow"): "EXECUTE*",
    ("/executor", "ajax:retryFailedJobs"): "EXECUTE*",
    ("/executor", "ajax:getRunning"): "EXECUTE",
    ("/executor", "ajax:fetchexecflow"): "READ",
    ("/executor", "ajax:fetchexecflowupdate"): "READ",
    ("/executor", "ajax:fetchExecFlowLogs"): "READ",
    ("/executor", "ajax:fetchExecJobLogs"): "READ",
    ("/executor", "ajax:fetchExecJobStats"): "READ",
    ("/executor", "ajax:flowInfo"): "READ",
    ("/executor", "ajax:fetchscheduledflowgraph"): "EXECUTE",
    ("/executor", "ajax:reloadExecutors"): "ADMIN@global*",
    ("/executor", "ajax:enableQueueProcessor"): "ADMIN@global*",
    ("/executor", "ajax:disableQueueProcessor"): "ADMIN@global*",
    ("/executor", "page:executions"): "-",
    ("/executor", "page:execution"): "READ",
    ("/schedule", "ajax:scheduleCronFlow"): "SCHEDULE*",
    ("/schedule", "action:scheduleCronFlow"): "SCHEDULE*",
    ("/schedule", "ajax:scheduleFlow"): "SCHEDULE*",
    ("/schedule", "action:scheduleFlow"): "SCHEDULE*",
    ("/schedule", "action:removeSched"): "SCHEDULE*",
    ("/schedule", "ajax:fetchSchedule"): "READ",
    # flow triggers: reading needs READ (Azkaban checks nothing), pausing ADMIN, killing an instance EXECUTE
    ("/flowtrigger", "ajax:fetchTrigger"): "READ",
    ("/flowtrigger", "ajax:fetchTriggers"): "-",
    ("/flowtrigger", "ajax:pauseTrigger"): "ADMIN*",
    ("/flowtrigger", "ajax:resumeTrigger"): "ADMIN*",
    ("/flowtrigger", "page"): "-",
    ("/flowtriggerinstance", "ajax:fetchRunningTriggers"): "-",
    ("/flowtriggerinstance", "ajax:fetchTriggerInstances"): "READ",
    ("/flowtriggerinstance", "ajax:fetchTriggerStatus"): "READ",
    ("/flowtriggerinstance", "ajax:showTriggerProperties"): "READ",
    ("/flowtriggerinstance", "ajax:killRunningTrigger"): "EXECUTE*",
    ("/flowtriggerinstance", "page"): "-",
    ("/history", "ajax:fetch"): "-",
    ("/history", "page"): "-",
    ("/schedule", "ajax:fetchSchedules"): "-",
    ("/schedule", "ajax:loadFlow"): "-",
    ("/schedule", "ajax:setSla"): "SCHEDULE*",
    ("/schedule", "ajax:slaInfo"): "READ",
    ("/schedule", "page"): "-",
    ("/status", "status"): "-",
}


def describe(route: Route) -> str:
    perm = route.permission.name if route.permission is not None else "-"
    return perm + ("@global" if route.global_scope else "") + ("*" if route.changes_state else "")


def test_route_table_is_pinned() -> None:
    actual = {(servlet.path, key): describe(route) for servlet in SERVLETS for key, route in servlet.routes.items()}
    assert actual == EXPECTED


def test_only_status_is_public() -> None:
    assert [servlet.path for servlet in SERVLETS if servlet.public] == ["/status"]
