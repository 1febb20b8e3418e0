"""``/manager`` (Azkaban's ProjectManagerServlet): its route table, and the life cycle of projects (create,
upload, delete, purge, download, pages); what a project holds (flows, graphs, jobs, executions, audit log,
permissions) is answered by :mod:`sudoless.server.ajax.project_details`.

Every ``ajax`` answer carries ``project`` and, when the project exists, ``projectId``. A POST with neither
``ajax`` nor ``action`` answers an empty 200: that is how the ``azkaban`` client checks that its session
is still valid.
"""

from __future__ import annotations

import shutil
import tempfile
from html import escape
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sudoless.accounts import Permission
from sudoless.errors import ArchiveError, InputError, ProjectError, StateError, SudolessError
from sudoless.flows import projects as lifecycle
from sudoless.server import flash, pages
from sudoless.server.ajax import project_details as details
from sudoless.server.ajax.project_details import current_flows, reply_for
from sudoless.server.dispatch import GET, POST, Call, Route, Servlet, Target
from sudoless.server.params import Params
from sudoless.server.responses import compact_json, json_response

__all__ = ["MANAGER"]

READ, WRITE, ADMIN = Permission.READ, Permission.WRITE, Permission.ADMIN
ZIP_TYPES = ("application/zip", "application/x-zip-compressed", "application/octet-stream")


def select(request: Request, params: Params) -> str:
    if request.method == "GET":
        if "project" not in params:
            return "page:none"
        if "ajax" in params:
            return f"ajax:{params.get('ajax')}"
        for flag in ("delete", "purge", "download"):
            if flag in params:
                return flag
        return "page:project"
    if params.multipart:
        if params.get("ajax") == "upload":
            return "upload"
        if params.get("action") == "upload":
            return "upload:form"
        return "multipart"
    if "action" in params:
        return f"action:{params.get('action')}"
    if "ajax" in params and "project" in params:
        return f"ajax:{params.get('ajax')}"
    return "post"


# -- lookups and refusals ------------------------------------------------------------------------------------


def locate(call: Call) -> Target | Response:
    name = call.params.required("project")
    project = call.store.projects.get(name=name)
    if project is None:
        return json_response({"project": name, "error": f"Project {name} doesn't exist."})
    return Target(project=project)


def denied(call: Call, target: Target, perm: Permission) -> Response:
    assert target.project is not None
    return reply_for(target.project, {"error": f"Permission denied. Need {perm.name} access."})


def fallback(call: Call) -> Response:
    if call.key.startswith("ajax:"):
        found = locate(call)
        if isinstance(found, Response):
            return found
        assert found.project is not None
        return reply_for(found.project, {"error": f"Cannot execute command {call.params.get('ajax')}"})
    if call.key == "multipart":
        return json_response({})
    return Response(b"")


def create(call: Call) -> Response:
    name = call.params.get("name")
    try:
        project_id = lifecycle.create_project(call.store, name, call.params.get("description"), call.user.name)
        call.accounts.grant_creator(project_id, call.user)
    except (InputError, StateError) as exc:
        body = {"status": "error", "message": str(exc)}
    else:
        body = {"status": "success", "path": f"manager?project={name}", "action": "redirect"}
    # Azkaban writes this answer with a plain writer: compact, and without a JSON content type.
    return Response(compact_json(body).encode())


# -- upload --------------------------------------------------------------------------------------------------


def locate_upload(call: Call) -> Target | Response:
    name = call.params.get("project")
    if not name:
        return json_response({"error": "No project name found."}, status=400)
    project = call.store.projects.get(name=name) or call.store.projects.get(name=name, active_only=False)
    if project is None or not project.active:
        cause = "doesn't exist." if project is None else "was already removed."
        return json_response({"error": f"Installation Failed. Project '{name} {cause}"}, status=410)
    return Target(project=project)


def upload_denied(call: Call, target: Target, perm: Permission) -> Response:
    return json_response(
        {"error": f"Installation Failed. User '{call.user.name}' does not have write access."}, status=400
    )


def _archive_name(filename: str) -> str:
    """A safe local file name for an uploaded zip: no path, no odd characters, short enough for the file
    system (255 bytes) and for the ``file_name`` column (255 characters)."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name).lstrip(".")
    if len(safe) > 200:
        safe = safe[:196] + ".zip"
    return safe or "project.zip"


def store_upload(call: Call) -> tuple[dict[str, str], int]:
    """Validate and store the uploaded zip; Azkaban's answer and HTTP status."""
    project = call.project
    upload = call.params.file("file")
    if upload is None:
        return {"error": "Installation Failed. No file in the 'file' field."}, 400
    filename = upload.filename or ""
    extension = filename.rsplit(".", 1)[1] if "." in filename else ""
    if extension.lower() != "zip":
        return {"error": f"File extension '{extension}' unrecognized."}, 400
    content_type = upload.content_type or ""
    if not content_type.lower().startswith(ZIP_TYPES):
        return {"error": f"Content type '{content_type}' does not match extension 'zip'"}, 400
    body = {"projectId": str(project.id)}
    scratch = Path(tempfile.mkdtemp(prefix="sudoless-upload-"))
    try:
        archive = scratch / _archive_name(filename)
        with open(archive, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, 1 << 20)
        version, loaded = lifecycle.upload_archive(
            call.store, call.settings, call.scheduler, project, archive, call.user.name
        )
        body["version"] = str(version)
        if loaded.warnings:
            body["warn"] = "Validator Directory Flow reports warnings:<br><br>" + "<br>".join(loaded.warnings)
        return body, 200
    except ArchiveError as exc:
        error = _truncate(str(exc), 512)
        body.update(error=f"Installation Failed.<br>{error}", version=str(project.version))
    except ProjectError as exc:
        error = f"Validator Directory Flow reports errors:<br><br>{exc}<br>"
        body.update(error=error[:4000], version=str(project.version))
    except SudolessError as exc:
        body.update(error=f"Installation Failed.<br>{_truncate(str(exc), 512)}", version=str(project.version))
    except OSError as exc:  # the disk, not the project: say what, without the server's paths
        body.update(
            error=f"Installation Failed.<br>could not store the upload: {exc.strerror or type(exc).__name__}",
            version=str(project.version),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # The upload was unpacked under a temporary folder: no message may show where that is.
    body["error"] = body["error"].replace(str(scratch.resolve()), "").replace(str(scratch), "")
    return body, 500


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "<br>Too many errors to display.<br>"


def upload(call: Call) -> Response:
    body, status = store_upload(call)
    return json_response(body, status=status)


def locate_upload_form(call: Call) -> Target | Response:
    found = locate_upload(call)
    if isinstance(found, Response):
        name = call.params.get("project") or ""
        return flash.redirect("/index", "error", f"Installation Failed. Project '{name}' doesn't exist.")
    return found


def upload_form_denied(call: Call, target: Target, perm: Permission) -> Response:
    assert target.project is not None
    return flash.redirect(
        f"/manager?project={quote(target.project.name)}",
        "error",
        f"Installation Failed. User '{call.user.name}' does not have write access.",
    )


def upload_form(call: Call) -> Response:
    """``action=upload`` from an HTML form: the same work, answered by a redirect with a message."""
    body, _ = store_upload(call)
    location = f"/manager?project={quote(call.project.name)}"
    if "error" in body:
        return flash.redirect(location, "error", body["error"])
    return flash.redirect(location, "success", f"Uploaded version {body['version']}.")


# -- delete, purge, download, pages --------------------------------------------------------------------------


def locate_or_redirect(call: Call) -> Target | Response:
    name = call.params.required("project")
    project = call.store.projects.get(name=name)
    if project is None:
        return flash.redirect("/", "error", f"Project {name} doesn't exist.")
    return Target(project=project)


def delete_denied(call: Call, target: Target, perm: Permission) -> Response:
    assert target.project is not None
    return flash.redirect(
        f"/manager?project={quote(target.project.name)}",
        "error",
        f"Cannot delete. User '{call.user.name}' is not an ADMIN.",
    )


def delete(call: Call) -> Response:
    project = call.project
    lifecycle.delete_project(call.store, call.scheduler, project, call.user.name)
    return flash.redirect(
        "/", "success", f"Project '{project.name}' was successfully deleted and associated schedules are removed."
    )


def locate_purge(call: Call) -> Target | Response:
    value = call.params.required("project")
    if value.isdecimal():  # a project id (Azkaban's StringUtils.isNumeric, then Integer.parseInt)
        if int(value) >= 1 << 31:
            return json_response({"error": f'For input string: "{value[:100]}"', "success": False})
        project = call.store.projects.get(project_id=int(value), active_only=False)
    else:
        project = call.store.projects.get(name=value, active_only=False)
    if project is None:
        return json_response({"error": "invalid project", "success": False})
    return Target(project=project)


def purge_denied(call: Call, target: Target, perm: Permission) -> Response:
    return json_response({"error": f"Cannot purge. User '{call.user.name}' is not an ADMIN.", "success": False})


def purge(call: Call) -> Response:
    try:
        lifecycle.purge_project(call.store, call.project, call.user.name)
    except StateError as exc:
        return json_response({"error": str(exc), "success": False})
    return json_response({"success": True})


def download_denied(call: Call, target: Target, perm: Permission) -> Response:
    assert target.project is not None
    return flash.redirect("/", "error", f"No permission to download project {target.project.name}.")


def download(call: Call) -> Response:
    project = call.project
    version = call.params.integer("version") if "version" in call.params else project.version
    record = call.store.projects.version(project.id, version)
    if record is None:
        return flash.redirect("/", "error", f"Project {project.name} with version {version} doesn't exist")
    headers = {
        "Content-Disposition": f'attachment; filename="{record.file_name}"',
        "version": str(version),
        "projectId": str(project.id),
        "Content-Length": str(record.size),
    }
    return StreamingResponse(
        call.store.projects.iter_archive(project.id, version), media_type="application/zip", headers=headers
    )


def locate_page(call: Call) -> Target | Response:
    name = call.params.required("project")
    project = call.store.projects.get(name=name)
    if project is None:
        return pages.message_page("Project", f"Project {name} not found.")
    return Target(project=project)


def page_denied(call: Call, target: Target, perm: Permission) -> Response:
    assert target.project is not None
    return pages.message_page("Project", f"No permission to view project {target.project.name}.")


def project_page(call: Call) -> Response:
    project = call.project
    flows = sorted(fid for fid, record in current_flows(call).items() if not record.embedded)
    rows = [(fid,) for fid in flows]
    intro = (
        f"<p>{escape(project.description)}</p>\n<p>Version {project.version}, last modified by "
        f"{escape(project.modified_by)}.</p>\n"
    )
    messages = flash.take_messages(call.request)
    response = pages.table_page(f"Project {project.name}", ["flow"], rows, intro, messages)
    flash.clear_messages(call.request, response)
    return response


def no_project_page(call: Call) -> Response:
    return pages.message_page("Project", "No project set.")


MANAGER = Servlet.build(
    "/manager",
    select,
    [
        Route("ajax:getProjectId", details.get_project_id, READ),
        Route("ajax:fetchprojectflows", details.fetch_project_flows, READ),
        Route("ajax:fetchflowgraph", details.fetch_flow_graph, READ),
        Route("ajax:fetchflowjobs", details.fetch_flow_jobs, READ),
        Route("ajax:fetchflowdetails", details.fetch_flow_details, READ),
        Route("ajax:fetchflownodedata", details.fetch_flow_node_data, READ),
        Route("ajax:fetchJobInfo", details.fetch_job_info, READ),
        Route("ajax:fetchFlowExecutions", details.fetch_flow_executions, READ),
        Route("ajax:fetchLastSuccessfulFlowExecution", details.fetch_last_successful, READ),
        Route("ajax:fetchProjectLogs", details.fetch_project_logs, READ),
        Route("ajax:getPermissions", details.get_permissions, READ),
        Route("ajax:getGroupPermissions", details.get_group_permissions, READ),
        Route("ajax:getProxyUsers", details.get_proxy_users, READ),
        Route("ajax:checkForWritePermission", details.check_for_write_permission, READ),
        Route("ajax:isFlowLocked", details.is_flow_locked, READ),
        Route("ajax:changeDescription", details.change_description, WRITE, changes_state=True),
        Route("ajax:addPermission", details.add_permission, ADMIN, changes_state=True),
        Route("ajax:changePermission", details.change_permission, ADMIN, changes_state=True),
        Route("ajax:addProxyUser", details.add_proxy_user, ADMIN, changes_state=True),
        Route("ajax:removeProxyUser", details.remove_proxy_user, ADMIN, changes_state=True),
        Route("ajax:setJobOverrideProperty", details.set_job_override_property, WRITE, changes_state=True),
        Route("ajax:setFlowLock", details.set_flow_lock, ADMIN, changes_state=True),
        Route("ajax:getSandboxGrants", details.get_sandbox_grants, READ),
        Route("ajax:setSandboxGrants", details.set_sandbox_grants, ADMIN, changes_state=True),
        Route("action:create", create, methods=POST, changes_state=True),
        Route("upload", upload, WRITE, locate=locate_upload, denied=upload_denied, methods=POST, changes_state=True),
        Route(
            "upload:form",
            upload_form,
            WRITE,
            locate=locate_upload_form,
            denied=upload_form_denied,
            methods=POST,
            changes_state=True,
        ),
        Route(
            "delete", delete, ADMIN, locate=locate_or_redirect, denied=delete_denied, methods=GET, changes_state=True
        ),
        Route("purge", purge, ADMIN, locate=locate_purge, denied=purge_denied, methods=GET, changes_state=True),
        Route("download", download, READ, locate=locate_or_redirect, denied=download_denied, methods=GET),
        Route("page:project", project_page, READ, locate=locate_page, denied=page_denied, methods=GET),
        Route("page:none", no_project_page, methods=GET),
    ],
    fallback,
    locate=locate,
    denied=denied,
)
